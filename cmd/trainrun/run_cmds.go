package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

// quietConfig loads the configuration for commands that read runs: they
// work without one, so its diagnostics are not theirs to print.
func (c *cli) quietConfig() *lang.Config {
	cfg, diags := lang.Load(c.dir, lang.Options{Getenv: c.getenv, Registry: registry()})
	if diags.HasErrors() {
		return nil
	}
	return cfg
}

// refreshed opens the state and overlays what computes say of live runs.
// cfg may be nil.
func (c *cli) refreshed(ctx context.Context, cfg *lang.Config) (state.Backend, *runtime.View, *runtime.Computes, error) {
	st, err := c.openState()
	if err != nil {
		return nil, nil, nil, err
	}
	comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
	return st, runtime.Refresh(ctx, st, comps), comps, nil
}

// matchAddr reports whether an instance address is selected by filter:
// the address itself or its experiment's.
func matchAddr(addr, experiment, filter string) bool {
	return filter == "" || filter == addr || filter == "experiment."+experiment
}

func cmdStatus(c *cli, args []string) int {
	a, err := arguments.ParseStatus(args)
	if err != nil {
		return c.argsError(err)
	}
	filter, asJSON := a.Filter, a.JSON
	ctx := context.Background()
	cfg := c.quietConfig()
	st, view, comps, err := c.refreshed(ctx, cfg)
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	defer comps.Close()

	heads := view.Heads()
	latest := make(map[string]*state.Run, len(heads))
	for _, r := range heads {
		latest[r.Address] = r
	}
	all := runtime.Instances(cfg, heads, func(addr string) *state.Run { return latest[addr] })
	var list []runtime.Instance
	hidden := 0 // instances not in the configuration, left out without -all
	for _, in := range all {
		if !matchAddr(in.Address, in.Experiment, filter) {
			continue
		}
		if cfg != nil && !in.Configured && !a.All {
			hidden++
			continue
		}
		list = append(list, in)
	}
	if len(list) == 0 && hidden > 0 && filter != "" {
		return c.errorf("%s is no longer in the configuration; 'trainrun status -all %s' shows its runs", filter, filter)
	}
	if len(list) == 0 && filter != "" {
		return c.noInstance(filter, func(f string) bool {
			return slices.ContainsFunc(all, func(in runtime.Instance) bool { return matchAddr(in.Address, in.Experiment, f) })
		})
	}
	live := func(r *state.Run) map[string]state.Metric { return runtime.LiveMetrics(c.dataDir(), r) }
	if asJSON {
		out := []views.RunRecord{}
		for _, in := range list {
			if in.Run != nil {
				j := views.Record(in.Run)
				if in.Run.Live() {
					j.Metrics = views.MetricsJSON(live(in.Run))
				}
				j.NotInConfig = cfg != nil && !in.Configured
				out = append(out, j)
			}
		}
		views.JSON(c.stdout, out)
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "No instances. Write a configuration ('trainrun init') and run 'trainrun apply'.")
		return 0
	}
	views.Status(c.stdout, views.StatusRows{Config: cfg, Instances: list, Best: bestOfObjectives(cfg, list), Metrics: live, Color: c.color, Now: time.Now()})
	return 0
}

// bestOfObjectives returns the runs among list that have the best value of
// their experiment's objective (compare.BestOfObjectives).
func bestOfObjectives(cfg *lang.Config, list []runtime.Instance) map[string]bool {
	if cfg == nil {
		return nil
	}
	byExp := map[string][]*state.Run{}
	for _, in := range list {
		if in.Run != nil {
			byExp[in.Experiment] = append(byExp[in.Experiment], in.Run)
		}
	}
	return compare.BestOfObjectives(cfg, byExp)
}

// noInstance reports a status or runs filter that names no instance, in
// the configuration or among the recorded runs: a typo, or an experiment
// named without its "experiment." prefix. known says whether an address
// would have matched.
func (c *cli) noInstance(filter string, known func(filter string) bool) int {
	hint := "'trainrun status' lists the instances"
	if guess := "experiment." + filter; !strings.HasPrefix(filter, "experiment.") && known(guess) {
		hint = "did you mean " + guess + "? " + hint
	}
	return c.errorf("no instance matches %q: %s", filter, hint)
}

// selects reports whether filter names an instance or experiment of cfg
// (which may be nil).
func selects(cfg *lang.Config, filter string) bool {
	if cfg == nil {
		return false
	}
	for _, in := range cfg.Instances {
		if matchAddr(in.Address, in.Experiment, filter) {
			return true
		}
	}
	return false
}

func cmdRuns(c *cli, args []string) int {
	a, err := arguments.ParseRuns(args)
	if err != nil {
		return c.argsError(err)
	}
	filter, asJSON := a.Filter, a.JSON
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	runs, err := st.List(state.Query{Address: filter, Status: a.Statuses, Since: a.Since(time.Now()), Limit: a.Limit})
	if err != nil {
		return c.errorf("%v", err)
	}
	// Live runs as their computes say they are now.
	if slices.ContainsFunc(runs, (*state.Run).Live) {
		comps := runtime.NewComputes(c.quietConfig(), registry(), c.providerEnv())
		defer comps.Close()
		view := runtime.Refresh(context.Background(), st, comps)
		for i, r := range runs {
			if l := view.Latest(r.Address); l != nil && l.ID == r.ID {
				runs[i] = l
			}
		}
	}
	if len(runs) == 0 && filter != "" {
		cfg := c.quietConfig()
		known := func(f string) bool {
			some, _ := st.List(state.Query{Address: f, Limit: 1})
			return selects(cfg, f) || len(some) > 0
		}
		if !known(filter) {
			return c.noInstance(filter, known)
		}
	}
	if asJSON {
		out := []views.RunRecord{}
		for _, r := range runs {
			out = append(out, views.Record(r))
		}
		views.JSON(c.stdout, out)
		return 0
	}
	if len(runs) == 0 {
		if len(a.Statuses) > 0 || a.Limit > 0 || a.SinceAgo > 0 || !a.SinceTime.IsZero() {
			fmt.Fprintln(c.stdout, "No runs match.")
		} else {
			fmt.Fprintln(c.stdout, "No runs recorded.")
		}
		return 0
	}
	views.RunsTable(c.stdout, runs)
	return 0
}

func cmdShow(c *cli, args []string) int {
	a, err := arguments.ParseShow(args)
	if err != nil {
		return c.argsError(err)
	}
	if f := savedPlan(a.Run); f != nil {
		return c.showPlan(a, f)
	}
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	// The configuration is loaded only to reach a live run's compute.
	comps := runtime.NewComputesLoading(c.quietConfig, registry(), c.providerEnv())
	defer comps.Close()
	view := runtime.Refresh(context.Background(), st, comps)
	run, err := st.Find(a.Run)
	if err != nil {
		return c.errorf("%v", err)
	}
	if l := view.Latest(run.Address); l != nil && l.ID == run.ID {
		run = l
	}
	lock := runtime.EnvironmentLock(c.dataDir(), run)
	var spec providers.EnvSpec // what the run's environment was (its interpreter)
	if run.Env != nil {
		if recs, err := st.Environments(); err == nil {
			spec, _ = recs.Spec(run.Env.ID)
		}
	}
	if a.JSON {
		views.RunJSON(c.stdout, views.RunDetails{Run: run, Lock: lock, Spec: spec})
		return 0
	}
	details := views.RunDetails{Run: run, Lock: lock, AllPackages: a.Lock, Spec: spec,
		Metrics: runtime.LiveMetrics(c.dataDir(), run), Curves: runtime.MetricCurves(c.dataDir(), run), Outputs: runtime.OutputFiles(run)}
	views.Run(c.stdout, details)
	return 0
}

func cmdLogs(c *cli, args []string) int {
	a, err := arguments.ParseLogs(args)
	if err != nil {
		return c.argsError(err)
	}
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := c.quietConfig()
	comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
	defer comps.Close()
	log, err := runtime.OpenLog(ctx, runtime.LogRequest{
		Ref: a.Run, Follow: a.Follow, Attempt: a.Attempt,
		Config: cfg, State: st, Computes: comps, DataDir: c.dataDir(),
		Wait: func(msg string) { fmt.Fprintln(c.stderr, msg) },
	})
	if ctx.Err() != nil {
		if err == nil {
			log.Close()
		}
		return 0 // interrupted while waiting, as while following
	}
	if err != nil {
		return c.errorf("%v", err)
	}
	defer log.Close()
	if log.Note != "" {
		// Said first, on stderr: the log itself stays as the run wrote it.
		fmt.Fprintln(c.stderr, log.Note)
	}
	log.WriteTo(c.stdout)
	return 0
}

func cmdCancel(c *cli, args []string) int {
	a, err := arguments.ParseCancel(args)
	if err != nil {
		return c.argsError(err)
	}
	ids := a.Runs
	st, err := c.writeState(a.LockTimeout)
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	cfg := c.quietConfig()
	comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
	defer comps.Close()
	store, err := c.contentStore()
	if err != nil {
		return c.errorf("%v", err)
	}
	rt := &runtime.Runtime{Config: cfg, State: st, Computes: comps, DataDir: c.dataDir(), Store: store}
	code := 0
	ctx := context.Background()
	for _, id := range ids {
		run, err := st.Find(id)
		if err != nil {
			c.errorf("%v", err)
			code = 1
			continue
		}
		if !run.Live() {
			fmt.Fprintf(c.stdout, "Run %s (%s) has already ended (%s): nothing to cancel.\n", run.ID, run.Address, run.Status)
			continue
		}
		// When no apply follows the run (none holds its instance's claim),
		// cancel records the outcome itself; otherwise the apply waiting
		// on the run records it.
		now, nowCancel := context.WithCancel(ctx)
		nowCancel()
		claim, cerr := st.Claim(now, run.Address, state.Holder{Command: "trainrun cancel"})
		err = rt.Cancel(ctx, run, cerr == nil)
		if cerr == nil {
			claim.Release()
		}
		if err != nil {
			c.errorf("cancel %s: %v", run.ID, err)
			code = 1
			continue
		}
		fmt.Fprintf(c.stdout, "Cancelled run %s (%s).\n", run.ID, run.Address)
	}
	return code
}

func cmdDestroy(c *cli, args []string) int {
	a, err := arguments.ParseDestroy(args)
	if err != nil {
		return c.argsError(err)
	}
	st, err := c.lockState("trainrun destroy", a.LockTimeout)
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	comps := runtime.NewComputes(c.quietConfig(), registry(), c.providerEnv())
	defer comps.Close()
	rt := &runtime.Runtime{State: st, Computes: comps, DataDir: c.dataDir()}
	targets, live, err := rt.DestroyTargets()
	if err != nil {
		return c.errorf("%v", err)
	}
	for _, r := range live {
		fmt.Fprintf(c.stderr, "Warning: run %s (%s) is %s: cancel it first ('trainrun cancel %s'); its directory stays.\n", r.ID, r.Address, r.Status, r.ID)
	}
	envs, inUse := rt.EnvironmentTargets()
	for _, e := range inUse {
		fmt.Fprintf(c.stderr, "Warning: environment %s on %s is used by a live run; it stays.\n", e.Name, e.Compute)
	}
	if len(targets) == 0 && len(envs) == 0 {
		fmt.Fprintln(c.stdout, "Nothing to destroy: no run directories or environments remain on any compute.")
		return 0
	}
	views.Destroy(c.stdout, envs, targets, c.color)
	if !a.AutoApprove {
		// As Terraform, the answer may come from a pipe (echo yes |
		// trainrun destroy); input that ends unanswered (/dev/null) is a
		// refusal that says what to do.
		answer, answered := c.ask("Do you really want to destroy these?")
		if !answered && !isTerminal(c.stdin) {
			return c.errorf("destroy needs confirmation, and standard input is not a terminal; nothing was destroyed.\nRun 'trainrun destroy -auto-approve' to destroy without asking, or answer on standard input: echo yes | trainrun destroy")
		}
		if answer != "yes" {
			fmt.Fprintln(c.stdout, "Destroy cancelled.")
			return 1
		}
	}
	n, err := rt.Destroy(context.Background(), targets)
	ne, eerr := rt.DestroyEnvironments(context.Background(), envs)
	if len(envs) > 0 {
		fmt.Fprintf(c.stdout, "Destroy complete: %s removed, %s removed.\n", plural.Count(n, "run directory"), plural.Count(ne, "environment"))
	} else {
		fmt.Fprintf(c.stdout, "Destroy complete: %s removed.\n", plural.Count(n, "run directory"))
	}
	if err = errors.Join(err, eerr); err != nil {
		return c.errorf("%v", err)
	}
	return 0
}

// savedPlan reads name as a plan saved by 'plan -out', or returns nil when
// it is no such file (a run id).
func savedPlan(name string) *planner.File {
	if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	f, err := planner.Read(name)
	if err != nil {
		return nil
	}
	return f
}

// showPlan prints a saved plan as plan printed it, as terraform show does.
func (c *cli) showPlan(a *arguments.Show, f *planner.File) int {
	p := f.Plan()
	if a.JSON {
		views.PlanJSON(c.stdout, p)
		return 0
	}
	fmt.Fprintf(c.stdout, "Saved plan %s, made at state serial %d.\n\n", a.Run, f.Serial)
	views.Plan(c.stdout, p, false, c.color)
	fmt.Fprintf(c.stdout, "\nTo carry it out: trainrun apply %s (refused if the state or the configuration changed since).\n", a.Run)
	return 0
}
