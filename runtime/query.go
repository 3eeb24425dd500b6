package runtime

import (
	"slices"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/state"
)

// The queries below are what the views show (status, show, the web UI):
// one home each, so that the terminal and the browser agree.

// Instance is one instance as status lists it: an instance of the
// configuration or one with recorded runs, and its latest run.
type Instance struct {
	Address    string
	Experiment string
	// Configured says the configuration has it; false for instances
	// known only from recorded runs (removed from the configuration, or
	// no configuration could be loaded).
	Configured bool
	Run        *state.Run // the latest run; nil when it never ran
}

// Instances lists every instance: those of cfg (which may be nil), run or
// not, in the order of the graph as plans list them (prep before train
// before eval), then those known only from recorded runs, by address
// (numbers in keys as numbers). latest returns an address's latest run
// (View.Latest: refreshed), or nil.
func Instances(cfg *lang.Config, runs []*state.Run, latest func(address string) *state.Run) []Instance {
	var out []Instance
	seen := map[string]bool{}
	if cfg != nil {
		// In the order of the graph, as plans list them.
		for _, in := range planner.Order(cfg) {
			seen[in.Address] = true
			out = append(out, Instance{Address: in.Address, Experiment: in.Experiment, Configured: true})
		}
	}
	var gone []Instance
	for _, r := range runs {
		if !seen[r.Address] {
			seen[r.Address] = true
			gone = append(gone, Instance{Address: r.Address, Experiment: r.Experiment})
		}
	}
	slices.SortFunc(gone, func(a, b Instance) int { return lang.CompareAddresses(a.Address, b.Address) })
	out = append(out, gone...)
	for i := range out {
		out[i].Run = latest(out[i].Address)
	}
	return out
}

// EnvironmentLock is the resolved package set of the run's environment as
// recorded under dataDir (the project's .trainrun); "" when there is none.
func EnvironmentLock(dataDir string, run *state.Run) string {
	if run.Env == nil || run.Env.Lock == "" {
		return ""
	}
	recs, err := state.OpenEnvironments(dataDir)
	if err != nil {
		return ""
	}
	lock, err := recs.Lock(run.Env.Lock)
	if err != nil {
		return ""
	}
	return lock
}
