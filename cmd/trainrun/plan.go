package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

func cmdPlan(c *cli, args []string) int {
	a, err := arguments.ParsePlan(args)
	if err != nil {
		return c.argsError(err)
	}
	cfg := c.load(&a.Vars)
	if cfg == nil {
		return 1
	}
	// Ctrl-C stops what planning waits for (machines asked what they
	// are, environments resolved on them), and plan with it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	view := planner.State(st)
	if a.Refresh {
		comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
		defer comps.Close()
		view = runtime.Refresh(ctx, st, comps)
	}
	p, err := c.planFor(ctx, cfg, view, &a.Selection, nil)
	if err != nil {
		if ctx.Err() != nil {
			return c.errorf("interrupted: %v", err)
		}
		return c.errorf("%v", err)
	}
	if a.Out != "" {
		if err := c.ensureDataDir(); err != nil {
			return c.errorf("%v", err)
		}
		if err := planner.Save(a.Out, cfg, p, c.planOptions(&a.Selection)); err != nil {
			return c.errorf("%v", err)
		}
	}
	// Warnings go to stderr in both forms: a -json consumer reads stdout
	// only, and a person should still hear about a huge snapshot.
	c.warnPlan(p)
	if a.JSON {
		views.PlanJSON(c.stdout, p)
	} else {
		views.Plan(c.stdout, p, a.ShowUnchanged, c.color)
		if a.Out != "" {
			fmt.Fprintf(c.stdout, "\nSaved the plan to %s. To carry it out exactly: trainrun apply %s\n", a.Out, a.Out)
		}
	}
	if a.DetailedExitcode && p.Changes() {
		return 2
	}
	return 0
}

func (c *cli) warnPlan(p *planner.Plan) {
	for _, w := range p.Warnings {
		fmt.Fprintf(c.stderr, "Warning: %s\n", w)
	}
}

// planFor plans cfg against view, as plan and apply both do. With a saved
// plan file it plans again with the file's selection and refuses when the
// result differs.
func (c *cli) planFor(ctx context.Context, cfg *lang.Config, view planner.State, sel *arguments.Selection, saved *planner.File) (*planner.Plan, error) {
	opts := c.planOptions(sel)
	if saved != nil {
		opts = saved.Options
		opts.DataDir = c.dataDir()
	}
	// Environments are resolved on their computes (a host environment's
	// interpreter is looked at there), unless -refresh=false.
	recs, err := state.OpenEnvironments(c.dataDir())
	if err != nil {
		return nil, err
	}
	comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
	defer comps.Close()
	envs := runtime.NewEnvironments(cfg, registry(), c.providerEnv(), comps, recs)
	envs.Offline = !sel.Refresh && saved == nil
	opts.Environments, opts.EnvironmentRecords = envs, recs
	// Computes on machines trainrun attaches to (ssh) are asked what
	// those are the first time, within a timeout, unless -refresh=false.
	crecs, err := state.OpenComputes(c.dataDir())
	if err != nil {
		return nil, err
	}
	attach := runtime.NewAttach(comps)
	attach.Offline = envs.Offline
	opts.Computes, opts.ComputeRecords = attach, crecs
	p, err := planner.Build(ctx, cfg, view, opts)
	if err != nil {
		return nil, err
	}
	if saved != nil {
		if err := saved.Check(p); err != nil {
			return nil, err
		}
	}
	if !envs.Offline {
		// A compute that cannot take runs (its Slurm controller down)
		// is said now, not once per run at apply.
		if err := comps.Ping(ctx, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}
