package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/state"
)

// Applies at the same time
//
// Watch applies each cycle's plan while the runs of earlier cycles are
// still live. It does so with one Runtime per cycle, made by WithConfig,
// and one Apply call per Runtime, each on its own goroutine. The Runtimes
// of one command share:
//
//   - the scheduler, so that -parallelism, compute slots, GPUs and
//     max_concurrent bound the runs of every apply together (plan positions
//     are reserved per apply, keeping the scheduler's lines apart and
//     serving earlier applies first);
//   - the flights: every action of every apply that runs something, from
//     the moment its apply takes the plan until its run's end is recorded.
//     A newer apply joins a flight of the same instance and fingerprint
//     instead of starting a duplicate (the plan could not know of a run
//     still queued, or re-attach to one another apply already waits for),
//     and supersedes flights of the same instance with another fingerprint:
//     with Options.CancelSuperseded they are cancelled, through their own
//     context, so the compute's Cancel runs and the run is recorded as
//     cancelled with the reason; without it they go on;
//   - the sink's lock, so that the Sink still sees one event at a time.
//
// Each Runtime keeps its own configuration (secrets, environments), so a
// run is carried out and redacted with the configuration it was planned
// with.

// shared is what a Runtime shares with the Runtimes WithConfig makes.
type shared struct {
	emitMu sync.Mutex

	mu      sync.Mutex
	sched   *scheduler
	nextPos int                   // the next free plan position
	flights map[string][]*flight  // by address, until they land
	byRun   map[string]*flight    // by run id, until they land
	inputs  *inputGuard           // made on first use
	claims  map[string]*heldClaim // by address: this process's claims (claims.go)
	ends    endings               // of runs that freed their slots
}

func (r *Runtime) shared() *shared {
	r.once.Do(func() {
		if r.sh == nil {
			r.sh = &shared{flights: make(map[string][]*flight), byRun: make(map[string]*flight)}
		}
	})
	return r.sh
}

// WithConfig returns a Runtime for cfg, a newer configuration of the same
// project, whose Apply may run while the applies of r (and of the other
// Runtimes made from it) still do. It shares r's state, content store,
// sink and computes (set its Computes when the compute blocks changed),
// and r's bounds: those of the first apply hold for all of them. Its
// applies join the runs in flight that have the fingerprint they plan,
// and supersede the others of the same instances.
//
// Each Apply call is an apply of its own (snapshots, batches, sweeps), so
// the applies of one Runtime and of its relatives may run at the same time.
func (r *Runtime) WithConfig(cfg *lang.Config) *Runtime {
	return &Runtime{Config: cfg, State: r.State, Computes: r.Computes, DataDir: r.DataDir, Store: r.Store, Sink: r.Sink, sh: r.shared()}
}

// scheduler returns the scheduler shared by r's relatives, made with the
// bounds of the first apply, and reserves n plan positions for one apply.
func (r *Runtime) scheduler(par int, maxConc func(string) int, n int, holder state.Holder) (*scheduler, int) {
	sh := r.shared()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.sched == nil {
		sh.sched = newScheduler(par, maxConc)
		if r.State != nil {
			sh.sched.places = claimPlaces{st: r.State, holder: holder}
		}
	} else {
		// An experiment's bound is read when its first run waits: one new
		// in this configuration gets its own. Bounds already in use stay.
		sh.sched.mu.Lock()
		sh.sched.maxConc = maxConc
		sh.sched.mu.Unlock()
	}
	base := sh.nextPos
	sh.nextPos += n
	return sh.sched, base
}

// flight is one action that runs something, from when its apply takes the
// plan until its run's end is recorded.
type flight struct {
	address     string
	fingerprint string
	cancel      context.CancelFunc
	done        chan struct{}

	// Guarded by shared.mu.
	runID      string // once known
	superseded string // why a newer plan superseded it
	cancelled  bool   // superseded, and being cancelled

	// Set before done closes.
	run *state.Run
	ok  bool
}

type flightKey struct{}

// boarding is how one action of an apply takes part.
type boarding struct {
	ctx  context.Context // the action's: cancelled when it is superseded
	own  *flight         // this action's flight, if it runs something
	join *flight         // or the flight it waits for instead
	// restart: the plan waits for a live run that is being cancelled, so
	// a new run is started instead.
	restart bool
	// prior is a live run recorded by an earlier command, which this
	// action supersedes and cancels first (with CancelSuperseded);
	// priorFlight stands for it meanwhile.
	prior       *state.Run
	priorFlight *flight
	// ended is the record of the plan's live prior run, which ended after
	// the plan was made.
	ended *state.Run
}

// board decides, in plan order, how each action takes part: whether it
// joins a flight, supersedes others, or re-attaches.
func (r *Runtime) board(ctx context.Context, p *planner.Plan, opts Options) []*boarding {
	sh := r.shared()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	out := make([]*boarding, len(p.Actions))
	for i, a := range p.Actions {
		b := &boarding{ctx: ctx}
		out[i] = b
		live := a.Action == planner.NoOp && a.Prior != nil && a.Prior.Live()
		if a.Action != planner.Submit && !live {
			continue
		}
		if live && sh.byRun[a.Prior.ID] == nil {
			if rec, err := r.State.Get(a.Prior.ID); err == nil && !rec.Live() {
				b.ended = rec
				continue
			}
		}
		var same *flight
		for _, f := range sh.flights[a.Address] {
			switch {
			case f.cancelled:
			case same == nil && a.Fingerprint != "" && f.fingerprint == a.Fingerprint:
				same = f
			case f.superseded == "":
				r.supersedeLocked(f, a, opts)
			}
		}
		if same != nil {
			same.superseded = "" // wanted again, if it was superseded and kept running
			b.join = same
			continue
		}
		fctx, cancel := context.WithCancel(ctx)
		f := &flight{address: a.Address, fingerprint: a.Fingerprint, cancel: cancel, done: make(chan struct{})}
		b.own, b.ctx = f, context.WithValue(fctx, flightKey{}, f)
		sh.flights[a.Address] = append(sh.flights[a.Address], f)
		switch {
		case live && sh.byRun[a.Prior.ID] != nil:
			// Its follower was superseded and is cancelling it.
			b.restart = true
		case live:
			f.runID = a.Prior.ID
			sh.byRun[f.runID] = f
		case opts.CancelSuperseded && a.Prior != nil && a.Prior.Live() && sh.byRun[a.Prior.ID] == nil:
			rec, err := r.State.Get(a.Prior.ID)
			if err != nil || !rec.Live() {
				break
			}
			pf := &flight{address: a.Address, runID: rec.ID, done: make(chan struct{}), cancel: func() {}}
			sh.byRun[rec.ID] = pf
			r.supersedeLocked(pf, a, opts)
			b.prior, b.priorFlight = rec, pf
		}
	}
	return out
}

// supersedeLocked marks f superseded by a, and cancels it with
// CancelSuperseded.
func (r *Runtime) supersedeLocked(f *flight, a *planner.Action, opts Options) {
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
	r.emit(ev)
}

// takeOff runs before an action with its own flight does anything: it
// cancels the live run of an earlier command that the action supersedes,
// and records it.
func (r *Runtime) takeOff(b *boarding) {
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
	sh := r.shared()
	sh.mu.Lock()
	if sh.byRun[b.prior.ID] == b.priorFlight {
		delete(sh.byRun, b.prior.ID)
	}
	sh.mu.Unlock()
}

// joined waits for the flight b joins and returns its outcome; nil and
// false when the apply stops waiting first.
func (r *Runtime) joined(ctx context.Context, b *boarding, opts Options) (*state.Run, bool) {
	select {
	case <-b.join.done:
		return b.join.run, b.join.ok
	case <-opts.Detach:
	case <-ctx.Done():
	}
	return nil, false
}

// land records how b's own flight ended and lets its joiners go.
func (r *Runtime) land(b *boarding, run *state.Run, ok bool) {
	f := b.own
	if f == nil {
		return
	}
	sh := r.shared()
	sh.mu.Lock()
	f.run, f.ok = run, ok
	sh.flights[f.address] = slices.DeleteFunc(sh.flights[f.address], func(g *flight) bool { return g == f })
	if len(sh.flights[f.address]) == 0 {
		delete(sh.flights, f.address)
	}
	if f.runID != "" && sh.byRun[f.runID] == f {
		delete(sh.byRun, f.runID)
	}
	sh.mu.Unlock()
	f.cancel()
	close(f.done)
}

// follow notes that the action whose context ctx is carries out run id.
func (r *Runtime) follow(ctx context.Context, id string) {
	f, _ := ctx.Value(flightKey{}).(*flight)
	if f == nil {
		return
	}
	sh := r.shared()
	sh.mu.Lock()
	f.runID = id
	sh.byRun[id] = f
	sh.mu.Unlock()
}

// supersededReason returns why a run that did not succeed was cancelled
// by a newer plan, or "".
func (r *Runtime) supersededReason(id string) string {
	sh := r.shared()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f := sh.byRun[id]; f != nil && f.cancelled {
		return f.superseded
	}
	return ""
}
