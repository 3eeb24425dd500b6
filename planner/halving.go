package planner

import (
	"fmt"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/policy"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Successive halving in a plan
//
// Every rung of every point is an instance (the budget is part of its
// key). An instance above the first rung runs only once its point is
// promoted from the rung below, and promotions are a pure function of the
// recorded runs:
//
//   - A run recorded as promoted from the rung below's current run
//     (Run.PromotedFrom) stays promoted: the plan decides about it as
//     about any instance (up to date, failed, changed).
//   - Otherwise, when the point's run at the rung below is final and will
//     not run again in this apply, the point is promoted when it ranks in
//     the best ⌊n/eta⌋ of the n such runs of that rung (policy.Rung): a
//     submit, "promoted: val_loss 0.31, 2nd of 27 at epochs=1: in the best
//     9". When every instance of that rung is settled and it does not
//     rank there, it is not promoted: a no-op with the reason.
//   - Otherwise it waits for apply to promote it or not, as the rung below
//     fills (Action.AwaitsPromotion): a pending action.
//
// So re-planning after an interrupted apply reaches the decisions that
// apply would have, from what was recorded: a point promoted and started
// is found again, a promotion that became due while no apply ran is made.

// Promotion says what a point's promotion rests on.
type Promotion struct {
	// From is the instance at the rung below.
	From string `json:"from"`
	// Run is the run there that earned the promotion, once known.
	Run string `json:"run,omitempty"`
	// Reason is how it ranked: "val_loss 0.31, 2nd of 27 at epochs=1: in
	// the best 9".
	Reason string `json:"reason,omitempty"`
}

// planHalving decides the instances of each successive-halving sweep
// above the first rung, as the comment above says.
func planHalving(cfg *lang.Config, st State, actions []*Action) {
	byAddr := make(map[string]*Action, len(actions))
	for _, a := range actions {
		byAddr[a.Address] = a
	}
	for _, exp := range cfg.Experiments {
		h := exp.Halving
		if h == nil {
			continue
		}
		type at struct {
			point string
			rung  int
		}
		inst := map[at]*lang.Instance{}
		rungs := make([][]*lang.Instance, len(h.Budgets))
		for _, in := range exp.Instances {
			inst[at{in.Point, in.Rung}] = in
			rungs[in.Rung] = append(rungs[in.Rung], in)
		}
		// settled returns the final run of an instance that this apply
		// will not run again, if there is one.
		notPromoted := map[string]bool{}
		settled := func(in *lang.Instance) (*state.Run, bool) {
			if a := byAddr[in.Address]; a != nil {
				if a.AwaitsPromotion != nil || a.Action != NoOp && a.Action != Update || notPromoted[in.Address] {
					return nil, false
				}
				return a.Prior, a.Prior != nil && !a.Prior.Live()
			}
			r := st.Latest(in.Address) // not selected: as recorded
			return r, r != nil && !r.Live()
		}
		for k := 0; k+1 < len(rungs); k++ {
			var results []policy.Result
			complete := true
			runOf := map[string]*state.Run{}
			for _, in := range rungs[k] {
				if notPromoted[in.Address] {
					continue
				}
				r, ok := settled(in)
				if !ok {
					complete = false
					continue
				}
				runOf[in.Point] = r
				results = append(results, Result(in.Point, r, h.Metric))
			}
			placed, top := policy.Rung(results, h.Eta, h.Goal)
			rank := make(map[string]policy.Placed, len(placed))
			for _, p := range placed {
				rank[p.ID] = p
			}
			for _, in := range rungs[k+1] {
				a := byAddr[in.Address]
				if a == nil {
					continue
				}
				lower := inst[at{in.Point, k}]
				from, done := runOf[in.Point]
				p, ranked := rank[in.Point]
				switch {
				case notPromoted[lower.Address]:
					a.Action, a.Reasons, a.Pending = NoOp, []string{"not promoted: no run at " + h.RungName(k)}, nil
					notPromoted[in.Address] = true
				case done && a.Prior != nil && a.Prior.PromotedFrom == from.ID:
					// Promoted before: decided as any instance.
					a.Promotion = &Promotion{From: lower.Address, Run: from.ID, Reason: a.Prior.Promotion}
				case done && ranked && p.Promoted:
					reason := policy.PromotionReason(p, len(placed), top, h.Metric, h.RungName(k))
					a.Promotion = &Promotion{From: lower.Address, Run: from.ID, Reason: reason}
					if a.Action != NoOp || a.Prior == nil || a.Prior.Status != providers.Succeeded {
						promote(a, "promoted: "+reason)
					}
				case done && complete:
					reason := "no run at " + h.RungName(k)
					if ranked {
						reason = policy.PromotionReason(p, len(placed), top, h.Metric, h.RungName(k))
					}
					a.Action, a.Reasons, a.Pending = NoOp, []string{"not promoted: " + reason}, nil
					notPromoted[in.Address] = true
				default:
					a.AwaitsPromotion = &Promotion{From: lower.Address}
					a.Action = Pending
					a.Reasons = []string{fmt.Sprintf("awaits promotion: the best 1/%d of %s go on to %s", h.Eta, h.RungName(k), h.RungName(k+1))}
				}
			}
		}
	}
}

// promote makes a a submit for its promotion, keeping the reasons it runs
// for that are not about its own earlier run.
func promote(a *Action, reason string) {
	if a.Action == Pending {
		a.Reasons = append([]string{reason}, a.Reasons...) // it waits for its upstream outputs too
		return
	}
	a.Action, a.Reasons = Submit, []string{reason}
}

// Result is how a run did at its rung of successive halving: its point,
// the latest value of metric, and whether it succeeded with one.
func Result(point string, r *state.Run, metric string) policy.Result {
	m, ok := r.Metrics[metric]
	return policy.Result{ID: point, Value: m.Value, OK: ok && r.Status == providers.Succeeded}
}
