package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/state"
)

// tracker keeps the actions in flight of a Runtime's applies and of its
// relatives' (WithConfig): each action that runs something, from when its
// apply takes the plan until its run's end is recorded. A newer apply joins
// the tracked action of its instance that has the fingerprint it plans,
// instead of starting a duplicate, and supersedes those with another
// fingerprint (see the comment on shared in concurrent.go).
type tracker struct {
	mu        sync.Mutex
	byAddress map[string][]*tracked // until their end is recorded
	byRun     map[string]*tracked   // by run id, until their end is recorded
}

func newTracker() *tracker {
	return &tracker{byAddress: make(map[string][]*tracked), byRun: make(map[string]*tracked)}
}

// tracked is one action that runs something, from when its apply takes the
// plan until its run's end is recorded.
type tracked struct {
	address     string
	fingerprint string
	cancel      context.CancelFunc
	done        chan struct{}
	gen         uint64 // its Runtime's (see WithConfig)

	// Guarded by tracker.mu.
	runID      string // once known
	superseded string // why a newer plan superseded it
	cancelled  bool   // superseded, and being cancelled
	joiners    int    // actions of other applies that joined it

	// Set before done closes.
	run *state.Run
	ok  bool
}

type trackedKey struct{}

// role is how one action of an apply takes part.
type role struct {
	ctx  context.Context // the action's: cancelled when it is superseded
	own  *tracked        // this action, tracked, if it runs something
	join *tracked        // or the tracked action it waits for instead
	// restart: the plan waits for a live run that is being cancelled, so
	// a new run is started instead.
	restart bool
	// prior is a live run recorded by an earlier command, which this
	// action supersedes and cancels first (with CancelSuperseded);
	// priorTracked stands for it meanwhile.
	prior        *state.Run
	priorTracked *tracked
	// ended is the record of the plan's live prior run, which ended after
	// the plan was made.
	ended *state.Run
}

// assign decides, in plan order, the role of each action of p: whether it
// joins a tracked action, supersedes others, or re-attaches. gen is the
// Runtime's (see WithConfig): the tracked actions of a higher one are not
// superseded, they supersede the new one. get reads a run's record; emit
// says what was superseded.
func (t *tracker) assign(ctx context.Context, p *planner.Plan, opts Options, gen uint64, get func(id string) (*state.Run, error), emit func(Event)) []*role {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*role, len(p.Actions))
	for i, a := range p.Actions {
		b := &role{ctx: ctx}
		out[i] = b
		live := a.Action == planner.NoOp && a.Prior != nil && a.Prior.Live()
		if a.Action != planner.Submit && !live {
			continue
		}
		if live && t.byRun[a.Prior.ID] == nil {
			if rec, err := get(a.Prior.ID); err == nil && !rec.Live() {
				b.ended = rec
				continue
			}
		}
		var same *tracked
		newer := false // a newer configuration's action is tracked
		for _, f := range t.byAddress[a.Address] {
			switch {
			case f.cancelled:
			case same == nil && a.Fingerprint != "" && f.fingerprint == a.Fingerprint:
				same = f
			case f.gen > gen:
				newer = true
			case f.superseded == "":
				emit(supersedeLocked(f, a, opts))
			}
		}
		if same != nil {
			same.superseded = "" // wanted again, if it was superseded and kept running
			same.joiners++
			b.join = same
			continue
		}
		fctx, cancel := context.WithCancel(ctx)
		f := &tracked{address: a.Address, fingerprint: a.Fingerprint, cancel: cancel, done: make(chan struct{}), gen: gen}
		b.own, b.ctx = f, context.WithValue(fctx, trackedKey{}, f)
		t.byAddress[a.Address] = append(t.byAddress[a.Address], f)
		switch {
		case live && t.byRun[a.Prior.ID] != nil:
			// Its follower was superseded and is cancelling it.
			b.restart = true
		case live:
			f.runID = a.Prior.ID
			t.byRun[f.runID] = f
		case opts.CancelSuperseded && a.Prior != nil && a.Prior.Live() && t.byRun[a.Prior.ID] == nil:
			rec, err := get(a.Prior.ID)
			if err != nil || !rec.Live() {
				break
			}
			pf := &tracked{address: a.Address, runID: rec.ID, done: make(chan struct{}), cancel: func() {}}
			t.byRun[rec.ID] = pf
			emit(supersedeLocked(pf, a, opts))
			b.prior, b.priorTracked = rec, pf
		}
		if newer {
			// As if this apply had come first and the newer one after.
			emit(supersedeLocked(f, a, opts))
		}
	}
	return out
}

// supersedeLocked marks f superseded by a, cancels it with
// CancelSuperseded, and returns the event that says so. The tracker's lock
// is held.
func supersedeLocked(f *tracked, a *planner.Action, opts Options) Event {
	var reasons []string
	for _, r := range a.Reasons {
		if !strings.HasPrefix(r, "supersedes live run") { // the event says so
			reasons = append(reasons, r)
		}
	}
	why := strings.Join(reasons, "; ")
	f.superseded = "superseded by a newer run"
	if why != "" {
		f.superseded += " (" + why + ")"
	}
	ev := Event{Type: RunSuperseded, Address: f.address, RunID: f.runID, Reason: why, Message: "left running"}
	if opts.CancelSuperseded {
		f.cancelled = true
		f.cancel()
		ev.Message = "cancelling it"
		if f.runID == "" {
			ev.Message = "it will not start"
		}
	}
	return ev
}

// cancelPrior runs before an action with its own tracked run does
// anything: it cancels the live run of an earlier command that the action
// supersedes, and records it.
func (r *Runtime) cancelPrior(b *role) {
	if b.prior == nil {
		return
	}
	// Not the action's context: its cancellation would leave the old run
	// unrecorded. Cancel waits for the run to end, within the compute's
	// grace.
	ctx := context.WithoutCancel(b.ctx)
	if err := r.Cancel(ctx, b.prior, true); err != nil {
		r.emit(Event{Type: Warning, Address: b.prior.Address, RunID: b.prior.ID, Message: fmt.Sprintf("cancel superseded run: %v", err)})
	}
	t := r.tracker()
	t.mu.Lock()
	if t.byRun[b.prior.ID] == b.priorTracked {
		delete(t.byRun, b.prior.ID)
	}
	t.mu.Unlock()
}

// waitJoined waits for the tracked action b joins and returns its outcome;
// nil and false when the apply stops waiting first.
func (b *role) waitJoined(ctx context.Context, opts Options) (*state.Run, bool) {
	select {
	case <-b.join.done:
		return b.join.run, b.join.ok
	case <-opts.Detach:
	case <-ctx.Done():
	}
	return nil, false
}

// release records how b's own action ended and lets its joiners go.
func (t *tracker) release(b *role, run *state.Run, ok bool) {
	f := b.own
	if f == nil {
		return
	}
	t.mu.Lock()
	f.run, f.ok = run, ok
	t.byAddress[f.address] = slices.DeleteFunc(t.byAddress[f.address], func(g *tracked) bool { return g == f })
	if len(t.byAddress[f.address]) == 0 {
		delete(t.byAddress, f.address)
	}
	if f.runID != "" && t.byRun[f.runID] == f {
		delete(t.byRun, f.runID)
	}
	t.mu.Unlock()
	f.cancel()
	close(f.done)
}

// setRunID notes that the action whose context ctx is carries out run id.
func (t *tracker) setRunID(ctx context.Context, id string) {
	f, _ := ctx.Value(trackedKey{}).(*tracked)
	if f == nil {
		return
	}
	t.mu.Lock()
	f.runID = id
	t.byRun[id] = f
	t.mu.Unlock()
}

// supersededReason returns why a run that did not succeed was cancelled
// by a newer plan, or "".
func (t *tracker) supersededReason(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.byRun[id]; f != nil && f.cancelled {
		return f.superseded
	}
	return ""
}
