package runtime

import (
	"slices"
	"strings"

	"github.com/trainrun/trainrun/lang"
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

// Instances lists every instance, sorted by address: those of cfg (which
// may be nil), run or not, and those of the recorded runs. latest returns
// an address's latest run (View.Latest: refreshed), or nil.
func Instances(cfg *lang.Config, runs []*state.Run, latest func(address string) *state.Run) []Instance {
	byAddr := map[string]*Instance{}
	if cfg != nil {
		for _, in := range cfg.Instances {
			byAddr[in.Address] = &Instance{Address: in.Address, Experiment: in.Experiment, Configured: true}
		}
	}
	for _, r := range runs {
		if _, ok := byAddr[r.Address]; !ok {
			byAddr[r.Address] = &Instance{Address: r.Address, Experiment: r.Experiment}
		}
	}
	out := make([]Instance, 0, len(byAddr))
	for _, in := range byAddr {
		in.Run = latest(in.Address)
		out = append(out, *in)
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.Address, b.Address) })
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
