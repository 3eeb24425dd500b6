#!/usr/bin/env bash
# What a cached environment costs an apply, measured beside the same project
# without one, in one hyperfine run so that the difference holds on a noisy
# machine. Target: a venv adds at most 20 ms to the second apply.
#
#   scripts/bench-env.sh
#
# Needs hyperfine and Debian's python3-venv (installs them when missing, as
# root).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin/trainrun"
# Always built: a bin/trainrun left from an earlier build would time old code.
(cd "$root" && go build -o bin/trainrun ./cmd/trainrun)

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		echo "bench-env: missing ${missing[*]}; install them" >&2
		exit 1
	fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# project NAME ENVIRONMENT-BLOCK ENVIRONMENT-ATTRIBUTE
project() {
	mkdir -p "$work/$1/src"
	echo 'true' >"$work/$1/src/run.sh"
	cat >"$work/$1/trainrun.hcl" <<HCL
compute "local" "here" {}
$2
experiment "e" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh"]
  $3
}
HCL
	"$bin" -chdir="$work/$1" apply -auto-approve >/dev/null
}
project none "" ""
project venv 'environment "venv" "v" {
  python               = "/usr/bin/python3"
  system_site_packages = true
}' 'environment = environment.v'
project host 'environment "host" "h" {
  python = "/usr/bin/python3"
}' 'environment = environment.h'

echo "== second apply (nothing to do): no environment, a cached venv, a host environment"
hyperfine -N --warmup 5 --runs 40 --export-json "$work/noop.json" \
	-n "no environment" "$bin -chdir=$work/none apply -auto-approve" \
	-n "cached venv" "$bin -chdir=$work/venv apply -auto-approve" \
	-n "host environment" "$bin -chdir=$work/host apply -auto-approve"

echo "== apply that runs the run again (-replace): the venv is checked on the compute, not rebuilt"
hyperfine -N --warmup 3 --runs 30 --export-json "$work/replace.json" \
	-n "no environment" "$bin -chdir=$work/none apply -auto-approve -replace experiment.e" \
	-n "cached venv" "$bin -chdir=$work/venv apply -auto-approve -replace experiment.e" \
	-n "host environment" "$bin -chdir=$work/host apply -auto-approve -replace experiment.e"

python3 - "$work/noop.json" "$work/replace.json" <<'PY'
import json, sys
for path, what in zip(sys.argv[1:], ["second apply", "apply -replace"]):
    r = {x["command"]: x for x in json.load(open(path))["results"]}
    base = r["no environment"]["median"]
    for name in ("cached venv", "host environment"):
        d = (r[name]["median"] - base) * 1000
        verdict = "" if name != "cached venv" else ("  (target ≤ 20 ms: " + ("met" if d <= 20 else "MISSED") + ")")
        print(f"{what}: {name} adds {d:+.1f} ms over no environment (medians {r[name]['median']*1000:.1f} vs {base*1000:.1f} ms){verdict}")
PY
