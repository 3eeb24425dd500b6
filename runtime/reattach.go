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
// when the run's next attempt is still to be started, for the caller to
// start it (under the same run id; attempts counts those started so far):
// when the run was recorded but never started, when its last attempt
// failed with retries left (retries of its instance), and when apply was
// killed between a failed attempt and the next.
func (r *apply) reattach(ctx context.Context, prior *state.Run, retries retryPolicy, opts Options) (*state.Run, bool) {
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
		run.Attempts++ // the attempt submitted, which the record did not count yet
		_ = r.put(run)
	}
	comp, err := r.Computes.ForHandle(run.Handle)
	if err != nil {
		run.Status, run.Reason, run.FinishedAt = providers.Failed, err.Error(), ptr(time.Now())
		_ = r.put(run)
		r.emit(finishedEvent(run, nil))
		return run, true
	}
	changed, notStarted := latestAttempt(ctx, comp, run, retries.retries)
	if notStarted {
		return run, false // the next attempt was not started
	}
	if changed {
		_ = r.put(run)
	}
	r.emit(Event{Type: RunReattached, Address: run.Address, RunID: run.ID, Attempt: run.Attempts, Compute: run.Handle.Compute, Started: run.StartedAt})
	st, detached := r.wait(ctx, comp, run, opts)
	if detached {
		return run, true
	}
	if r.retry(ctx, comp, run, run.Handle, st, retries, opts) {
		return run, false
	}
	r.finish(ctx, comp, run, recordedSpec(run), st)
	return run, true
}

// Reconcile brings recorded live runs up to date before planning: those
// that ended while no apply watched them are collected and recorded, so
// that the plan sees how they ended. Runs still live are left to the plan
// (which shows them) and to apply (which re-attaches).
func (r *Runtime) Reconcile(ctx context.Context) error {
	for _, run := range r.State.Live() {
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
		c := run.Clone()
		c.Attempts += st.Requeues
		c.Requeues += st.Requeues
		if st.State == providers.Failed && ownAttempts(c) <= r.retries(run.Address) {
			continue // apply re-attaches and retries it
		}
		r.reconcile(ctx, comp, c, st)
	}
	return nil
}

// reconcile records the end of run, unless another apply follows it: it
// holds the instance's claim, and records the end itself.
func (r *Runtime) reconcile(ctx context.Context, comp providers.Compute, run *state.Run, st providers.Status) {
	now, cancel := context.WithCancel(ctx)
	cancel() // try once
	c, err := r.State.Claim(now, run.Address, state.Holder{Command: "trainrun"})
	if err != nil {
		return
	}
	defer c.Release()
	if err := r.State.Reload(); err != nil {
		return
	}
	if rec, err := r.State.Get(run.ID); err != nil || !rec.Live() {
		return // recorded meanwhile
	}
	// st is the recorded handle's; the directory may hold a later attempt
	// (asked only now, under the claim: a compute's lookup may claim a
	// directory whose wrapper has not yet started, for nobody).
	changed, notStarted := latestAttempt(ctx, comp, run, r.retries(run.Address))
	if notStarted {
		return // apply starts the next attempt
	}
	if changed {
		var err error
		if st, err = comp.Poll(ctx, *run.Handle); err != nil || !st.State.Done() {
			return // the later attempt still runs: apply re-attaches
		}
		run.Attempts += st.Requeues
		run.Requeues += st.Requeues
		if st.State == providers.Failed && ownAttempts(run) <= r.retries(run.Address) {
			return // apply re-attaches and retries it
		}
	}
	(&apply{Runtime: r}).finish(ctx, comp, run, recordedSpec(run), st) // of no apply
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

// retries returns the retries configured for the instance at addr; -1 when
// there is no such instance.
func (r *Runtime) retries(addr string) int {
	if in := r.instance(addr); in != nil {
		return in.Retries
	}
	return -1
}

// latestAttempt asks comp which attempt of run its directory holds now; the
// caller holds the run's claim. Attempts of a run share its directory, and
// a retry removes the failed attempt's before it submits the next, whose
// handle is recorded once it is started: killed in between, the recorded
// handle is not the directory's. When the directory holds a later attempt,
// run is updated to it (changed); when it is gone with retries left, the
// next attempt was never started (notStarted). An error of the compute
// leaves run as it is.
func latestAttempt(ctx context.Context, comp providers.Compute, run *state.Run, retries int) (changed, notStarted bool) {
	f, ok := comp.(providers.Finder)
	if !ok || run.Handle == nil {
		return false, false
	}
	h, found, err := f.Lookup(ctx, run.ID)
	switch {
	case err != nil:
	case !found && ownAttempts(run) <= retries:
		return false, true
	case found && (h.ID != run.Handle.ID || h.StartTicks != run.Handle.StartTicks):
		// The next attempt, started but not recorded.
		h.StartedAt = run.Handle.StartedAt
		run.Handle = &h
		run.Attempts++
		return true, false
	}
	return false, false
}
