package main

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

// cmdGC frees what no kept run needs: run directories on computes,
// collected outputs, and the content store's snapshots and files.
func cmdGC(c *cli, args []string) int {
	a, err := arguments.ParseGC(args)
	if err != nil {
		return c.argsError(err)
	}
	var st state.Backend
	if a.DryRun {
		st, err = c.openState()
	} else {
		// No apply stores or records anything while gc decides and
		// removes: what it stores meanwhile could be what gc removes.
		st, err = c.lockState("trainrun gc", state.DefaultLockTimeout)
	}
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	store, err := c.contentStore()
	if err != nil {
		return c.errorf("%v", err)
	}
	cfg := c.quietConfig()
	comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
	defer comps.Close()
	rt := &runtime.Runtime{State: st, Computes: comps, DataDir: c.dataDir(), Store: store}
	ctx := context.Background()
	p, err := rt.GCPlan(ctx, runtime.GCOptions{KeepDays: a.KeepDays})
	if err != nil {
		return c.errorf("%v", err)
	}
	views.GCPlan(c.stdout, p, a.KeepDays, a.DryRun, c.color)
	if p.Empty() || a.DryRun {
		return 0
	}
	res, err := rt.GC(ctx, p)
	// Checkpoint directories (TRAINRUN_CHECKPOINT_DIR) no run will resume
	// from, on the configuration's computes.
	var names []string
	if cfg != nil {
		names = slices.Sorted(maps.Keys(cfg.Computes))
	}
	cps, cerr := runtime.RemoveStaleCheckpoints(ctx, st, cfg, comps, names)
	err = errors.Join(err, cerr)
	views.GCDone(c.stdout, p, res, len(cps))
	if err != nil {
		return c.errorf("%v", err)
	}
	return 0
}
