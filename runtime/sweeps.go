package runtime

import (
	"path/filepath"
	"sync"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/policy"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// stopper carries out one experiment's early-stopping policy during an
// apply: it holds the metric's values of every run of the sweep (those
// that ended before, read back from their collected metrics, and the live
// ones as they come) and hands each decision to stop a run to the
// goroutine that waits for it.
type stopper struct {
	p policy.Stopping
	// ready is closed once the values of the runs that ended before are
	// read: runs start meanwhile, and their values wait for it.
	ready chan struct{}

	mu    sync.Mutex
	sweep *policy.Sweep
	live  map[string]chan policy.Decision // run id → where its stop goes
}

func newStopper(p policy.Stopping) *stopper {
	return &stopper{p: p, ready: make(chan struct{}), sweep: policy.NewSweep(p), live: make(map[string]chan policy.Decision)}
}

func (s *stopper) metric() string { return s.p.Metric }

// report takes one value of the policy's metric from a live run and passes
// on the decisions it leads to.
func (s *stopper) report(id string, step, value float64) {
	<-s.ready
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.sweep.Report(id, step, value) {
		if ch := s.live[d.ID]; ch != nil {
			select {
			case ch <- d:
			default: // a decision is on its way already
			}
		}
	}
}

// watch says run id is live: a decision to stop it comes on the channel.
func (s *stopper) watch(id string) <-chan policy.Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan policy.Decision, 1)
	s.live[id] = ch
	return ch
}

// unwatch says nobody waits for run id now (its attempt ended).
func (s *stopper) unwatch(id string) {
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
}

// end says run id ended: its values count for the others, and the policy
// decides nothing more about it.
func (s *stopper) end(id string) {
	s.mu.Lock()
	s.sweep.End(id)
	s.mu.Unlock()
}

// add reads the metric's values from a metrics file of a run that ended.
func (s *stopper) add(id, path string) {
	points, _ := ReadSeries(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0.0
	for _, p := range points {
		if p.Name != s.p.Metric {
			continue
		}
		n++
		step := n
		if p.Step != nil {
			step = *p.Step
		}
		s.sweep.Add(id, step, p.Value)
	}
	s.sweep.End(id)
}

// startSweeps makes a stopper for each experiment of p with an
// early-stopping policy, and reads into it, in the background (runs start
// meanwhile), the values of its instances' runs that ended and stay
// current: those that this apply does not run again.
func (r *apply) startSweeps(p *planner.Plan) map[string]*stopper {
	var out map[string]*stopper
	actions := make(map[string]*planner.Action, len(p.Actions))
	for _, a := range p.Actions {
		actions[a.Address] = a
	}
	for name, exp := range r.Config.Experiments {
		if exp.EarlyStopping == nil {
			continue
		}
		s := newStopper(*exp.EarlyStopping)
		var ended []string
		for _, inst := range exp.Instances {
			var prior *state.Run
			if a := actions[inst.Address]; a != nil {
				if a.Action != planner.NoOp && a.Action != planner.Update {
					continue // it runs again: its old values are stale
				}
				prior = a.Prior
			} else {
				prior = r.State.Latest(inst.Address)
			}
			if prior == nil || prior.Live() || prior.Status == providers.Cancelled {
				continue // a live run's values come as it writes them
			}
			ended = append(ended, prior.ID)
		}
		go func() {
			defer close(s.ready)
			for _, id := range ended {
				s.add(id, filepath.Join(r.runDir(id), metricsFile))
			}
		}()
		if out == nil {
			out = make(map[string]*stopper)
		}
		out[name] = s
	}
	return out
}

// sweepOf returns the stopper of experiment name, or nil.
func (r *apply) sweepOf(name string) *stopper { return r.sweeps[name] }
