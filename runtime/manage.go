package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Cancel stops a live run. With record (the caller holds the state lock)
// it waits for the run to end and records it; otherwise the apply that
// holds the lock and waits on the run records it.
func (r *Runtime) Cancel(ctx context.Context, run *state.Run, record bool) error {
	if run.Handle == nil {
		if !record {
			return fmt.Errorf("run %s has not been started yet; stop the apply that is starting it (Ctrl-C) instead", run.ID)
		}
		c := run.Clone()
		c.Status, c.Reason, c.FinishedAt = providers.Cancelled, "cancelled before it started", ptr(nowUTC())
		return r.put(c)
	}
	comp, err := r.Computes.ForHandle(run.Handle)
	if err != nil {
		return err
	}
	if err := comp.Cancel(ctx, *run.Handle); err != nil {
		return err
	}
	if !record || r.Config == nil && usesSecrets(run) {
		// Without the configuration the secrets are not known and the
		// collected log could not be redacted: the next apply records it.
		return nil
	}
	st, err := comp.Wait(ctx, *run.Handle)
	if err != nil {
		return err
	}
	(&apply{Runtime: r}).finish(ctx, comp, run.Clone(), recordedSpec(run), st) // of no apply
	return nil
}

// DestroyTargets lists the runs whose directories still exist on their
// computes, and separately the live runs, whose directories stay, oldest
// first.
func (r *Runtime) DestroyTargets() (targets, live []*state.Run, err error) {
	runs, err := r.State.List(state.Query{})
	if err != nil {
		return nil, nil, err
	}
	slices.Reverse(runs)
	for _, run := range runs {
		switch {
		case run.Handle == nil || run.Cleaned:
		case run.Live():
			live = append(live, run)
		default:
			targets = append(targets, run)
		}
	}
	return targets, live, nil
}

// Destroy removes the run directories of runs on their computes and records
// that they are gone. Recorded runs and collected results stay.
func (r *Runtime) Destroy(ctx context.Context, runs []*state.Run) (int, error) {
	var errs []error
	n := 0
	var recyclers []providers.Recycler
	for _, run := range runs {
		comp, err := r.Computes.ForHandle(run.Handle)
		if err == nil {
			err = comp.Remove(ctx, *run.Handle)
		}
		if rc, ok := comp.(providers.Recycler); ok && !slices.Contains(recyclers, rc) {
			recyclers = append(recyclers, rc)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", run.ID, err))
			continue
		}
		c := run.Clone()
		c.Cleaned = true
		if err := r.put(c); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	// What computes kept of finished runs for reuse goes with them.
	for _, rc := range recyclers {
		if err := rc.ClearRecycled(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.State.Sync(); err != nil {
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}
