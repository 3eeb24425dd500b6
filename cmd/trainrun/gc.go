package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/internal/plural"
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
	young := ""
	if a.KeepDays > 0 {
		young = ", runs younger than " + plural.Count(a.KeepDays, "day")
	}
	kept := fmt.Sprintf("%s kept: the latest of each instance and its latest succeeded one, live runs%s, and their inputs",
		plural.Count(len(p.Kept), "run"), young)
	if p.Empty() {
		fmt.Fprintf(c.stdout, "Nothing to remove: every run directory and stored file is needed (%s).\n", kept)
		return 0
	}
	verb := "removes"
	if a.DryRun {
		verb = "would remove"
	}
	fmt.Fprintf(c.stdout, "trainrun gc %s what no kept run needs (%s):\n\n", verb, kept)
	for _, r := range p.RunDirs {
		fmt.Fprintf(c.stdout, "  %s run directory %s of %s on %s\n", views.Paint(c.color, "31", "-"), r.Handle.Dir, r.ID, r.Handle.Compute)
	}
	for _, r := range p.Collected {
		fmt.Fprintf(c.stdout, "  %s collected outputs of %s (%s); its log and metrics stay\n", views.Paint(c.color, "31", "-"), r.ID, r.Address)
	}
	if n := len(p.Manifests) + len(p.Blobs); n > 0 {
		fmt.Fprintf(c.stdout, "  %s %s and %s from the content store\n", views.Paint(c.color, "31", "-"),
			plural.Count(len(p.Manifests), "snapshot"), plural.Count(len(p.Blobs), "stored file"))
	}
	fmt.Fprintln(c.stdout)
	if a.DryRun {
		fmt.Fprintf(c.stdout, "gc -dry-run: would free %s%s; nothing was removed.\n", plural.Bytes(p.Bytes), remoteBytes(p.Remote, p.RemoteBytes))
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
	done := removed(res)
	if len(cps) > 0 {
		done += ", " + plural.Count(len(cps), "checkpoint directory")
	}
	fmt.Fprintf(c.stdout, "gc complete: %s removed; %s freed%s.\n", done, plural.Bytes(res.Bytes), remoteBytes(p.Remote, res.RemoteBytes))
	if err != nil {
		return c.errorf("%v", err)
	}
	return 0
}

// removed says what gc removed, leaving out what it had none of.
func removed(r runtime.GCResult) string {
	var parts []string
	for _, p := range []struct {
		n    int
		noun string
	}{{r.RunDirs, "run directory"}, {r.Collected, "collected output directory"}, {r.Manifests, "snapshot"}, {r.Blobs, "stored file"}} {
		if p.n > 0 {
			parts = append(parts, plural.Count(p.n, p.noun))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// remoteBytes is what run directories on other machines add, where known.
func remoteBytes(n int, bytes int64) string {
	switch {
	case n == 0:
		return " on this machine"
	case bytes == 0:
		return fmt.Sprintf(" on this machine, and %s on other machines", plural.Count(n, "run directory"))
	}
	return fmt.Sprintf(" on this machine, and %s in %s on other machines", plural.Bytes(bytes), plural.Count(n, "run directory"))
}
