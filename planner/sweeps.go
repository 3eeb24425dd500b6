package planner

import (
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/policy"
)

// Sweep is what the sweep of an experiment in the plan does with its runs
// besides running them: stop those that lose early, or promote the best
// through the rungs of successive halving.
type Sweep struct {
	Experiment    string           `json:"experiment"` // experiment.NAME
	Objective     *lang.Objective  `json:"objective,omitempty"`
	EarlyStopping *policy.Stopping `json:"early_stopping,omitempty"`
	ASHA          *lang.Halving    `json:"asha,omitempty"`
}

// String describes the sweep's policy in a line.
func (s *Sweep) String() string {
	if s.ASHA != nil {
		return s.ASHA.String()
	}
	return "early stopping: " + s.EarlyStopping.String()
}

// sweeps lists the policies of the experiments whose runs the plan starts
// or waits for, in the order of the plan.
func sweeps(cfg *lang.Config, actions []*Action) []*Sweep {
	var out []*Sweep
	seen := map[string]bool{}
	for _, a := range actions {
		name := a.Instance.Experiment
		live := a.Prior != nil && a.Prior.Live()
		if seen[name] || a.Action == NoOp && !live || a.Action == Update {
			continue
		}
		seen[name] = true
		exp := cfg.Experiments[name]
		if exp == nil || exp.EarlyStopping == nil && exp.Halving == nil {
			continue
		}
		out = append(out, &Sweep{Experiment: "experiment." + name, Objective: exp.Objective, EarlyStopping: exp.EarlyStopping, ASHA: exp.Halving})
	}
	return out
}
