package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/state"
)

// CheckpointKey names run's checkpoint directory on its compute
// (TRAINRUN_CHECKPOINT_DIR): its fingerprint, so that every attempt,
// requeue and re-attached run of it, and a later run of the same
// fingerprint after it failed, find what earlier ones saved, while a
// changed fingerprint starts afresh. A rerun has one of its own: it
// reproduces from the start.
func CheckpointKey(run *state.Run) string {
	if run.ReproOf != "" {
		return "rerun-" + run.ID
	}
	return run.Fingerprint
}

// instance returns the configured instance of addr, or nil.
func (r *Runtime) instance(addr string) *lang.Instance {
	if r.Config == nil {
		return nil
	}
	ins := r.Config.Instances // sorted by address
	i := sort.Search(len(ins), func(i int) bool { return ins[i].Address >= addr })
	if i == len(ins) || ins[i].Address != addr {
		return nil
	}
	return ins[i]
}

// ownAttempts counts the attempts trainrun started: those the compute
// started by itself (requeues) are not the run's fault, and do not count
// against retries.
func ownAttempts(run *state.Run) int { return run.Attempts - run.Requeues }

// dropCheckpoint removes a finished run's checkpoint directory when it is
// of no more use: the run succeeded (or its sweep stopped it) and its
// experiment does not say keep_checkpoints. A failed or cancelled run's is
// kept for the next apply to resume from.
func (r *Runtime) dropCheckpoint(ctx context.Context, comp providers.Compute, run *state.Run) {
	cp, ok := comp.(providers.Checkpointer)
	if !ok || (run.Status != providers.Succeeded && run.Status != providers.Stopped) || run.Fingerprint == "" {
		return
	}
	if inst := r.instance(run.Address); inst != nil && inst.KeepCheckpoints && run.ReproOf == "" {
		return
	}
	if err := cp.RemoveCheckpoint(ctx, CheckpointKey(run)); err != nil {
		r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "remove checkpoint: " + err.Error()})
	}
}

// RemovedCheckpoint is a checkpoint directory RemoveStaleCheckpoints
// removed.
type RemovedCheckpoint struct {
	Compute string
	Key     string
}

// RemoveStaleCheckpoints removes, from the computes named, the checkpoint
// directories no run will resume from: all but those of live runs and of
// instances whose latest run failed or was cancelled (the next apply
// resumes it), and those keep_checkpoints keeps. It is for gc. Computes
// that keep no checkpoints are skipped.
func RemoveStaleCheckpoints(ctx context.Context, st state.Backend, cfg *lang.Config, comps *Computes, names []string) ([]RemovedCheckpoint, error) {
	keep := map[string]bool{}
	kept := map[string]bool{} // addresses whose experiment keeps checkpoints
	if cfg != nil {
		for _, in := range cfg.Instances {
			if in.KeepCheckpoints {
				kept[in.Address] = true
			}
		}
	}
	for _, run := range st.Live() {
		keep[CheckpointKey(run)] = true
	}
	for _, run := range st.Heads() {
		if run.Status == providers.Failed || run.Status == providers.Cancelled || run.Live() ||
			(kept[run.Address] && run.Status == providers.Succeeded) {
			keep[CheckpointKey(run)] = true
		}
	}
	var removed []RemovedCheckpoint
	var errs []error
	for _, name := range names {
		comp, err := comps.Get(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cp, ok := comp.(providers.Checkpointer)
		if !ok {
			continue
		}
		keys, err := cp.Checkpoints(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("compute %s: %w", name, err))
		}
		for _, k := range keys {
			if keep[k] {
				continue
			}
			if err := cp.RemoveCheckpoint(ctx, k); err != nil {
				errs = append(errs, fmt.Errorf("compute %s: %w", name, err))
				continue
			}
			removed = append(removed, RemovedCheckpoint{Compute: name, Key: k})
		}
	}
	return removed, errors.Join(errs...)
}

// AttemptLogs lists the attempts of run whose logs are kept apart, under
// dataDir (the project's .trainrun): each attempt trainrun retried keeps
// its log. Attempts a compute started by itself (a requeued Slurm job) go
// on in the log of the attempt they repeat.
func AttemptLogs(dataDir string, run *state.Run) []int {
	var out []int
	for n := 1; n < run.Attempts; n++ {
		if _, err := os.Stat(AttemptLog(dataDir, run, n)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// AttemptLog is where the log of run's attempt n is kept once it was
// retried.
func AttemptLog(dataDir string, run *state.Run, n int) string {
	return filepath.Join(dataDir, "runs", run.ID, "attempts", strconv.Itoa(n), "log")
}

// recordEnviron records the environment the run's command was given, as
// its wrapper wrote it and Collect brought it into dst, sensitive values
// redacted; the file itself, which may hold them in clear, goes.
func (r *Runtime) recordEnviron(run *state.Run, dst string) {
	p := filepath.Join(dst, executor.EnvironFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return
	}
	_ = os.Remove(p)
	env := executor.ParseEnviron(data)
	secrets := r.runSecrets(run)
	for k, v := range env {
		env[k] = lang.Redact(v, secrets)
	}
	run.Environ = env
}
