package main

import (
	"context"
	"fmt"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/internal/interrupt"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

func cmdApply(c *cli, args []string) int {
	a, err := arguments.ParseApply(args)
	if err != nil {
		return c.argsError(err)
	}
	var saved *planner.File
	if a.PlanFile != "" {
		if saved, err = planner.Read(a.PlanFile); err != nil {
			return c.errorf("%v", err)
		}
		// The plan's own variables come first; -var given now may add
		// sensitive ones, which plan files never hold.
		a.Vars.Vars = append(append([]string{}, saved.Vars...), a.Vars.Vars...)
	}
	cfg := c.load(&a.Vars)
	if cfg == nil {
		return 1
	}
	st, err := c.writeState(a.LockTimeout)
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	store, err := c.contentStore()
	if err != nil {
		return c.errorf("%v", err)
	}
	comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
	defer comps.Close()

	render := c.renderer(a.JSON)
	var live interrupt.Live
	sink := live.Track(render.Event)
	rt := &runtime.Runtime{Config: cfg, State: st, Computes: comps, DataDir: c.dataDir(), Store: store, Sink: sink}

	intr := interrupt.Notify(sink, live.Any)
	defer intr.Release()
	ctx := intr.Ctx

	// The configuration is valid: connecting to its machines can go on
	// while planning. A plan with nothing to do stops it.
	warmCtx, stopWarming := context.WithCancel(ctx)
	warming := comps.Warm(warmCtx, instanceComputes(cfg))
	defer warming.Wait()
	defer stopWarming()
	if a.Refresh || saved != nil {
		if err := rt.Reconcile(ctx); err != nil {
			return c.errorf("%v", err)
		}
	}
	p, err := c.planFor(ctx, cfg, st, &a.Selection, saved)
	if err != nil {
		return c.errorf("%v", err)
	}
	if !a.JSON {
		c.warnPlan(p)
		views.Plan(c.stdout, p, false, c.color)
	}
	if !p.Changes() && !p.Waits() {
		return 0
	}
	if !a.AutoApprove && saved == nil {
		if !isTerminal(c.stdin) {
			return c.errorf("apply needs confirmation, and standard input is not a terminal; nothing was run.\nRun 'trainrun apply -auto-approve' to apply without asking, or save a plan with 'trainrun plan -out FILE' and apply it with 'trainrun apply FILE'.")
		}
		if !c.confirm("Do you want to perform these actions?") {
			fmt.Fprintln(c.stdout, "Apply cancelled.")
			return 1
		}
	}
	if !a.JSON {
		fmt.Fprintln(c.stdout)
	}
	opts := runtime.Options{Parallelism: a.Parallelism, Stop: intr.Stop, Detach: intr.Detach, StreamLogs: !a.JSON && p.Runs() == 1, Holder: state.Holder{Command: "trainrun apply"}}
	res, err := rt.Apply(ctx, p, opts)
	render.Close()
	if err != nil {
		return c.errorf("%v", err)
	}
	if !a.JSON {
		views.ApplyComplete(c.stdout, res)
	}
	if !res.OK() {
		return 1
	}
	return 0
}

// instanceComputes are the computes the configuration's instances use.
func instanceComputes(cfg *lang.Config) []string {
	var names []string
	for _, in := range cfg.Instances {
		names = append(names, in.Compute)
	}
	return names
}
