// Package local is the "local" compute kind: runs on the machine trainrun
// runs on, at most max_runs at a time, on gpus GPUs (detected with
// nvidia-smi -L unless configured).
//
// It is providers/runner over executor.Local: each run gets a directory
// of its own, WORKDIR/runs/RUN_ID/ (WORKDIR defaults to
// .trainrun/local/NAME), laid out and started as the runner package says.
// A run's environment starts from runner.Inherited: a few of trainrun's
// own variables (PATH, HOME, the locale, …), nothing else.
package local
