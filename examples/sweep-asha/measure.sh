#!/bin/sh
# Runs the search three ways, one after the other, and prints what each
# cost — the run-seconds of its runs, summed, as trainrun recorded them, and
# the CPU-seconds they report (what they cost whatever else the machine
# runs) — and the best validation loss and accuracy it reached, each with
# its share of running every point to the end. Extra arguments go to apply
# (-var points=9 …).
set -eu
cd "$(dirname "$0")"
trainrun=${TRAINRUN:-trainrun}
for e in full median asha; do
  "$trainrun" apply -auto-approve -target "experiment.$e" "$@" >/dev/null
done
"$trainrun" runs -json | /usr/bin/python3 -c '
import json, sys
from datetime import datetime
def t(s):
    s = s.rstrip("Z")
    if "." in s:
        head, frac = s.split(".")
        s = head + "." + frac[:6]
    return datetime.fromisoformat(s)
runs = json.load(sys.stdin)
rows = {}
for r in runs:
    e = rows.setdefault(r["experiment"], {"runs": 0, "stopped": 0, "seconds": 0.0, "cpu": 0.0, "loss": None, "acc": None})
    e["runs"] += 1
    cpu = (r.get("metrics") or {}).get("cpu_seconds")
    if isinstance(cpu, float):
        e["cpu"] += cpu
    e["stopped"] += r["status"] == "stopped"
    if r.get("started_at") and r.get("finished_at"):
        e["seconds"] += (t(r["finished_at"]) - t(r["started_at"])).total_seconds()
    if r["status"] == "succeeded":
        m = r.get("metrics") or {}
        if isinstance(m.get("val_loss"), float) and (e["loss"] is None or m["val_loss"] < e["loss"]):
            e["loss"] = m["val_loss"]
        if isinstance(m.get("val_acc"), float) and (e["acc"] is None or m["val_acc"] > e["acc"]):
            e["acc"] = m["val_acc"]
full, fullcpu = rows["full"]["seconds"], rows["full"]["cpu"]
print("| method | runs | run-seconds | CPU-seconds | best val_loss | best val_acc |")
print("|---|---|---|---|---|---|")
for name in ("full", "median", "asha"):
    e = rows[name]
    runs = str(e["runs"]) + (" (%d stopped)" % e["stopped"] if e["stopped"] else "")
    print("| %s | %s | %.0f (%.0f%%) | %.0f (%.0f%%) | %.4f | %.4f |" % (
        name, runs, e["seconds"], 100 * e["seconds"] / full, e["cpu"], 100 * e["cpu"] / fullcpu, e["loss"], e["acc"]))
'
