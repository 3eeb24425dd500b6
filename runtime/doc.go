// Package runtime carries out plans: it starts each run on its compute,
// follows it to its end, collects its results and records it in the state.
// It is what apply, watch, rerun, cancel, logs and destroy do below the
// command line.
//
// A Runtime is one project's: its configuration, state backend, computes,
// content store and the sink its events go to. Each Apply (and each Rerun)
// is an apply of its own (apply.go), holding what its plan's runs share
// while it lasts: the plan's source snapshots, the runs submitted together
// in one batch (batch.go), the sweeps' early-stopping policies (sweeps.go)
// and successive halving's rungs (halving.go). What outlives one apply is
// the Runtime's, shared with the Runtimes WithConfig makes for newer
// configurations (concurrent.go):
//
//   - the scheduler (schedule.go), which bounds live runs by -parallelism,
//     each compute's slots and GPUs, and each sweep's max_concurrent,
//     letting waiting runs through in plan order, with places shared with
//     other processes' applies through the state (places.go);
//   - the tracker (tracker.go) of actions in flight, by which a newer apply
//     joins a run of the fingerprint it plans instead of starting it twice,
//     and supersedes runs of older fingerprints (cancelling them with
//     Options.CancelSuperseded);
//   - the instances this process claimed (claims.go), so that applies of
//     several processes never run one instance twice.
//
// Other files: live runs found again after trainrun ended (reattach.go,
// attach.go), the run cache (cache.go), inputs from upstream runs
// (inputs.go), environments prepared on computes (environment.go), metrics
// read as runs write them (live.go, metrics*.go), secrets kept out of what
// is recorded (redact.go), logs (logs.go), and cancel, destroy and gc
// (manage.go, gc.go). Events (events.go) are how a command shows an apply.
package runtime
