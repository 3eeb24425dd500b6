package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/runtime"
)

func cmdCheckout(c *cli, args []string) int {
	a, err := arguments.ParseCheckout(args)
	if err != nil {
		return c.argsError(err)
	}
	dst := a.Dir
	if !filepath.IsAbs(dst) {
		dst = filepath.Join(c.dir, dst)
	}
	if ents, err := os.ReadDir(dst); err == nil && len(ents) > 0 {
		return c.errorf("%s is not empty: checkout writes only into an empty or new directory, so that nothing of yours is mixed in or overwritten", a.Dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return c.errorf("checkout into %s: %v", a.Dir, err)
	}
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	run, err := st.Find(a.Run)
	if err != nil {
		return c.errorf("%v", err)
	}
	store, err := c.contentStore()
	if err != nil {
		return c.errorf("%v", err)
	}
	m, err := runtime.Checkout(context.Background(), store, run, dst)
	if err != nil {
		return c.errorf("%v", err)
	}
	fmt.Fprintf(c.stdout, "Checked out the source of run %s (%s) into %s: %s, snapshot %s.\n", run.ID, run.Address, a.Dir, plural.Count(len(m.Entries), "file"), m.ID[:12])
	if run.Git != nil {
		dirty := ""
		if run.Git.Dirty {
			dirty = ", with uncommitted changes"
		}
		fmt.Fprintf(c.stdout, "It was made from git commit %s%s.\n", run.Git.Commit, dirty)
	}
	fmt.Fprintf(c.stdout, "To run it again as it was: trainrun rerun %s\n", run.ID)
	return 0
}

func cmdRerun(c *cli, args []string) int {
	a, err := arguments.ParseRerun(args)
	if err != nil {
		return c.argsError(err)
	}
	cfg := c.load(&a.Vars)
	if cfg == nil {
		return c.errorf("rerun needs the configuration: it says where compute and environment are, and gives sensitive values again")
	}
	st, err := c.writeState(a.LockTimeout)
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	orig, err := st.Find(a.Run)
	if err != nil {
		return c.errorf("%v", err)
	}
	store, err := c.contentStore()
	if err != nil {
		return c.errorf("%v", err)
	}
	comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
	defer comps.Close()
	render := c.renderer(a.JSON)
	rt := &runtime.Runtime{Config: cfg, State: st, Computes: comps, DataDir: c.dataDir(), Store: store, Sink: render.Event}

	// Ctrl-C cancels the rerun and records it cancelled.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !a.JSON {
		fmt.Fprintf(c.stdout, "Running run %s (%s) again: its snapshot %s, command, params and environment, on compute %s.\n\n",
			orig.ID, orig.Address, orig.Inputs.Snapshot[:min(12, len(orig.Inputs.Snapshot))], orig.Compute)
	}
	rep, err := rt.Rerun(ctx, orig, runtime.Options{StreamLogs: !a.JSON})
	render.Close()
	if err != nil {
		return c.errorf("%v", err)
	}
	if a.JSON {
		return rerunCode(rep)
	}
	fmt.Fprintln(c.stdout)
	switch {
	case rep.Run.Status != providers.Succeeded:
		fmt.Fprintf(c.stdout, "Rerun %s %s; the original %s.\n", rep.Run.ID, rep.Run.Status, orig.Status)
	case !rep.Compared:
		fmt.Fprintf(c.stdout, "Rerun %s succeeded; the original %s has no recorded outputs to compare (it %s).\n", rep.Run.ID, orig.ID, orig.Status)
	case rep.Same:
		fmt.Fprintf(c.stdout, "Outputs identical: run %s reproduces run %s (content hash %s).\n", rep.Run.ID, orig.ID, rep.Run.Outputs[:12])
	default:
		fmt.Fprintf(c.stdout, "Outputs differ: run %s (content hash %s) does not reproduce run %s (%s).\n", rep.Run.ID, rep.Run.Outputs[:12], orig.ID, orig.Outputs[:12])
		if !rep.Diff.Empty() {
			fmt.Fprintf(c.stdout, "  %s\n", rep.Diff)
		}
		fmt.Fprintf(c.stdout, "Compare them: diff -r %s %s\n",
			filepath.Join(c.dataDir(), "runs", orig.ID, "outputs"), filepath.Join(c.dataDir(), "runs", rep.Run.ID, "outputs"))
	}
	return rerunCode(rep)
}

// rerunCode is rerun's exit code: 0 when the outputs are the same (or
// there is nothing to compare), 2 when they differ, 1 when the rerun did
// not succeed.
func rerunCode(rep *runtime.Reproduction) int {
	switch {
	case rep.Run.Status != providers.Succeeded:
		return 1
	case rep.Compared && !rep.Same:
		return 2
	}
	return 0
}

func cmdOutputs(c *cli, args []string) int {
	a, err := arguments.ParseOutputs(args)
	if err != nil {
		return c.argsError(err)
	}
	dst := a.Dir
	if !filepath.IsAbs(dst) {
		dst = filepath.Join(c.dir, dst)
	}
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	run, err := st.Find(a.Run)
	if err != nil {
		return c.errorf("%v", err)
	}
	store, err := c.contentStore()
	if err != nil {
		return c.errorf("%v", err)
	}
	res, err := runtime.ExportOutputs(context.Background(), store, c.dataDir(), run, dst, a.Force)
	if err != nil {
		return c.errorf("%v", err)
	}
	fmt.Fprintf(c.stdout, "Wrote the outputs of run %s (%s) into %s: %s written", run.ID, run.Address, a.Dir, plural.Count(len(res.Written), "file"))
	if len(res.Replaced) > 0 {
		fmt.Fprintf(c.stdout, " (%d overwritten)", len(res.Replaced))
	}
	fmt.Fprintf(c.stdout, ", %d already there.\n", len(res.Unchanged))
	return 0
}
