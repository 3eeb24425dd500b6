#!/usr/bin/env bash
# Following live metrics at scale: RUNS local runs (default 1000), each
# with a metric line every 100 ms for SECS seconds (default 30), in one
# sweep whose median-stopping policy looks at every line (all runs report
# the same value, so none is stopped and all stay live). Reports the CPU
# trainrun itself used while they ran (from /proc, its runs not included),
# how far behind the runs trainrun's reading was (the age of a run's latest
# line when trainrun had read it, from apply -json's run_metrics events),
# and whether every line was read.
#
#   scripts/bench-live.sh [RUNS [SECS]]
#
# POLICY=none follows without a policy. NICE=-10 runs trainrun at that
# niceness (as root), for a machine that other work keeps busy: its runs
# and everything else keep theirs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-1000}
secs=${2:-30}
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT; echo "work: $work" >&2
(cd "$root" && go build -o "$work/trainrun" ./cmd/trainrun)

# The runs only wait: one writer process outside them appends a line every
# 100 ms to each run's metrics file, its time in it, as the run's training
# loop would (a writer process in each run would measure a thousand Go
# runtimes' wake-ups, not trainrun). The writer starts once every run has
# started and registered its file, so that what is measured is following,
# not starting a thousand runs; it then tells each run, through a fifo,
# that its lines are written, and the run ends.
mkdir -p "$work/writer" "$work/reg"
cat > "$work/writer/main.go" <<'GO'
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	reg, n, want := os.Args[1], atoi(os.Args[2]), atoi(os.Args[3])
	var names []string
	for len(names) < want {
		time.Sleep(100 * time.Millisecond)
		names, _ = filepath.Glob(filepath.Join(reg, "*.file"))
	}
	files := make([]*os.File, len(names))
	for i, name := range names {
		path, err := os.ReadFile(name)
		if err != nil {
			panic(err)
		}
		if files[i], err = os.OpenFile(strings.TrimSpace(string(path)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
			panic(err)
		}
	}
	mark := func(name string) { os.WriteFile(filepath.Join(reg, name), []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644) }
	mark("writing")
	t := time.NewTicker(100 * time.Millisecond)
	for step := 1; step <= n; step++ {
		<-t.C
		now := float64(time.Now().UnixNano()) / 1e9
		for _, f := range files {
			fmt.Fprintf(f, "{\"name\":\"val_loss\",\"value\":1,\"step\":%d,\"time\":%.6f}\n", step, now)
		}
	}
	mark("written")
	// A moment for the last lines to be read while the runs are live.
	time.Sleep(time.Second)
	for _, name := range names {
		fifo, err := os.OpenFile(strings.TrimSuffix(name, ".file")+".fifo", os.O_WRONLY, 0)
		if err == nil {
			fifo.Write([]byte("done\n"))
			fifo.Close()
		}
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
GO
(cd "$work/writer" && cat > go.mod <<'MOD'
module writer

go 1.21
MOD
go build -o "$work/write" .)

policy='    early_stopping {
      policy = "median"
      metric = "val_loss"
      goal   = "minimize"
    }'
[ "${POLICY:-median}" = none ] && policy=
mkdir -p "$work/p/src"
cat > "$work/p/src/run.sh" <<'SH'
mkfifo "$1/$TRAINRUN_RUN_ID.fifo"
echo "$TRAINRUN_METRICS_FILE" > "$1/$TRAINRUN_RUN_ID.tmp" && mv "$1/$TRAINRUN_RUN_ID.tmp" "$1/$TRAINRUN_RUN_ID.file"
read -r _ < "$1/$TRAINRUN_RUN_ID.fifo" # until the writer wrote this run's lines
SH
cat > "$work/p/trainrun.hcl" <<HCL
compute "local" "here" {
  max_runs = $runs
}
experiment "live" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", "$work/reg", "$((secs * 10))"]
  sweep {
    grid = { i = range($runs) }
$policy
  }
}
HCL
"$work/write" "$work/reg" "$((secs * 10))" "$runs" &
writer=$!
${NICE:+nice -n "$NICE"} "$work/trainrun" -chdir="$work/p" apply -auto-approve -json -parallelism "$runs" > "$work/events" &
pid=$!
tick=$(getconf CLK_TCK)
cpu=0
start=$(date +%s.%N)
while kill -0 "$pid" 2>/dev/null; do
	if s=$(cat "/proc/$pid/stat" 2>/dev/null); then
		set -- ${s##*) }
		cpu=$(( ${12} + ${13} )) # utime + stime, in ticks
		echo "$(date +%s.%N) $cpu" >> "$work/cpu"
	fi
	sleep 0.5
done
wait "$pid" || true
end=$(date +%s.%N)
kill "$writer" 2>/dev/null || true
python3 - "$work/events" "$work/p/.trainrun/runs" "$runs" "$((secs * 10))" "$cpu" "$tick" "$start" "$end" "$work/cpu" "$work/reg" <<'PY'
import json, os, sys
from datetime import datetime
events, rundir, runs, lines, cpu, tick, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
samples = [tuple(map(float, l.split())) for l in open(sys.argv[9])]
marks = [int(open(os.path.join(sys.argv[10], m)).read()) / 1e9 for m in ("writing", "written")]
def cpu_at(t):
    before = [c for (s, c) in samples if s <= t]
    return before[-1] if before else 0
following = (cpu_at(marks[1]) - cpu_at(marks[0])) / tick
span = marks[1] - marks[0]
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
print(f"  trainrun's own CPU: {cpu / tick:.1f} s over the whole apply (starting and collecting {runs} runs included);")
print(f"    while the lines came ({span:.0f} s, {runs * lines / span:.0f} lines a second): {following:.1f} s = {100 * following / span:.1f}% of one core")
print(f"  lines collected: {read} of {runs * lines}")
print(f"  age of a run's latest line when trainrun had read it: p50 {q(0.5) * 1000:.0f} ms, p99 {q(0.99) * 1000:.0f} ms, max {q(1) * 1000:.0f} ms ({len(lags)} samples)")
print(f"  the same once every run had started: p50 {q(0.5, steady) * 1000:.0f} ms, p99 {q(0.99, steady) * 1000:.0f} ms, max {q(1, steady) * 1000:.0f} ms ({len(steady)} samples)")
PY
