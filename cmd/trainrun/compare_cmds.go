package main

import (
	"fmt"
	"slices"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

func cmdCompare(c *cli, args []string) int {
	a, err := arguments.ParseCompare(args)
	if err != nil {
		return c.argsError(err)
	}
	if a.Experiment == "" {
		return c.compareRuns(a)
	}
	name := a.Experiment
	opts := compare.Options{Sort: a.Sort, Metrics: func(r *state.Run) map[string]state.Metric { return runtime.LiveMetrics(c.dataDir(), r) }}
	cfg := c.quietConfig()
	if cfg != nil && cfg.Experiments[name] != nil {
		opts.Objective = cfg.Experiments[name].Objective
	}
	if cfg != nil {
		// Only the instances of the configuration, unless -all.
		configured := map[string]bool{}
		if e := cfg.Experiments[name]; e != nil {
			for _, in := range e.Instances {
				configured[in.Address] = true
			}
		}
		opts.InConfig = func(addr string) bool { return configured[addr] }
	}
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	runs := compare.Latest(st.Heads(), name)
	if opts.InConfig != nil && !a.All {
		all := len(runs)
		runs = slices.DeleteFunc(runs, func(r *state.Run) bool { return !opts.InConfig(r.Address) })
		if len(runs) == 0 && all > 0 {
			fmt.Fprintf(c.stdout, "None of the %s of experiment.%s with runs is in the configuration; 'trainrun compare -all experiment.%s' shows them.\n", plural.Count(all, "instance"), name, name)
			return 0
		}
	}
	t, err := compare.BuildWith(name, runs, opts)
	if err != nil {
		return c.errorf("%v", err)
	}
	if a.JSON {
		views.JSON(c.stdout, t)
		return 0
	}
	if len(t.Rows) == 0 {
		fmt.Fprintf(c.stdout, "No runs of experiment.%s recorded. Run 'trainrun apply' first.\n", name)
		return 0
	}
	views.Compare(c.stdout, t)
	return 0
}

// compareRuns diffs two runs, as dvc exp diff does.
func (c *cli) compareRuns(a *arguments.Compare) int {
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	var runs [2]*state.Run
	for i, ref := range a.Runs {
		r, err := st.Find(ref)
		if err != nil {
			return c.errorf("%v", err)
		}
		// A live run's metrics as the apply following it read them.
		cp := *r
		cp.Metrics = runtime.LiveMetrics(c.dataDir(), r)
		runs[i] = &cp
	}
	var manifest func(string) *snapshot.Manifest
	if store, err := c.contentStore(); err == nil {
		manifest = func(id string) *snapshot.Manifest {
			m, err := store.LoadManifest(id)
			if err != nil {
				return nil
			}
			return m
		}
	}
	d := compare.Diff(runs[0], runs[1], manifest)
	if a.JSON {
		views.JSON(c.stdout, d)
		return 0
	}
	views.RunDiff(c.stdout, d)
	return 0
}
