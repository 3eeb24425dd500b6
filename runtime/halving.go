package runtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/policy"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// halving promotes the points of one successive-halving sweep during an
// apply, asynchronously: each time a run of a rung ends, the points that
// now rank in the best ⌊n/eta⌋ of the n runs of that rung that ended are
// promoted to the next rung at once, and when the rung has no run left to
// wait for, the points still waiting at the next rung are not promoted.
// The plan decided what the recorded runs decide already (see
// planner.Promotion); this goes on from there with the runs of this apply.
type halving struct {
	h *lang.Halving

	mu    sync.Mutex
	rungs []*rung
}

// rung is one rung's state during the apply.
type rung struct {
	results []policy.Result
	runOf   map[string]string // point → the run of its result
	// open counts the rung's instances that may still end in a result in
	// this apply: those that run, and those that wait for a promotion.
	open int
	// waiting holds the instances that wait to be promoted to this rung,
	// by point, until they are told.
	waiting map[string]chan promotion
}

// promotion is what an instance waiting at a rung is told.
type promotion struct {
	promoted bool
	run      string // the run at the rung below that earned it
	reason   string // how that run ranked
}

// startHalving makes the controller of each successive-halving sweep of p
// and tells the instances that wait what the plan's settled runs decide
// already (nothing, unless some rung's runs all ended before).
func (r *Runtime) startHalving(p *planner.Plan) map[string]*halving {
	var out map[string]*halving
	for _, a := range p.Actions {
		exp := r.Config.Experiments[a.Instance.Experiment]
		if exp == nil || exp.Halving == nil {
			continue
		}
		hv := out[exp.Name]
		if hv == nil {
			hv = &halving{h: exp.Halving, rungs: make([]*rung, len(exp.Halving.Budgets))}
			for k := range hv.rungs {
				hv.rungs[k] = &rung{runOf: map[string]string{}, waiting: map[string]chan promotion{}}
			}
			if out == nil {
				out = make(map[string]*halving)
			}
			out[exp.Name] = hv
		}
		k, point := a.Instance.Rung, a.Instance.Point
		if k >= len(hv.rungs) {
			continue
		}
		g := hv.rungs[k]
		switch {
		case a.AwaitsPromotion != nil:
			g.waiting[point] = make(chan promotion, 1)
			g.open++
		case runs(a):
			g.open++
		case a.Action == planner.NoOp && a.Promotion == nil && k > 0:
			// Not promoted: not of the rung.
		case a.Prior != nil && !a.Prior.Live():
			g.results = append(g.results, planner.Result(point, a.Prior, exp.Halving.Metric))
			g.runOf[point] = a.Prior.ID
		}
	}
	for _, hv := range out {
		hv.mu.Lock()
		for k := range hv.rungs {
			hv.advanceLocked(k)
		}
		hv.mu.Unlock()
	}
	return out
}

// runs reports whether action a runs (or waits for a live run) in this
// apply.
func runs(a *planner.Action) bool {
	return a.Action == planner.Submit || a.Action == planner.Pending || a.Action == planner.NoOp && a.Prior != nil && a.Prior.Live()
}

// ended says the instance of point at rung k ended in this apply: with
// run, when it ran (nil when it did not start).
func (hv *halving) ended(k int, point string, run *state.Run) {
	hv.mu.Lock()
	defer hv.mu.Unlock()
	g := hv.rungs[k]
	g.open--
	if run != nil && (run.Status == providers.Succeeded || run.Status == providers.Failed || run.Status == providers.Stopped) {
		g.results = append(g.results, planner.Result(point, run, hv.h.Metric))
		g.runOf[point] = run.ID
	}
	hv.advanceLocked(k)
}

// advanceLocked promotes what rung k's results promote now to rung k+1,
// and when rung k has nothing left to wait for, tells the rest of rung
// k+1's waiting instances they are not promoted (then rung k+1 may be
// complete in turn).
func (hv *halving) advanceLocked(k int) {
	if k+1 >= len(hv.rungs) {
		return
	}
	g, next := hv.rungs[k], hv.rungs[k+1]
	if len(next.waiting) == 0 {
		return
	}
	placed, top := policy.Rung(g.results, hv.h.Eta, hv.h.Goal)
	rank := make(map[string]policy.Placed, len(placed))
	for _, p := range placed {
		rank[p.ID] = p
		if ch := next.waiting[p.ID]; ch != nil && p.Promoted {
			ch <- promotion{promoted: true, run: g.runOf[p.ID], reason: policy.PromotionReason(p, len(placed), top, hv.h.Metric, hv.h.RungName(k))}
			delete(next.waiting, p.ID)
		}
	}
	if g.open > 0 {
		return
	}
	for point, ch := range next.waiting {
		reason := "no run at " + hv.h.RungName(k)
		if p, ok := rank[point]; ok {
			reason = policy.PromotionReason(p, len(placed), top, hv.h.Metric, hv.h.RungName(k))
		}
		ch <- promotion{reason: reason}
		delete(next.waiting, point)
		next.open--
		// Nor is it promoted further up.
		for j := k + 2; j < len(hv.rungs); j++ {
			if ch := hv.rungs[j].waiting[point]; ch != nil {
				ch <- promotion{reason: "no run at " + hv.h.RungName(j-1)}
				delete(hv.rungs[j].waiting, point)
				hv.rungs[j].open--
			}
		}
	}
	hv.advanceLocked(k + 1)
}

// await waits until the point of a, an instance waiting for its promotion,
// is promoted or not; false when apply stops first.
func (hv *halving) await(ctx context.Context, opts Options, a *planner.Action) (promotion, bool) {
	hv.mu.Lock()
	ch := hv.rungs[a.Instance.Rung].waiting[a.Instance.Point]
	hv.mu.Unlock()
	if ch == nil {
		return promotion{}, false
	}
	select {
	case pr := <-ch:
		return pr, true
	case <-opts.Stop:
	case <-opts.Detach:
	case <-ctx.Done():
	}
	return promotion{}, false
}

// promoted makes a, told its promotion, what the plan would have made it
// with the run at the rung below recorded: a submit (or, waiting for
// upstream outputs too, pending), or a no-op that is not promoted. It
// returns the event that says so.
func promoted(a *planner.Action, pr promotion) Event {
	ev := Event{Type: RunDecided, Address: a.Address}
	if !pr.promoted {
		a.Action, a.Reasons, a.Pending = planner.NoOp, []string{"not promoted: " + pr.reason}, nil
		ev.Action, ev.Reason = planner.NoOp, a.Reasons[0]
		return ev
	}
	a.Promotion = &planner.Promotion{From: a.AwaitsPromotion.From, Run: pr.run, Reason: pr.reason}
	why := "promoted: " + pr.reason
	if len(a.Pending) > 0 {
		a.Reasons = []string{why} // resolved once its upstream ran
	} else {
		a.Action, a.Reasons = planner.Submit, []string{why}
	}
	ev.Action, ev.Reason = planner.Submit, why
	return ev
}

// priority is where a run of the plan at position pos waits for its slots
// among n: the runs of higher rungs of successive halving first (a
// promoted point goes on before new points start), then in plan order.
func priority(a *planner.Action, pos, n, rungs int) int {
	return (rungs-1-a.Instance.Rung)*n + pos
}

func (hv *halving) String() string { return fmt.Sprintf("asha %s", hv.h) }
