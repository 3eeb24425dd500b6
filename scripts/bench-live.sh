#!/usr/bin/env bash
# Following live metrics at scale: RUNS local runs (default 1000), each
# writing a metric line every 100 ms for SECS seconds (default 30), in one
# sweep whose median-stopping policy looks at every line (all runs report
# the same value, so none is stopped and all stay live). Reports the CPU
# trainrun itself used while they ran (from /proc, its runs not included),
# how far behind the runs trainrun's reading was (the age of a run's latest
# line when trainrun had read it, from apply -json's run_metrics events),
# and whether every line was read.
#
#   scripts/bench-live.sh [RUNS [SECS]]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-1000}
secs=${2:-30}
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT; echo "work: $work" >&2
(cd "$root" && go build -o "$work/trainrun" ./cmd/trainrun)

# The writer: a line every 100 ms, its time in it, as a training loop would.
mkdir -p "$work/writer"
cat > "$work/writer/main.go" <<'GO'
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	f, err := os.OpenFile(os.Getenv("TRAINRUN_METRICS_FILE"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		panic(err)
	}
	t := time.NewTicker(100 * time.Millisecond)
	for i := 1; i <= n; i++ {
		<-t.C
		now := float64(time.Now().UnixNano()) / 1e9
		fmt.Fprintf(f, "{\"name\":\"val_loss\",\"value\":1,\"step\":%d,\"time\":%.6f}\n", i, now)
	}
}
GO
(cd "$work/writer" && cat > go.mod <<'MOD'
module writer

go 1.21
MOD
go build -o "$work/write" .)

# POLICY=none follows the metrics without a policy.
policy='    early_stopping {
      policy = "median"
      metric = "val_loss"
      goal   = "minimize"
    }'
[ "${POLICY:-median}" = none ] && policy=
mkdir -p "$work/p/src"
echo 'exec "$1" "$2"' > "$work/p/src/run.sh"
cat > "$work/p/trainrun.hcl" <<HCL
compute "local" "here" {
  max_runs = $runs
}
experiment "live" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", "$work/write", "$((secs * 10))"]
  sweep {
    grid = { i = range($runs) }
$policy
  }
}
HCL
"$work/trainrun" -chdir="$work/p" apply -auto-approve -json -parallelism "$runs" > "$work/events" &
pid=$!
tick=$(getconf CLK_TCK)
cpu=0
start=$(date +%s.%N)
while kill -0 "$pid" 2>/dev/null; do
	if s=$(cat "/proc/$pid/stat" 2>/dev/null); then
		set -- ${s##*) }
		cpu=$(( ${12} + ${13} )) # utime + stime, in ticks
	fi
	sleep 0.5
done
wait "$pid" || true
end=$(date +%s.%N)
python3 - "$work/events" "$work/p/.trainrun/runs" "$runs" "$((secs * 10))" "$cpu" "$tick" "$start" "$end" <<'PY'
import json, os, sys
from datetime import datetime
events, rundir, runs, lines, cpu, tick, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
def ts(s):
    s = s.rstrip("Z")
    if "." in s:
        head, frac = s.split(".")
        s = head + "." + frac[:6]
    return datetime.fromisoformat(s + "+00:00").timestamp()
lags, steady, done, last = [], [], {}, {}
evs = [json.loads(line) for line in open(events)]
all_started = max((ts(ev["time"]) for ev in evs if ev["type"] == "run_started"), default=0)
for ev in evs:
    if ev["type"] == "run_metrics":
        m = ev["metrics"]["val_loss"]
        # A run's last event comes when its end is seen, not when the line
        # was read: it says nothing of the reading.
        if ev["run_id"] in last:
            lags.append(last[ev["run_id"]][0])
            if last[ev["run_id"]][1] > all_started:
                steady.append(last[ev["run_id"]][0])
        last[ev["run_id"]] = (ts(ev["time"]) - ts(m["time"]), ts(ev["time"]))
    if ev["type"] == "apply_done":
        done = ev["counts"]
read = 0
for d in os.listdir(rundir):
    p = os.path.join(rundir, d, "metrics.jsonl")
    if os.path.exists(p):
        read += sum(1 for _ in open(p))
lags.sort()
steady.sort()
q = lambda f, l=lags: l[min(len(l) - 1, int(f * len(l)))] if l else float("nan")
wall = end - start
print(f"{runs} live runs, a metric line each every 100 ms for {lines / 10:.0f} s, median stopping on every line:")
print(f"  apply: {wall:.1f} s wall; {done.get('succeeded', 0)} succeeded, {done.get('stopped', 0)} stopped")
print(f"  trainrun's own CPU: {cpu / tick:.1f} s = {100 * cpu / tick / wall:.1f}% of one core over the apply")
print(f"  lines collected: {read} of {runs * lines}")
print(f"  age of a run's latest line when trainrun had read it: p50 {q(0.5) * 1000:.0f} ms, p99 {q(0.99) * 1000:.0f} ms, max {q(1) * 1000:.0f} ms ({len(lags)} samples)")
print(f"  the same once every run had started: p50 {q(0.5, steady) * 1000:.0f} ms, p99 {q(0.99, steady) * 1000:.0f} ms, max {q(1, steady) * 1000:.0f} ms ({len(steady)} samples)")
PY
