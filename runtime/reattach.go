package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// reattach waits for a run that an earlier, interrupted apply started, and
// records how it ended. It never starts the run again: it reports false
// when the run was recorded but never started, for the caller to start.
func (r *Runtime) reattach(ctx context.Context, prior *state.Run, opts Options) (*state.Run, bool) {
	run := prior.Clone()
	if run.Handle == nil {
		// Submitted, but killed before the handle was recorded: the
		// compute may know it by its id.
		comp, err := r.Computes.Get(run.Compute)
		if f, ok := comp.(providers.Finder); ok && err == nil {
			var h providers.Handle
			var found bool
			h, found, err = f.Lookup(ctx, run.ID)
			if err == nil && found {
				run.Handle = &h
			}
		}
		if err != nil {
			// The compute cannot say whether it started: record that, and
			// never risk starting it twice.
			run.Status, run.Reason, run.FinishedAt = providers.Failed, fmt.Sprintf("find run: %v", err), ptr(time.Now())
			_ = r.put(run)
			r.emit(finishedEvent(run, nil))
			return run, true
		}
		if run.Handle == nil {
			return run, false
		}
		run.Status = providers.Running
		_ = r.put(run)
	}
	comp, err := r.Computes.ForHandle(run.Handle)
	if err != nil {
		run.Status, run.Reason, run.FinishedAt = providers.Failed, err.Error(), ptr(time.Now())
		_ = r.put(run)
		r.emit(finishedEvent(run, nil))
		return run, true
	}
	r.emit(Event{Type: RunReattached, Address: run.Address, RunID: run.ID, Attempt: run.Attempts, Compute: run.Handle.Compute, Started: run.StartedAt})
	st, detached := r.wait(ctx, comp, run, opts)
	if detached {
		return run, true
	}
	r.finish(ctx, comp, run, recordedSpec(run), st)
	return run, true
}

// Reconcile brings recorded live runs up to date before planning: those
// that ended while no apply watched them are collected and recorded, so
// that the plan sees how they ended. Runs still live are left to the plan
// (which shows them) and to apply (which re-attaches).
func (r *Runtime) Reconcile(ctx context.Context) error {
	for _, run := range r.State.Runs() {
		if !run.Live() {
			continue
		}
		if run.Handle == nil {
			continue // only its compute can say; reattach asks it
		}
		comp, err := r.Computes.ForHandle(run.Handle)
		if err != nil {
			continue
		}
		st, err := comp.Poll(ctx, *run.Handle)
		if err != nil || !st.State.Done() {
			continue
		}
		r.finish(ctx, comp, run.Clone(), recordedSpec(run), st)
	}
	return nil
}

// recordedSpec is what collecting a run's results needs to know of how it
// was started, from its record.
func recordedSpec(run *state.Run) *providers.RunSpec {
	spec := &providers.RunSpec{RunID: run.ID, Address: run.Address, Experiment: run.Experiment}
	if run.Inputs != nil {
		spec.Outputs = run.Inputs.Outputs
	}
	return spec
}
