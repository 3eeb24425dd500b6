package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// restore carries out a restore action (the run cache, SPEC §8): a new run
// record with the outputs and metrics of the earlier run a.CachedFrom,
// whose fingerprint it has; nothing runs. The outputs are materialized
// from the content store into the new run's directory, where downstream
// runs read them. It fails, changing nothing, when the earlier run or its
// outputs are gone since the plan was made.
func (r *Runtime) restore(ctx context.Context, a *planner.Action, git *state.Git) (*state.Run, error) {
	src, err := r.State.Get(a.CachedFrom)
	if err != nil || src.Status != providers.Succeeded || src.Fingerprint != a.Fingerprint {
		return nil, fmt.Errorf("run %s is no longer a succeeded run with this fingerprint", a.CachedFrom)
	}
	if !planner.OutputsHeld(ctx, r.Store, src.Outputs) {
		return nil, fmt.Errorf("the content store no longer holds the outputs of run %s", src.ID)
	}
	run := r.newRun(a, git)
	run.CachedFrom = src.ID
	dir := r.runDir(run.ID)
	outs := filepath.Join(dir, "outputs")
	if err := r.materializeOutputs(ctx, src.Outputs, outs); err != nil {
		removeTree(dir)
		return nil, fmt.Errorf("restore the outputs of run %s: %w", src.ID, err)
	}
	if err := snapshot.SetReadOnly(outs, true); err != nil {
		removeTree(dir)
		return nil, err
	}
	// Its log and metric series, for logs, show and compare: what made
	// the outputs.
	if src.Dir != "" {
		for _, name := range []string{"log", "metrics.jsonl"} {
			if err := copyRegular(filepath.Join(src.Dir, name), filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				removeTree(dir)
				return nil, err
			}
		}
	}
	if len(a.Instance.Inputs) > 0 {
		run.InputRuns = r.inputRuns(a.Instance)
	}
	now := time.Now()
	run.Status, run.ExitCode = providers.Succeeded, src.ExitCode
	run.StartedAt, run.FinishedAt = &now, &now
	run.Dir, run.Outputs = dir, src.Outputs
	run.Env = src.Env
	if src.Metrics != nil {
		run.Metrics = src.Clone().Metrics
	}
	if err := r.put(run); err != nil {
		removeTree(dir)
		return nil, err
	}
	return run, nil
}

// inputRuns says which upstream runs' outputs inst's inputs are now.
func (r *Runtime) inputRuns(inst *lang.Instance) map[string][]string {
	runs := make(map[string][]string, len(inst.Inputs))
	for name, addrs := range inst.Inputs {
		for _, addr := range addrs {
			if up := r.State.Latest(addr); up != nil {
				runs[name] = append(runs[name], up.ID)
			}
		}
	}
	return runs
}

// copyRegular copies the regular file src to dst (0600), never through a
// link at either end.
func copyRegular(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
