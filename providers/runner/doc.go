// Package runner is the run logic the computes share: it starts runs
// detached in directories of a workdir on one machine, through an
// executor.Executor, and follows, cancels, collects and removes them. The
// "local" compute is a runner over executor.Local; each machine of an
// "ssh" compute is one over an SSH executor; "slurm" uses its collection
// (Collect) and its checks (Command, CheckRunDir) over its login node's
// executor.
//
// Each run gets a directory of its own, WORKDIR/runs/RUN_ID/ (mode 0700):
//
//	src/           the source snapshot, copied (never linked): the working directory
//	outputs/       $TRAINRUN_OUTPUTS_DIR, collected after success
//	metrics.jsonl  $TRAINRUN_METRICS_FILE
//	log            stdout and stderr
//	pid            the wrapper's pid and start ticks
//	exit           the exit code, written when the run ends
//	timedout       present when the timeout expired
//	cancelled      present when the run was cancelled
//
// A run is started detached through the executor's run wrapper, in a
// session of its own, so it survives trainrun; a later trainrun process
// finds it again from its Handle (pid and start ticks) and reads how it
// ended from these files.
//
// A run's environment is, in order, later entries winning: Options.BaseEnv
// (on this machine, Inherited: PATH, HOME, USER, LOGNAME, SHELL, LANG,
// LANGUAGE, LC_*, TZ and TMPDIR from trainrun's environment); the run's env
// (user variables and TRAINRUN_*); then TRAINRUN_OUTPUTS_DIR,
// TRAINRUN_METRICS_FILE, TRAINRUN_INPUT_<NAME> and CUDA_VISIBLE_DEVICES
// (set to "" for a run given no GPU on a compute that has some). Nothing
// else is inherited: what a run depends on belongs in its env, where it is
// part of the fingerprint.
package runner
