package runtime

import (
	"sync"

	"github.com/trainrun/trainrun/lang"
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
//   - the tracker of actions in flight (tracker.go): every action of every
//     apply that runs something, from the moment its apply takes the plan
//     until its run's end is recorded. A newer apply joins a tracked action
//     of the same instance and fingerprint
//     instead of starting a duplicate (the plan could not know of a run
//     still queued, or re-attach to one another apply already waits for),
//     and supersedes those of the same instance with another fingerprint:
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

	runs *tracker // the actions in flight (tracker.go)

	mu      sync.Mutex
	sched   *scheduler
	nextPos int                   // the next free plan position
	gens    uint64                // the last Runtime.gen given
	inputs  *inputGuard           // made on first use
	claims  map[string]*heldClaim // by address: this process's claims (claims.go)
	ends    endings               // of runs that freed their slots
}

func (r *Runtime) shared() *shared {
	r.once.Do(func() {
		if r.sh == nil {
			r.sh = &shared{runs: newTracker()}
		}
	})
	return r.sh
}

// tracker returns the actions in flight of r and its relatives.
func (r *Runtime) tracker() *tracker { return r.shared().runs }

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
//
// Runtimes made later stand for newer configurations: an apply of an older
// one that takes its plan after an apply of a newer one (its goroutine was
// slower to get there) does not supersede the newer one's actions; its own
// are superseded instead, as if it had come first.
func (r *Runtime) WithConfig(cfg *lang.Config) *Runtime {
	sh := r.shared()
	sh.mu.Lock()
	sh.gens++
	gen := sh.gens
	sh.mu.Unlock()
	return &Runtime{Config: cfg, State: r.State, Computes: r.Computes, DataDir: r.DataDir, Store: r.Store, Sink: r.Sink, sh: sh, gen: gen}
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
