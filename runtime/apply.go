package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osuser "os/user"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/policy"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// DefaultParallelism bounds concurrent operations when neither
// -parallelism nor trainrun { parallelism } says otherwise.
const DefaultParallelism = 10

// Options tune one apply.
type Options struct {
	Parallelism int
	// Stop, when closed, stops starting new runs (the first Ctrl-C).
	Stop <-chan struct{}
	// Detach, when closed, stops waiting for live runs: they keep running,
	// recorded as live, and a later apply re-attaches to them. Cancelling
	// the context instead cancels them (the second Ctrl-C).
	Detach <-chan struct{}
	// StreamLogs sends every line of every run's log as RunOutput events.
	// Off, a failed run's last lines still come with its RunFinished.
	StreamLogs bool
	// CancelSuperseded cancels a live run when this apply starts a newer
	// run of its instance: one an apply of a related Runtime started (see
	// WithConfig), or one recorded live by an earlier command. The run is
	// recorded as cancelled, with the reason. Watch sets it.
	CancelSuperseded bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Holder says who claims the instances the apply carries out, for
	// another apply that waits on them: "trainrun apply". Its PID, host
	// and time are filled in.
	Holder state.Holder
}

// Result counts what an apply did.
type Result struct {
	Succeeded, Failed, Cancelled, Skipped, NotStarted, Updated int
	// Stopped counts runs the early-stopping policy stopped: results, not
	// failures.
	Stopped int
	// NotPromoted counts instances of successive halving that waited for
	// a promotion their point did not earn.
	NotPromoted int
	// Unchanged counts instances that waited for upstream outputs and did
	// not run: the outputs were the same.
	Unchanged int
	// Restored counts instances restored from an earlier run with their
	// fingerprint (the run cache): nothing ran.
	Restored int
	// Detached counts runs left running when apply stopped waiting.
	Detached int
	// ByOther counts instances that another apply ran with success since
	// the plan was made (it held their claim): their results are used.
	ByOther int
}

// OK reports whether every run that was started succeeded.
func (r Result) OK() bool {
	return r.Failed == 0 && r.Cancelled == 0 && r.Skipped == 0 && r.NotStarted == 0 && r.Detached == 0
}

// Runtime executes plans against one project's state and computes.
type Runtime struct {
	Config   *lang.Config
	State    state.Backend // locked by the caller
	Computes *Computes
	DataDir  string
	Store    *snapshot.Store
	Sink     Sink
	// Environments prepares the runs' environments; nil means one over
	// Computes, recorded in DataDir.
	Environments *Environments
	envOnce      sync.Once

	once sync.Once
	sh   *shared // with the Runtimes of WithConfig
	// gen orders the Runtimes of WithConfig: a later call, a higher gen.
	gen   uint64
	putMu sync.Mutex
}

// apply is one apply of a plan, or one rerun: what its runs share while it
// lasts, kept apart from the Runtime so that the applies of one Runtime
// (watch's cycles, a rerun) never see each other's. Apply and Rerun make
// one and drop it when they return; what outlives it (state, bounds, runs
// in flight) is the Runtime's.
type apply struct {
	*Runtime
	snapshots map[string]*snapshot.Manifest // the plan's, by source directory
	storedAt  time.Time                     // when storeSnapshots stored them
	batches   *batcher                      // the plan's runs submitted together
	// fixedInputs, for a rerun, are the input directories the run gets
	// instead of its upstream instances' latest outputs.
	fixedInputs map[string]string
	// sweeps holds the early-stopping policy of each experiment that has
	// one; set before its runs start.
	sweeps map[string]*stopper
}

func (r *Runtime) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if r.Sink == nil {
		return
	}
	// A compute's error may quote what it was given: a secret never
	// reaches the terminal in clear.
	if secrets := r.secrets(); len(secrets) > 0 {
		ev.Reason, ev.Message = lang.Redact(ev.Reason, secrets), lang.Redact(ev.Message, secrets)
	}
	sh := r.shared()
	sh.emitMu.Lock()
	defer sh.emitMu.Unlock()
	r.Sink(ev)
}

func (r *Runtime) put(run *state.Run) error {
	r.putMu.Lock()
	defer r.putMu.Unlock()
	run.Reason = lang.Redact(run.Reason, r.secrets()) // nor the state
	if err := r.State.Put(run); err != nil {
		return fmt.Errorf("record run %s: %w", run.ID, err)
	}
	return nil
}

// outcome is how one action ended, for its dependents.
type outcome struct {
	done    chan struct{}
	ok      bool
	skipped bool
	run     *state.Run
	// reached says run is how the action ended: its run's end, or its
	// current run (no run started for it: not started, skipped).
	reached bool
	// notPromoted says successive halving did not promote the instance.
	notPromoted bool
}

// Apply carries out p. It returns an error only when trainrun itself could
// not go on; failed runs are counted in the Result.
//
// Applies of one Runtime may run at the same time: each has its own
// snapshots, batches and sweeps, and they share the Runtime's bounds and
// runs in flight (see WithConfig).
func (rt *Runtime) Apply(ctx context.Context, p *planner.Plan, opts Options) (Result, error) {
	return (&apply{Runtime: rt}).run(ctx, p, opts)
}

func (r *apply) run(ctx context.Context, p *planner.Plan, opts Options) (Result, error) {
	var res Result
	warming := r.warm(ctx, p)
	defer warming.Wait()
	r.snapshots = p.Snapshots
	if err := r.storeSnapshots(p); err != nil {
		return res, err
	}
	r.sweeps = r.startSweeps(p)
	halvings := r.startHalving(p)
	git := gitInfo(r.Config.Dir)

	par := opts.Parallelism
	if par <= 0 {
		par = r.Config.Parallelism
	}
	if par <= 0 {
		par = DefaultParallelism
	}
	rungs := 1
	for _, hv := range halvings {
		rungs = max(rungs, len(hv.rungs))
	}
	sched, base := r.scheduler(par, func(e string) int {
		if x := r.Config.Experiments[e]; x != nil {
			return x.MaxConcurrent
		}
		return 0
	}, len(p.Actions)*rungs, opts.Holder)
	// slot is the place of the action at pos in the lines for slots.
	slot := func(pos int) int { return base + priority(p.Actions[pos], pos, len(p.Actions), rungs) }
	outcomes := make(map[string]*outcome, len(p.Actions))
	for _, a := range p.Actions {
		outcomes[a.Address] = &outcome{done: make(chan struct{})}
	}
	var resMu sync.Mutex
	count := func(f func(*Result)) {
		resMu.Lock()
		f(&res)
		resMu.Unlock()
	}
	r.emit(Event{Type: ApplyStarted, Counts: p.Summary()})
	r.recordAttach(ctx, p)
	waitEnvironments := r.startEnvironments(ctx, p, opts.Stop)
	roles := r.tracker().assign(ctx, p, opts, r.gen, r.State.Get, r.emit)
	r.batches = r.newBatcher(ctx, p, opts, func(pos int) bool {
		b := roles[pos]
		return b.join == nil && b.ended == nil && !b.restart
	})

	holds := r.holdLive(ctx, p, sched, roles)
	for pos, a := range p.Actions {
		if a.Action == planner.Submit && roles[pos].join == nil && !hasUpstreamIn(a, outcomes) && !r.awaitsEnvironment(a.Instance) && r.batches.group(a.Address) == nil {
			if comp, err := r.Computes.Get(a.Instance.Compute); err == nil {
				sched.enqueue(ctx, slot(pos), a.Instance, comp)
			}
		}
	}
	var wg conc.WaitGroup
	for pos, a := range p.Actions {
		wg.Go(func() {
			out := outcomes[a.Address]
			defer close(out.done)
			out.run = a.Prior
			b := roles[pos]
			defer func() { r.tracker().release(b, out.run, out.ok) }()
			hold := holds[pos] // the places of the live run it re-attaches to
			// A rung of successive halving hears how each of its
			// instances that may run ended.
			if hv := halvings[a.Instance.Experiment]; hv != nil && (runs(a) || a.AwaitsPromotion != nil) {
				defer func() {
					if !out.notPromoted {
						var run *state.Run
						if out.reached {
							run = out.run
						}
						hv.ended(a.Instance.Rung, a.Instance.Point, run)
					}
				}()
			}
			switch {
			case b.join != nil:
				out.run, out.ok = b.waitJoined(ctx, opts)
				out.reached = out.run != nil
				return
			case b.ended != nil:
				out.run, out.ok, out.reached = b.ended, b.ended.Status == providers.Succeeded, true
				return
			}
			ctx := b.ctx // cancelled when a newer apply supersedes the action
			r.cancelPrior(b)
			if a.AwaitsPromotion != nil {
				pr, ok := halvings[a.Instance.Experiment].await(ctx, opts, a)
				if !ok {
					count(func(r *Result) { r.NotStarted++ })
					return
				}
				r.emit(promoted(a, pr))
				if !pr.promoted {
					// Its rung heard of it when it was told.
					out.skipped, out.notPromoted = true, true
					count(func(r *Result) { r.NotPromoted++ })
					return
				}
			}
			for _, dep := range a.Instance.DependsOn {
				up := outcomes[dep]
				if up == nil {
					continue // not in this plan: recorded as done before
				}
				select {
				case <-up.done:
				case <-ctx.Done():
					count(func(r *Result) { r.NotStarted++ })
					return
				}
				if !up.ok {
					out.skipped = true
					r.emit(Event{Type: RunSkipped, Address: a.Address, Reason: skipReason(dep, up)})
					count(func(r *Result) { r.Skipped++ })
					return
				}
			}
			if len(a.Pending) > 0 {
				// Its upstream ran: only now is its fingerprint known.
				if !r.resolve(a, outcomes) {
					out.skipped = true
					count(func(r *Result) { r.Skipped++ })
					return
				}
				if a.Action == planner.NoOp && !a.Prior.Live() {
					count(func(r *Result) { r.Unchanged++ })
				}
			}
			restart := b.restart
			if claims(a, b) {
				// Another process's apply may carry the instance out: wait
				// for it, then use what it did.
				unclaim, err := r.claim(ctx, opts.Stop, a.Address, opts, func() {
					// Its places in this process's lines go to runs that
					// can start meanwhile: holding them while waiting for
					// another process, which may wait for this one's
					// places, would deadlock. It lines up again once
					// claimed.
					if comp, err := r.Computes.Get(a.Instance.Compute); err == nil {
						sched.leave(ctx, slot(pos), a.Instance, comp)
					}
				})
				if err != nil {
					hold.free()
					if !errors.Is(err, errStopped) {
						r.emit(Event{Type: Warning, Address: a.Address, Message: err.Error()})
					}
					count(func(r *Result) { r.NotStarted++ })
					return
				}
				defer unclaim()
				if other := r.claimedRun(a, b); other != nil {
					hold.free()
					hold = nil
					if !other.Live() {
						r.emit(Event{Type: RunByOther, Address: a.Address, RunID: other.ID, Status: other.Status, Reason: other.Reason, Started: other.StartedAt})
						out.run, out.ok, out.reached = other, other.Status == providers.Succeeded, true
						count(func(res *Result) {
							if out.ok {
								res.ByOther++
							} else {
								tally(res, other.Status)
							}
						})
						return
					}
					// Left live by an apply that is gone: re-attach to it.
					re := *a
					re.Action, re.Prior, restart = planner.NoOp, other, false
					a = &re
					hold = r.holdRun(ctx, sched, a.Instance, other)
				}
			}
			switch {
			case a.Action == planner.Update:
				run := a.Prior.Clone()
				run.Settings = a.Settings
				if err := r.put(run); err != nil {
					r.emit(Event{Type: Warning, Address: a.Address, Message: err.Error()})
					return
				}
				out.ok, out.run, out.reached = true, run, true
				r.emit(Event{Type: InstanceSaved, Address: a.Address, RunID: run.ID, Reason: strings.Join(a.Reasons, "; ")})
				count(func(r *Result) { r.Updated++ })
			case a.Action == planner.NoOp && a.Prior != nil && a.Prior.Live() && !restart:
				run, found := r.reattach(ctx, a.Prior, retryPolicyOf(a.Instance), opts)
				hold.free()
				started := true
				if !found {
					// Its next attempt is still to be started: start it
					// now, under the same run id.
					run, started = r.runAction(ctx, sched, slot(pos), a, git, opts, run)
				}
				out.run = run
				if !started {
					count(func(r *Result) { r.NotStarted++ })
					return
				}
				out.ok, out.reached = run.Status == providers.Succeeded, true
				count(func(res *Result) { tally(res, run.Status) })
			case a.Action == planner.NoOp && !restart:
				out.ok, out.reached = true, true
			case a.Action == planner.Restore && !restart:
				run, err := r.restore(ctx, a, git)
				if err == nil {
					out.run, out.ok, out.reached = run, true, true
					r.emit(Event{Type: RunRestored, Address: a.Address, RunID: run.ID, Reason: "same fingerprint as run " + run.CachedFrom})
					count(func(r *Result) { r.Restored++ })
					return
				}
				// Gone since the plan: run it after all.
				r.emit(Event{Type: Warning, Address: a.Address, Message: "run cache: " + err.Error() + "; running it instead"})
				run, started := r.runAction(ctx, sched, slot(pos), a, git, opts, nil)
				out.run = run
				if !started {
					count(func(r *Result) { r.NotStarted++ })
					return
				}
				out.ok, out.reached = run.Status == providers.Succeeded, true
				count(func(res *Result) { tally(res, run.Status) })
			case a.Action == planner.Submit || restart:
				run, started := r.runAction(ctx, sched, slot(pos), a, git, opts, nil)
				out.run = run
				if !started {
					count(func(r *Result) { r.NotStarted++ })
					return
				}
				out.ok, out.reached = run.Status == providers.Succeeded, true
				count(func(res *Result) { tally(res, run.Status) })
			}
		})
	}
	wg.Wait()
	waitEnvironments()
	if err := r.State.Sync(); err != nil {
		return res, fmt.Errorf("sync state: %w", err)
	}
	r.emit(Event{Type: ApplyDone, Counts: map[string]int{
		"succeeded": res.Succeeded, "failed": res.Failed, "cancelled": res.Cancelled,
		"skipped": res.Skipped, "not_started": res.NotStarted, "updated": res.Updated, "detached": res.Detached,
		"unchanged": res.Unchanged, "stopped": res.Stopped, "not_promoted": res.NotPromoted, "restored": res.Restored,
		"by_other": res.ByOther,
	}})
	return res, nil
}

// holdLive takes the places of the runs that an earlier apply started and
// this one re-attaches to, before any new run is let through: a re-attached
// run counts against max_runs, -parallelism and max_concurrent like one this
// apply starts. The grants are by plan position.
func (r *apply) holdLive(ctx context.Context, p *planner.Plan, sched *scheduler, roles []*role) map[int]*grant {
	holds := make(map[int]*grant)
	for pos, a := range p.Actions {
		b := roles[pos]
		if a.Action != planner.NoOp || a.Prior == nil || !a.Prior.Live() || b.join != nil || b.ended != nil || b.restart {
			continue
		}
		if g := r.holdRun(ctx, sched, a.Instance, a.Prior); g != nil {
			holds[pos] = g
		}
	}
	return holds
}

// holdRun takes the places of run, a live run of inst, at once; nil when
// its compute is unknown.
func (r *apply) holdRun(ctx context.Context, sched *scheduler, inst *lang.Instance, run *state.Run) *grant {
	comp, err := r.Computes.Get(run.Compute)
	if run.Handle != nil {
		comp, err = r.Computes.ForHandle(run.Handle)
	}
	if err != nil {
		return nil
	}
	var gpus []int
	if run.Handle != nil {
		gpus = run.Handle.GPUs
	}
	return sched.hold(ctx, inst, comp, gpus)
}

// hasUpstreamIn reports whether a waits for another action of the plan.
func hasUpstreamIn(a *planner.Action, outcomes map[string]*outcome) bool {
	for _, d := range a.Instance.DependsOn {
		if outcomes[d] != nil {
			return true
		}
	}
	return false
}

func tally(res *Result, s providers.State) {
	switch s {
	case providers.Running, providers.Pending:
		res.Detached++
	case providers.Succeeded:
		res.Succeeded++
	case providers.Cancelled:
		res.Cancelled++
	case providers.Stopped:
		res.Stopped++
	default:
		res.Failed++
	}
}

// storeSnapshots copies the plan's source snapshots into the content store,
// from which runs are materialized and later checked out.
func (r *apply) storeSnapshots(p *planner.Plan) error {
	r.storedAt = time.Now()
	needed := make(map[string]*lang.Instance)
	for _, a := range p.Actions {
		// A restore runs the instance after all when what it restores
		// went away since the plan.
		if a.Action == planner.Submit || a.Action == planner.Restore {
			needed[a.Instance.SourceKey()] = a.Instance
		}
	}
	for key, inst := range needed {
		dir := inst.SourceDir
		m := p.Snapshots[key]
		if m == nil {
			return fmt.Errorf("plan has no snapshot of %s", dir)
		}
		if err := planner.PutSnapshot(r.Store, inst, m); err != nil {
			if errors.Is(err, snapshot.ErrChanged) {
				// Often a file written while trainrun runs: its own
				// output redirected into the directory, a training log.
				return fmt.Errorf("%s changed since it was planned: %w.\n"+
					"A file being written while trainrun runs (apply's own output redirected there, a log) changes at every apply: "+
					"add it to .trainrunignore, or keep it out of the source directory. "+
					"If it was an edit, plan and apply again", dir, err)
			}
			return fmt.Errorf("store snapshot of %s: %w", dir, err)
		}
	}
	return nil
}

// warm gets the computes that p submits to ready while the snapshots are
// stored and the runs recorded.
func (r *Runtime) warm(ctx context.Context, p *planner.Plan) *conc.WaitGroup {
	var names []string
	for _, a := range p.Actions {
		if a.Action == planner.Submit {
			names = append(names, a.Instance.Compute)
		}
	}
	return r.Computes.Warm(ctx, names)
}

// runAction runs one submit action to its end, attempts and all, as a new
// run or, when run is not nil, under that recorded but never started run.
// It reports false when the run was not started (apply was stopped first).
func (r *apply) runAction(ctx context.Context, sched *scheduler, pos int, a *planner.Action, git *state.Git, opts Options, run *state.Run) (*state.Run, bool) {
	inst := a.Instance
	comp, err := r.Computes.Get(inst.Compute)
	if err != nil {
		return r.failEarly(a, git, err.Error()), true
	}
	r.awaitEnvironment(ctx, opts.Stop, inst)
	release, err := r.acquire(ctx, sched, pos, a, comp, opts)
	if err != nil {
		if errors.Is(err, errStopped) {
			return nil, false
		}
		return r.failEarly(a, git, err.Error()), true
	}
	if r.claimLost(a.Address) {
		release.free()
		return nil, false
	}
	after := r.unsaid() // the ends of runs that let this one through
	released := false
	defer func() {
		if !released {
			release.free()
		}
	}()
	freeOnce := func() {
		if !released {
			released = true
			release.free()
		}
	}

	if run == nil {
		run = r.newRun(a, git)
	}
	r.tracker().setRunID(ctx, run.ID)
	spec, err := r.spec(ctx, run, a, release.gpus)
	if err == nil {
		err = r.useEnvironment(ctx, run, inst, spec)
	}
	if err != nil {
		run.Status, run.Reason, run.FinishedAt = providers.Failed, err.Error(), ptr(time.Now())
		_ = r.put(run)
		r.emit(finishedEvent(run, nil))
		return run, true
	}
	if err := r.put(run); err != nil {
		r.emit(Event{Type: Warning, Address: a.Address, Message: err.Error()})
		return run, false
	}
	r.attempts(ctx, comp, run, spec, retryPolicyOf(inst), opts, freeOnce, after)
	return run, true
}

// retryPolicy is how an instance's failed attempts are tried again.
type retryPolicy struct {
	retries int           // attempts after the first
	backoff time.Duration // the wait before the first retry (lang.RetryWait)
}

func retryPolicyOf(inst *lang.Instance) retryPolicy {
	return retryPolicy{retries: inst.Retries, backoff: inst.RetryBackoff}
}

// attempts runs spec until it succeeds, is cancelled or has used its retries.
//
// free gives the run's slots back; it is called as soon as the run's
// process is over, so that the next run starts while this one's results
// are collected. Its start is said after the ends in after: of the runs
// whose slots it took.
func (r *apply) attempts(ctx context.Context, comp providers.Compute, run *state.Run, spec *providers.RunSpec, retries retryPolicy, opts Options, free func(), after []chan struct{}) {
	for {
		run.Attempts++
		spec.Attempt = run.Attempts
		spec.Env["TRAINRUN_ATTEMPT"] = strconv.Itoa(run.Attempts)
		h, err := r.submit(ctx, comp, run.Address, spec)
		if err != nil {
			st := providers.Status{State: providers.Failed, Reason: "submit: " + err.Error()}
			if errors.Is(err, errStopped) { // its batch was stopped before it went
				st = providers.Status{State: providers.Cancelled, Reason: err.Error()}
			}
			if r.retry(ctx, comp, run, nil, st, retries, opts) {
				continue
			}
			said := r.ending()
			free()
			r.finish(ctx, comp, run, spec, st)
			said()
			return
		}
		h.GPUs = spec.GPUs // a later apply that re-attaches holds them
		run.Handle = &h
		run.Status = providers.Running
		if run.StartedAt == nil {
			run.StartedAt = ptr(h.StartedAt)
		}
		if err := r.put(run); err != nil {
			r.emit(Event{Type: Warning, Address: run.Address, Message: err.Error()})
		}
		awaitSaid(ctx, after)
		r.emit(Event{Type: RunStarted, Address: run.Address, RunID: run.ID, Attempt: run.Attempts, Compute: h.Compute, Started: run.StartedAt})
		st, detached := r.wait(ctx, comp, run, opts)
		if detached {
			return
		}
		if r.retry(ctx, comp, run, &h, st, retries, opts) {
			continue
		}
		said := r.ending()
		free()
		r.finish(ctx, comp, run, spec, st)
		said()
		return
	}
}

// retry decides whether a failed attempt is tried again, waits the
// backoff (lang.RetryWait), and clears the way for the next attempt: the
// attempt's log is kept beside the run's results. It reports false, the
// failed attempt left as it is, when apply is stopped during the wait.
func (r *apply) retry(ctx context.Context, comp providers.Compute, run *state.Run, h *providers.Handle, st providers.Status, retries retryPolicy, opts Options) bool {
	if st.State != providers.Failed || ownAttempts(run) > retries.retries || stopped(opts.Stop) || ctx.Err() != nil || run.StopReason != "" ||
		r.claimLost(run.Address) {
		return false
	}
	wait := lang.RetryWait(retries.backoff, ownAttempts(run))
	ev := Event{Type: RunRetrying, Address: run.Address, RunID: run.ID, Attempt: run.Attempts, Reason: st.Reason, ExitCode: st.ExitCode}
	if wait > 0 {
		ev.Backoff = wait.String()
	}
	r.emit(ev)
	if !sleep(ctx, wait, opts) {
		return false
	}
	if h != nil {
		dst := filepath.Join(r.runDir(run.ID), "attempts", strconv.Itoa(run.Attempts))
		if err := comp.Collect(ctx, *h, nil, dst, false); err != nil {
			r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "keep log of attempt " + strconv.Itoa(run.Attempts) + ": " + err.Error()})
		}
		// The attempt's recorded environment may hold sensitive values
		// in clear, and only the last attempt's is recorded (redacted):
		// it is not kept.
		_ = os.Remove(filepath.Join(dst, executor.EnvironFile))
		r.redactLog(run, filepath.Join(dst, "log")) // the run directory goes next
		if err := comp.Remove(ctx, *h); err != nil {
			r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: err.Error()})
		}
	}
	return true
}

// sleep waits d, and reports false when apply is stopped, detached or
// cancelled first.
func sleep(ctx context.Context, d time.Duration, opts Options) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-opts.Stop:
	case <-opts.Detach:
	}
	return false
}

// wait waits for the run, streaming its log when asked. Cancelling ctx
// cancels the run; closing opts.Detach stops waiting and reports true, the
// run left live.
func (r *apply) wait(ctx context.Context, comp providers.Compute, run *state.Run, opts Options) (providers.Status, bool) {
	h := *run.Handle
	waitCtx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	detached := make(chan struct{})
	go func() {
		select {
		case <-opts.Detach:
			close(detached)
			stopWaiting()
		case <-waitCtx.Done():
		}
	}()
	var logDone chan struct{}
	if opts.StreamLogs {
		logDone = make(chan struct{})
		go func() {
			defer close(logDone)
			r.streamLog(waitCtx, comp, h, run)
		}()
	}
	var stops <-chan policy.Decision
	if sw := r.sweepOf(run.Experiment); sw != nil {
		stops = sw.watch(run.ID)
		defer sw.unwatch(run.ID)
	}
	metricsCtx, stopMetrics := context.WithCancel(waitCtx)
	defer stopMetrics()
	metricsDone := r.followMetrics(metricsCtx, comp, run, h)
	if run.StopReason != "" {
		// Decided by an apply that was killed before the run ended.
		r.stopRun(comp, run, h)
	}
	ended := make(chan waitResult, 1)
	go func() {
		st, err := comp.Wait(r.withNotices(waitCtx, run), h)
		ended <- waitResult{st, err}
	}()
	var st providers.Status
	var err error
	for waiting := true; waiting; {
		select {
		case w := <-ended:
			st, err, waiting = w.st, w.err, false
		case d := <-stops:
			run.StopReason = d.Reason
			if err := r.put(run); err != nil { // before it is stopped: a later apply finishes the stop
				r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: err.Error()})
			}
			r.emit(Event{Type: RunStopping, Address: run.Address, RunID: run.ID, Reason: d.Reason})
			r.stopRun(comp, run, h)
		}
	}
	if err != nil && ctx.Err() == nil && isClosed(detached) {
		stopWaiting()
		if logDone != nil {
			<-logDone
		}
		<-metricsDone
		r.emit(Event{Type: RunDetached, Address: run.Address, RunID: run.ID, Compute: h.Compute, Started: run.StartedAt})
		return st, true
	}
	if err != nil && ctx.Err() != nil {
		// The second Ctrl-C: stop the run, then record how it ended.
		bg, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := comp.Cancel(bg, h); err != nil {
			r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "cancel: " + err.Error()})
		}
		st, err = comp.Wait(bg, h)
	}
	if err != nil {
		st = providers.Status{State: providers.Failed, Reason: "wait: " + err.Error()}
	}
	if logDone != nil {
		// The stream shows what is left of the log; the log is collected
		// whole anyway, so a stream stuck on a connection that went away
		// does not hold the run's end up for long.
		select {
		case <-logDone:
		case <-time.After(logDrain):
			stopWaiting()
			<-logDone
			r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID,
				Message: fmt.Sprintf("the run ended %v ago and its log is still coming: apply stops showing it; log continues: trainrun logs %s", logDrain, run.ID)})
		}
	}
	drain(metricsDone, stopMetrics)
	// The compute started it again by itself: each time was an attempt,
	// not one of its retries.
	run.Attempts += st.Requeues
	run.Requeues += st.Requeues
	return st, false
}

type waitResult struct {
	st  providers.Status
	err error
}

// stopRun cancels a run its sweep's policy stopped (its StopReason is
// recorded), without waiting: its end is waited for as any other, and its
// slots are free as soon as it is over.
func (r *apply) stopRun(comp providers.Compute, run *state.Run, h providers.Handle) {
	addr, id := run.Address, run.ID
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := comp.Cancel(ctx, h); err != nil {
			r.emit(Event{Type: Warning, Address: addr, RunID: id, Message: "stop: " + err.Error()})
		}
	}()
}

// logDrain is how long a run's log stream may go on once the run ended.
const logDrain = 5 * time.Second

func (r *apply) streamLog(ctx context.Context, comp providers.Compute, h providers.Handle, run *state.Run) {
	rc, err := comp.Log(ctx, h, true)
	if err != nil {
		return
	}
	defer rc.Close()
	red := lang.NewRedactor(r.runSecrets(run))
	lines(rc, func(line string) {
		r.emit(Event{Type: RunOutput, Address: run.Address, RunID: run.ID, Line: red.Redact(line)})
	})
}

// finish collects a final run's results and records its end.
func (r *apply) finish(ctx context.Context, comp providers.Compute, run *state.Run, spec *providers.RunSpec, st providers.Status) {
	if ctx.Err() != nil {
		ctx = context.Background() // results are collected even after the second Ctrl-C
	}
	run.Status, run.ExitCode, run.Reason = st.State, st.ExitCode, st.Reason
	if !st.StartedAt.IsZero() && (run.StartedAt == nil || !st.StartedAt.Before(*run.StartedAt)) {
		run.RunningAt = ptr(st.StartedAt.UTC())
	}
	if !st.QueuedAt.IsZero() {
		run.QueuedAt = ptr(st.QueuedAt.UTC())
	}
	superseded := r.tracker().supersededReason(run.ID)
	if superseded != "" && run.Status != providers.Succeeded {
		run.Status, run.Reason = providers.Cancelled, superseded
	}
	switch {
	case run.StopReason != "" && run.Status != providers.Succeeded:
		run.Status, run.Reason = providers.Stopped, run.StopReason
	case run.StopReason != "":
		run.StopReason = "" // it ended by itself before the stop reached it
	}
	if sw := r.sweepOf(run.Experiment); sw != nil {
		sw.end(run.ID)
	}
	var tail []string
	safe := false // the collected log holds no secret in clear
	if run.Handle != nil {
		dst := r.runDir(run.ID)
		// Collected before (a re-attached run whose end was not recorded):
		// replaced, read-only as it is.
		_ = snapshot.SetReadOnly(filepath.Join(dst, "outputs"), false)
		run.Warnings = nil // of an earlier collection
		err := comp.Collect(ctx, *run.Handle, spec, dst, st.State == providers.Succeeded)
		if skipped := (*providers.SkippedError)(nil); errors.As(err, &skipped) {
			// The run succeeded: what it left that holds no data is news, not a failure.
			msg := "outputs: " + skipped.Error()
			run.Warnings = append(run.Warnings, msg)
			r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: msg})
			err = nil
		}
		if err != nil {
			if run.Status == providers.Succeeded {
				run.Status, run.Reason = providers.Failed, "collect outputs: "+err.Error()
			} else {
				r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "collect: " + err.Error()})
			}
		}
		run.Dir = dst
		if problem := r.checkInputs(ctx, comp, run); problem != "" {
			if run.Status == providers.Succeeded {
				run.Status, run.Reason = providers.Failed, problem
			} else {
				run.Reason = problem + "; " + run.Reason
			}
		}
		if run.Status == providers.Failed && run.Inputs != nil {
			if hint := ignoredOutputs(run.Inputs.SourceDir, run.Inputs.Outputs, filepath.Join(dst, "outputs")); hint != "" {
				run.Reason += " (" + hint + ")"
			}
		}
		safe = r.redactLog(run, filepath.Join(dst, "log"))
		r.keepLog(run, filepath.Join(dst, "log"))
		r.recordEnviron(run, dst)
		metrics, problems := ReadMetrics(filepath.Join(dst, "metrics.jsonl"))
		run.Metrics = metrics
		for _, p := range problems {
			r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: p})
		}
		outs := filepath.Join(dst, "outputs")
		switch {
		case run.Status != providers.Succeeded:
		case emptyDir(outs):
			run.Outputs = planner.EmptyOutputs // downstream fingerprints hash it
		default:
			// A run whose outputs are not safely in the store is no
			// success: downstream runs, the run cache and checkout would
			// find the hole. It fails, and the next apply runs it again.
			if m, err := r.Store.PutTree(outs); err == nil {
				run.Outputs = m.ID
			} else {
				run.Status, run.Reason = providers.Failed, "store outputs: "+err.Error()
			}
		}
		if run.Status != providers.Succeeded && superseded == "" && run.Status != providers.Stopped {
			// A replaced or stopped run's last lines are no news.
			tail = tailLines(filepath.Join(dst, "log"), 10) // redacted as collected
		}
		if run.Status == providers.Succeeded && run.Inputs != nil {
			r.readMetricsFiles(run, outs)
		}
		if run.Status == providers.Succeeded {
			// What downstream runs read: never written again.
			if err := snapshot.SetReadOnly(outs, true); err != nil {
				r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "make outputs read-only: " + err.Error()})
			}
		}
	}
	r.storeReattachedSnapshot(run)
	r.push(ctx, run)
	// When its process ended (a run that ended while no apply followed
	// it is collected later), else now.
	if end := endTime(run, st); !end.IsZero() {
		run.FinishedAt = &end
	} else {
		run.FinishedAt = ptr(time.Now())
	}
	if err := r.put(run); err != nil {
		r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: err.Error()})
	} else {
		if r.removeClearLog(ctx, comp, run, safe) {
			if err := r.put(run); err != nil {
				r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: err.Error()})
			}
		}
		r.recycle(ctx, comp, run)
		r.dropCheckpoint(ctx, comp, run)
	}
	r.emit(finishedEvent(run, tail))
}

// recycle lets the compute reuse what a succeeded run left, once its end
// is recorded. A failed run's directory stays whole, to be looked into.
func (r *Runtime) recycle(ctx context.Context, comp providers.Compute, run *state.Run) {
	rc, ok := comp.(providers.Recycler)
	if !ok || run.Status != providers.Succeeded || run.Handle == nil {
		return
	}
	if err := rc.Recycle(ctx, *run.Handle); err != nil {
		r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "recycle: " + err.Error()})
	}
}

func finishedEvent(run *state.Run, tail []string) Event {
	ev := Event{Type: RunFinished, Address: run.Address, RunID: run.ID, Attempt: run.Attempts,
		Compute: run.Compute, Status: run.Status, ExitCode: run.ExitCode, Reason: run.Reason,
		Started: run.StartedAt, Finished: run.FinishedAt, Tail: tail, Queued: run.QueueTime().Seconds()}
	if d, ok := run.RunTime(time.Now()); ok {
		ev.Ran = ptr(d.Seconds())
	}
	return ev
}

// failEarly records a run that could not even be submitted.
func (r *Runtime) failEarly(a *planner.Action, git *state.Git, reason string) *state.Run {
	run := r.newRun(a, git)
	run.Status, run.Reason, run.FinishedAt = providers.Failed, reason, ptr(time.Now())
	if err := r.put(run); err != nil {
		r.emit(Event{Type: Warning, Address: a.Address, Message: err.Error()})
	}
	r.emit(finishedEvent(run, nil))
	return run
}

func (r *Runtime) newRun(a *planner.Action, git *state.Git) *state.Run {
	inst := a.Instance
	run := &state.Run{
		ID:          state.NewRunID(),
		Address:     inst.Address,
		Experiment:  inst.Experiment,
		Fingerprint: a.Fingerprint,
		Inputs:      a.Inputs,
		Git:         git,
		Compute:     inst.Compute,
		Environment: inst.Environment,
		Params:      a.Inputs.Params,
		Settings:    a.Settings,
		Status:      providers.Pending,
		// The policy its sweep stops runs with: a stopped run runs again
		// when it changes.
		EarlyStopping: a.EarlyStopping,
		CreatedAt:     time.Now().UTC(),
	}
	run.User, run.Host = starter()
	if a.Promotion != nil {
		run.PromotedFrom, run.Promotion = a.Promotion.Run, a.Promotion.Reason
	}
	return run
}

// starter is who creates runs in this process, recorded with each: the
// user trainrun runs as (its login name; $USER when it has none) and its
// host's name.
func starter() (user, host string) {
	if u, err := osuser.Current(); err == nil {
		user = u.Username
	}
	if user == "" {
		user = os.Getenv("USER")
	}
	host, _ = os.Hostname()
	return user, host
}

// keepLog gives the collected log of run, redacted, to a backend that
// keeps logs for every checkout (state.LogKeeper): a teammate's logs then
// reads it.
func (r *Runtime) keepLog(run *state.Run, path string) {
	k, ok := r.State.(state.LogKeeper)
	if !ok {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return // no log collected
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > state.MaxKeptLog {
		f.Seek(fi.Size()-state.MaxKeptLog, io.SeekStart)
	}
	data, err := io.ReadAll(io.LimitReader(f, state.MaxKeptLog))
	if err == nil {
		err = k.PutLog(run.ID, data)
	}
	if err != nil {
		r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "keep the log in the backend: " + err.Error()})
	}
}

// runDir is where a run's results are collected.
func (r *Runtime) runDir(id string) string { return filepath.Join(r.DataDir, "runs", id) }

// spec builds what the compute needs to start run.
func (r *apply) spec(ctx context.Context, run *state.Run, a *planner.Action, gpus []int) (*providers.RunSpec, error) {
	inst := a.Instance
	m := r.snapshots[inst.SourceKey()]
	if m == nil || m.ID != a.Inputs.Snapshot {
		return nil, fmt.Errorf("no snapshot of %s", inst.SourceDir)
	}
	// A run that waited long after its apply stored the snapshot may
	// find files of it removed by gc (see StoreGrace): they are stored
	// again from the source, unless that changed since.
	if time.Since(r.storedAt) > StoreGrace/2 && slices.ContainsFunc(m.Entries, func(e snapshot.Entry) bool { return !r.Store.Has(e.Hash) }) {
		if err := planner.PutSnapshot(r.Store, inst, m); err != nil {
			return nil, fmt.Errorf("store snapshot of %s again: %w", inst.SourceDir, err)
		}
	}
	resume, prefix, err := r.resumeFiles(ctx, a)
	if err != nil {
		return nil, err
	}
	files := make([]providers.File, 0, len(m.Entries)+len(resume))
	for _, e := range m.Entries {
		if prefix != "" && (e.Path == prefix || strings.HasPrefix(e.Path, prefix+"/")) {
			continue // the rung below's checkpoint takes its place
		}
		files = append(files, providers.File{Path: e.Path, Mode: e.Mode, Blob: r.Store.BlobPath(e.Hash), Hash: e.Hash})
	}
	files = append(files, resume...)
	if inst.ParamsFile != "" {
		f, err := r.paramsFile(run.ID, inst)
		if err != nil {
			return nil, err
		}
		// It takes the place of a file of that name in the snapshot.
		files = slices.DeleteFunc(files, func(x providers.File) bool {
			return x.Path == f.Path || strings.HasPrefix(x.Path, f.Path+"/") || strings.HasPrefix(f.Path, x.Path+"/")
		})
		files = append(files, f)
	}
	env := RunEnv(inst, run.ID)
	inputs, inputRuns, err := r.inputDirs(ctx, run.ID, inst)
	if err != nil {
		return nil, err
	}
	if inputRuns != nil {
		run.InputRuns = inputRuns
	}
	return &providers.RunSpec{
		RunID:       run.ID,
		Address:     inst.Address,
		Experiment:  inst.Experiment,
		Files:       files,
		Command:     inst.Command,
		Shell:       inst.Shell,
		Env:         env,
		Inputs:      inputs,
		Resources:   inst.Resources,
		GPUs:        gpus,
		Timeout:     inst.Timeout,
		Outputs:     inst.Outputs,
		Checkpoint:  CheckpointKey(run),
		MaxRequeues: &inst.MaxRequeues,
	}, nil
}

// paramsFile writes the run's params as its params_file (SPEC §8) beside
// its results, from where it is put into the working directory like a
// file of the snapshot.
func (r *apply) paramsFile(runID string, inst *lang.Instance) (providers.File, error) {
	data, err := lang.EncodeParams(inst.ParamsFile, inst.Params)
	if err != nil {
		return providers.File{}, fmt.Errorf("params_file %s: %w", inst.ParamsFile, err)
	}
	dir := r.runDir(runID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return providers.File{}, err
	}
	blob := filepath.Join(dir, "params"+path.Ext(inst.ParamsFile))
	if err := os.WriteFile(blob, data, 0o600); err != nil { // params may hold secrets
		return providers.File{}, fmt.Errorf("params_file %s: %w", inst.ParamsFile, err)
	}
	sum := sha256.Sum256(data)
	return providers.File{Path: inst.ParamsFile, Mode: 0o644, Blob: blob, Hash: hex.EncodeToString(sum[:])}, nil
}

// resumeFiles returns, for a promoted instance of a successive-halving
// sweep that resumes (resume_from), the files of its resume path among the
// collected outputs of the run at the rung below that earned the
// promotion, and that path: the run finds them in its working directory,
// where that run left them.
func (r *apply) resumeFiles(ctx context.Context, a *planner.Action) ([]providers.File, string, error) {
	exp := r.Config.Experiments[a.Instance.Experiment]
	if exp == nil || exp.Halving == nil || exp.Halving.ResumeFrom == "" || a.Instance.Rung == 0 || a.Promotion == nil || a.Promotion.Run == "" {
		return nil, "", nil
	}
	prefix := strings.TrimSuffix(path.Clean(exp.Halving.ResumeFrom), "/")
	from, err := r.State.Get(a.Promotion.Run)
	if err != nil || from.Status != providers.Succeeded || from.Outputs == "" {
		return nil, "", fmt.Errorf("resume_from: run %s at the rung below has no collected outputs", a.Promotion.Run)
	}
	if from.Outputs == planner.EmptyOutputs {
		return nil, prefix, nil
	}
	m, err := r.Store.Fetch(ctx, from.Outputs)
	if err != nil {
		return nil, "", fmt.Errorf("resume_from: outputs of run %s: %w", from.ID, err)
	}
	var files []providers.File
	for _, e := range m.Entries {
		if e.Path == prefix || strings.HasPrefix(e.Path, prefix+"/") {
			files = append(files, providers.File{Path: e.Path, Mode: e.Mode, Blob: r.Store.BlobPath(e.Hash), Hash: e.Hash})
		}
	}
	return files, prefix, nil
}

// RunEnv is the environment SPEC §4 gives a run, except what its compute
// adds (outputs dir, metrics file, inputs, GPUs).
func RunEnv(inst *lang.Instance, runID string) map[string]string {
	env := make(map[string]string, len(inst.Env)+9+len(inst.Params))
	// Python buffers a pipe's output in 8 KB blocks: logs -f and apply's
	// stream would show a training loop's prints minutes late. The
	// experiment's env may say otherwise (PYTHONUNBUFFERED = "").
	env["PYTHONUNBUFFERED"] = "1"
	for k, v := range inst.Env {
		env[k] = v
	}
	env["TRAINRUN_RUN_ID"] = runID
	env["TRAINRUN_EXPERIMENT"] = inst.Experiment
	env["TRAINRUN_ADDRESS"] = inst.Address
	env["TRAINRUN_ATTEMPT"] = "1"
	params := make(map[string]json.RawMessage, len(inst.Params))
	for k, v := range inst.Params {
		params[k] = v
		env["TRAINRUN_PARAM_"+strings.ToUpper(k)] = lang.ParamString(v)
	}
	b, _ := json.Marshal(params)
	env["TRAINRUN_PARAMS"] = string(b)
	return env
}

// inputDirs finds the collected outputs of each input's upstream runs, and
// says which runs they are. An input that names a whole sweep is a
// directory holding one link per instance, named by its sweep key. A rerun is given the inputs of the run it reproduces instead.
func (r *apply) inputDirs(ctx context.Context, runID string, inst *lang.Instance) (map[string]string, map[string][]string, error) {
	if r.fixedInputs != nil {
		return r.fixedInputs, nil, nil
	}
	if len(inst.Inputs) == 0 {
		return nil, nil, nil
	}
	runs := make(map[string][]string, len(inst.Inputs))
	out := make(map[string]string, len(inst.Inputs))
	names := make([]string, 0, len(inst.Inputs))
	for n := range inst.Inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		addrs := inst.Inputs[name]
		dirs := make([]string, len(addrs))
		for i, addr := range addrs {
			up := r.State.Latest(addr)
			if up == nil || up.Status != providers.Succeeded {
				return nil, nil, fmt.Errorf("input %s: %s has no successful run", name, addr)
			}
			dir, err := r.collectedOutputs(ctx, up)
			if err != nil {
				return nil, nil, fmt.Errorf("input %s: %w", name, err)
			}
			dirs[i] = dir
			runs[name] = append(runs[name], up.ID)
		}
		keys := inst.InputKeys[name]
		if keys == nil && len(dirs) == 1 {
			out[name] = dirs[0]
			continue
		}
		dir := filepath.Join(r.runDir(runID), "inputs", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, err
		}
		for i, addr := range addrs {
			entry := instanceKey(addr)
			if keys != nil {
				entry = keyDirName(keys[i])
			}
			if err := os.Symlink(dirs[i], filepath.Join(dir, entry)); err != nil && !os.IsExist(err) {
				return nil, nil, err
			}
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			return nil, nil, err
		}
		out[name] = dir
	}
	return out, runs, nil
}

// collectedOutputs returns the directory of up's collected outputs on this
// machine, .trainrun/runs/ID/outputs. When this machine never ran up (a
// teammate did), it is made from the content store, which fetches from
// the remote what it lacks.
func (r *Runtime) collectedOutputs(ctx context.Context, up *state.Run) (string, error) {
	dir := filepath.Join(r.runDir(up.ID), "outputs")
	if _, err := os.Lstat(dir); err == nil {
		return dir, nil
	}
	d := r.guard().dir(dir)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := os.Lstat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(r.runDir(up.ID), 0o700); err != nil {
		return "", err
	}
	if err := r.restoreOutputs(ctx, dir, up.Outputs); err != nil {
		return "", fmt.Errorf("the outputs of run %s are not on this machine, and the content store cannot give them: %w", up.ID, err)
	}
	return dir, nil
}

// storeReattachedSnapshot stores the source snapshot of a run this apply
// re-attached to, when the apply that started it (killed, maybe in another
// checkout) stored it elsewhere and had not pushed it: this checkout's
// snapshot of the same source, when it has that very id, so that push
// gives teammates what 'checkout' and 'rerun' of the run need.
func (r *apply) storeReattachedSnapshot(run *state.Run) {
	if r.Store == nil || r.Store.Remote() == nil || run.Inputs == nil || run.Inputs.Snapshot == "" || r.Config == nil {
		return
	}
	if _, err := r.Store.LoadManifest(run.Inputs.Snapshot); err == nil {
		return
	}
	for _, in := range r.Config.Instances {
		if in.Address != run.Address {
			continue
		}
		m := r.snapshots[in.SourceKey()]
		if m == nil {
			// Collected before any plan (a run found ended): scanned now.
			m, _ = planner.ScanInstance(r.Config, in, r.DataDir)
		}
		if m != nil && m.ID == run.Inputs.Snapshot {
			if err := planner.PutSnapshot(r.Store, in, m); err != nil {
				r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "store the snapshot of " + in.SourceDir + ": " + err.Error()})
			}
		}
		return
	}
}

// push copies run's source snapshot and collected outputs to the content
// store's remote, when there is one, for teammates to fetch. Failing to
// is a warning: the run's result stands here.
func (r *Runtime) push(ctx context.Context, run *state.Run) {
	if r.Store == nil || r.Store.Remote() == nil || run.Inputs == nil {
		return
	}
	var ids []string
	if run.Inputs.Snapshot != "" {
		ids = append(ids, run.Inputs.Snapshot)
	}
	if run.Status == providers.Succeeded && run.Outputs != planner.EmptyOutputs && !strings.HasPrefix(run.Outputs, "run:") {
		ids = append(ids, run.Outputs)
	}
	if err := r.Store.Push(ctx, ids...); err != nil {
		r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "teammates cannot fetch this run's content: " + err.Error()})
	}
}

// instanceKey is the sweep key of an instance address, usable as a file
// name.
func instanceKey(addr string) string {
	i := strings.Index(addr, "[\"")
	if i < 0 {
		return strings.TrimPrefix(addr, "experiment.")
	}
	return keyDirName(strings.TrimSuffix(addr[i+2:], "\"]"))
}

// keyDirName is a sweep key as the name of the directory an input that
// names a whole sweep gives each instance.
func keyDirName(key string) string {
	return strings.NewReplacer("/", "_", "\x00", "_").Replace(key)
}

func ptr[T any](v T) *T { return &v }

// emptyDir reports whether dir has no entries (or does not exist).
func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

func stopped(stop <-chan struct{}) bool { return isClosed(stop) }

// isClosed reports whether ch is closed (a nil channel never is).
func isClosed[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
