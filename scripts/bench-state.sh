#!/usr/bin/env bash
# State that scales: the commands that read the record of runs, with 10,000
# and 100,000 recorded trivial runs. internal/benchproject writes the runs
# through the state package (seconds, not the hours of running them), each
# instance's newest with the fingerprint its configuration has now, so that
# plan is a no-op. Each command runs 5 times; the medians of wall time and
# of CPU time (user + system) are printed, and the peak RSS. Then a real
# apply of 200 trivial local runs gives what a run leaves on disk under
# .trainrun/ (du, so directories and blocks count).
#
#   scripts/bench-state.sh [INSTANCES/RUNS ...]
#
# Default: 10000/10000 (a 10,000-point sweep run once), 1000/100000 (a
# 1000-point sweep run 100 times) and 10000/100000 (10 times). The targets
# at 100,000 runs: each command under 300 ms and 300 MB; 8 KB per run on
# disk. On a loaded machine the CPU time is the figure to trust.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/trainrun" ./cmd/trainrun && go build -o "$work/benchproject" ./internal/benchproject)
[ -x /usr/bin/time ] || { echo "bench-state: needs GNU time (/usr/bin/time: apt-get install time)" >&2; exit 1; }
tr="$work/trainrun"

# measure NAME ARGS...: median wall and CPU ms of 5 runs, peak RSS in MB.
measure() {
	local name=$1
	shift
	: >"$work/times"
	for _ in 1 2 3 4 5; do
		/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$tr" "$@" >/dev/null 2>"$work/err" ||
			{ echo "bench-state: trainrun $*: $(cat "$work/err")" >&2; exit 1; }
		awk '{ print $1 * 1000, ($2 + $3) * 1000, $4 / 1024 }' "$work/time" >>"$work/times"
	done
	printf '  %-16s %6.0f ms wall  %6.0f ms CPU  %5.0f MB RSS\n' "$name" \
		"$(cut -d' ' -f1 "$work/times" | sort -n | sed -n 3p)" \
		"$(cut -d' ' -f2 "$work/times" | sort -n | sed -n 3p)" \
		"$(cut -d' ' -f3 "$work/times" | sort -n | tail -1)"
}

for spec in "${@:-10000/10000 1000/100000 10000/100000}"; do
	for s in $spec; do
		instances=${s%/*} runs=${s#*/}
		p="$work/p-$instances-$runs"
		"$work/benchproject" -instances "$instances" -runs "$runs" "$p"
		# A run of the history when there is one: the instances' latest runs
		# are the newest, so the one after them.
		old=$("$tr" -chdir="$p" runs -json -limit $((instances + 1)) | grep '"id"' | tail -1 | cut -d'"' -f4)
		echo "$runs runs recorded over $instances instances ($(du -sk "$p/.trainrun" | cut -f1) KB under .trainrun/):"
		measure "status" -chdir="$p" status
		measure "status -json" -chdir="$p" status -json
		measure "runs -limit 50" -chdir="$p" runs -limit 50
		measure "show RUN" -chdir="$p" show "$old"
		measure "plan (no-op)" -chdir="$p" plan
		rm -rf "$p"
	done
done

# What a trivial run leaves on disk: 200 of them applied for real.
p="$work/real"
mkdir -p "$p/src"
echo 'echo "$1" > /dev/null' >"$p/src/run.sh"
cat >"$p/trainrun.hcl" <<'HCL'
compute "local" "here" {
  max_runs = 2
}
experiment "trivial" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", param.i]
  sweep {
    grid = { i = range(200) }
  }
}
HCL
"$tr" -chdir="$p" apply -auto-approve >/dev/null
# The journal holds each run's three records (pending, running, ended) until
# it is compacted, past 4096 records, into a record per run.
kb=$(du -sk "$p/.trainrun" | cut -f1)
echo "200 trivial local runs applied: $kb KB under .trainrun/, $((kb / 200)) KB per run"
(cd "$p/.trainrun" && du -sk -- * | sort -rn | head -5 | sed 's/^/  /')
