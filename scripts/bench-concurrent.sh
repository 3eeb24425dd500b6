#!/usr/bin/env bash
# Concurrent applies: how long a second apply, started while a first one
# trains, takes to start its own run when the compute has a free slot
# (from the command's start to its run_started event), beside the same
# apply when no other runs (the peer). N rounds each (default 10); the
# medians and their ratio are printed.
#
#   scripts/bench-concurrent.sh [N]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10}
work=$(mktemp -d)
trap 'touch "$work/p/go.txt"; wait 2>/dev/null; rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/trainrun" ./cmd/trainrun)
mkdir -p "$work/p/srca" "$work/p/srcb"
cat > "$work/p/trainrun.hcl" <<'HCL'
compute "local" "here" {
  max_runs = 2
}

experiment "a" {
  compute    = compute.here
  source_dir = "srca"
  shell      = "true"
}

experiment "b" {
  compute    = compute.here
  source_dir = "srcb"
  command    = ["sh", "b.sh", path.root]
}
HCL
echo 'touch "$1/b-started"; while [ ! -f "$1/go.txt" ]; do sleep 0.05; done' > "$work/p/srcb/b.sh"
cd "$work/p"
tr="$work/trainrun"

# ms from its start to the first run_started event of one apply of a.
start_ms() {
	local t0 line
	t0=$(date +%s%N)
	while IFS= read -r line; do
		case $line in *'"type":"run_started"'*)
			echo $(( ($(date +%s%N) - t0) / 1000000 ))
			cat >/dev/null
			return
		esac
	done < <("$tr" apply -auto-approve -json -target experiment.a -replace experiment.a 2>&1)
	echo "no run started" >&2; exit 1
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

"$tr" apply -auto-approve -target experiment.a >/dev/null  # warm: the store holds a's snapshot
alone=$(for _ in $(seq "$n"); do start_ms; done | median)

"$tr" apply -auto-approve -target experiment.b >/dev/null 2>&1 &
while [ ! -f b-started ]; do sleep 0.05; done
beside=$(for _ in $(seq "$n"); do start_ms; done | median)
touch go.txt
wait

echo "second apply starts its run: ${beside} ms while another apply trains, ${alone} ms alone (median of $n)"
awk -v a="$alone" -v b="$beside" 'BEGIN { if (a > 0) printf "ratio beside/alone: %.2f\n", b / a }'
