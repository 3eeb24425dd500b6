package runtime

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
)

// Batches
//
// A compute that implements providers.BatchSubmitter (Slurm) starts many
// runs in one request and schedules them itself. Apply gathers the first
// attempts of an experiment's runs on such a compute that become ready
// together, and submits them with one SubmitBatch call: a 1000-point sweep
// is one job array. These runs take no slots from the scheduler: the
// compute's own scheduler bounds them, with the sweep's max_concurrent as
// the batch's bound. Retries are submitted one by one.

// batchLinger is how long a group waits for more of its runs after the
// last one joined, while some have not: runs whose upstream ends a little
// later, and runs that never come (skipped, or with nothing to do after
// all) cost no more than this.
const batchLinger = 200 * time.Millisecond

// batcher holds one apply's batch groups.
type batcher struct {
	groups map[string]*batchGroup // by action address
}

// batchGroup gathers the runs of one experiment on one compute.
type batchGroup struct {
	ctx        context.Context // the apply's
	stop       <-chan struct{}
	sub        providers.BatchSubmitter
	comp       providers.Compute
	experiment string
	maxConc    int
	emit       func(Event)
	compute    string // its name

	mu      sync.Mutex
	missing int // runs that have not joined yet
	waiting []*batchEntry
	timer   *time.Timer
}

type batchEntry struct {
	spec *providers.RunSpec
	done chan struct{} // closed when h or err is set
	h    providers.Handle
	err  error
}

// newBatcher groups the submit actions that eligible allows by experiment
// and compute, keeping the groups of computes that submit in batches and
// have at least two runs.
func (r *apply) newBatcher(ctx context.Context, p *planner.Plan, opts Options, eligible func(pos int) bool) *batcher {
	type key struct{ experiment, compute string }
	members := map[key][]string{}
	comps := map[key]providers.Compute{}
	for pos, a := range p.Actions {
		if a.Action != planner.Submit || !eligible(pos) {
			continue
		}
		k := key{a.Instance.Experiment, a.Instance.Compute}
		if _, seen := comps[k]; !seen {
			comp, err := r.Computes.Get(a.Instance.Compute)
			if _, ok := comp.(providers.BatchSubmitter); !ok || err != nil {
				comp = nil
			}
			comps[k] = comp
		}
		if comps[k] != nil {
			members[k] = append(members[k], a.Address)
		}
	}
	b := &batcher{groups: map[string]*batchGroup{}}
	for k, addrs := range members {
		if len(addrs) < 2 {
			continue
		}
		g := &batchGroup{ctx: ctx, stop: opts.Stop, comp: comps[k], sub: comps[k].(providers.BatchSubmitter),
			experiment: k.experiment, missing: len(addrs), emit: r.emit, compute: k.compute}
		if x := r.Config.Experiments[k.experiment]; x != nil {
			g.maxConc = x.MaxConcurrent
		}
		for _, addr := range addrs {
			b.groups[addr] = g
		}
	}
	return b
}

// group returns the batch group of the action at address, or nil.
func (b *batcher) group(address string) *batchGroup {
	if b == nil {
		return nil
	}
	return b.groups[address]
}

// acquire is sched.acquire for runs that are not batched. A batched run
// takes nothing from the scheduler.
func (r *apply) acquire(ctx context.Context, sched *scheduler, pos int, a *planner.Action, comp providers.Compute, opts Options) (*grant, error) {
	if r.batches.group(a.Address) != nil {
		if stopped(opts.Stop) || ctx.Err() != nil {
			return nil, errStopped
		}
		return &grant{}, nil
	}
	return sched.acquire(ctx, opts.Stop, pos, a.Instance, comp)
}

// submit starts one attempt of run: the first attempt of a batched run with
// its group, any other with comp.Submit.
func (r *apply) submit(ctx context.Context, comp providers.Compute, address string, spec *providers.RunSpec) (providers.Handle, error) {
	if g := r.batches.group(address); g != nil && spec.Attempt == 1 && g.comp == comp {
		return g.join(ctx, spec)
	}
	return comp.Submit(ctx, spec)
}

// join adds spec to the group and waits until the group is submitted. The
// group goes when all its runs have joined, or batchLinger after the last
// one did.
func (g *batchGroup) join(ctx context.Context, spec *providers.RunSpec) (providers.Handle, error) {
	e := &batchEntry{spec: spec, done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, e)
	g.missing--
	all := g.missing <= 0
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if !all {
		g.timer = time.AfterFunc(batchLinger, g.flush)
	}
	g.mu.Unlock()
	if all {
		g.flush()
	}
	select {
	case <-e.done:
		return e.h, e.err
	case <-ctx.Done():
	}
	// Superseded or cancelled: leave the group unless it is being
	// submitted, in which case its outcome is this run's.
	g.mu.Lock()
	for i, w := range g.waiting {
		if w == e {
			g.waiting = append(g.waiting[:i:i], g.waiting[i+1:]...)
			g.mu.Unlock()
			return providers.Handle{}, ctx.Err()
		}
	}
	g.mu.Unlock()
	<-e.done
	return e.h, e.err
}

// flush submits the runs waiting in the group: with SubmitBatch when there
// are several, with Submit when one is left.
func (g *batchGroup) flush() {
	g.mu.Lock()
	entries := g.waiting
	g.waiting = nil
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.mu.Unlock()
	if len(entries) == 0 {
		return
	}
	defer func() {
		for _, e := range entries {
			close(e.done)
		}
	}()
	if stopped(g.stop) || g.ctx.Err() != nil {
		for _, e := range entries {
			e.err = errStopped
		}
		return
	}
	if len(entries) == 1 {
		entries[0].h, entries[0].err = g.comp.Submit(g.ctx, entries[0].spec)
		return
	}
	specs := make([]*providers.RunSpec, len(entries))
	for i, e := range entries {
		specs[i] = e.spec
	}
	hs, err := g.sub.SubmitBatch(g.ctx, providers.Batch{Experiment: g.experiment, MaxConcurrent: g.maxConc, Specs: specs})
	if err == nil && len(hs) != len(entries) {
		err = errBatchHandles
	}
	if err != nil && g.emit != nil {
		// Said once for the batch: each run's end then gives it as its
		// reason ("submit: " and this), which views need not repeat.
		g.emit(Event{Type: BatchFailed, Address: "experiment." + g.experiment, Compute: g.compute,
			Reason: err.Error(), Counts: map[string]int{"runs": len(entries)}})
	}
	for i, e := range entries {
		if err != nil {
			e.err = err
		} else {
			e.h = hs[i]
		}
	}
}

var errBatchHandles = errors.New("the compute returned another number of handles than runs")
