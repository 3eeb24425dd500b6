package main

import (
	"fmt"
	"io"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/internal/interrupt"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/watch"
)

// cmdWatch plans and applies whenever a configuration file, a -var-file or
// a file of a source_dir changes (package watch), on the full screen when
// standard output is a terminal that can draw it.
func cmdWatch(c *cli, args []string) int {
	a, err := arguments.ParseWatch(args)
	if err != nil {
		return c.argsError(err)
	}
	if !a.AutoApprove && !isTerminal(c.stdin) {
		return c.errorf("watch asks before applying each change, and standard input is not a terminal; nothing was run.\nRun 'trainrun watch -auto-approve' to apply each change without asking.")
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
	fw, err := fswatch.New(fswatch.Options{Debounce: a.Debounce})
	if err != nil {
		return c.errorf("%v", err)
	}
	defer fw.Close()

	var view watch.View
	if c.useScreen() {
		view = views.NewWatchScreen(c.stdout, c.terminalSize(c.stdout))
	} else {
		view = views.NewWatchLines(c.stdout, c.stderr, isTerminal(c.stdout), c.color)
	}
	defer view.Close() // on a panic, at least the terminal is left sane
	var live interrupt.Live
	sink := live.Track(view.Event)
	intr := interrupt.Notify(sink, live.Any)
	defer intr.Release()

	vf := a.Vars
	err = watch.Run(intr.Ctx, watch.Options{
		Dir: c.dir, DataDir: c.dataDir(), VarFiles: vf.Files,
		Load: func(diags io.Writer, color bool) *lang.Config {
			lc := *c
			lc.stderr, lc.color = diags, color
			return lc.load(&vf)
		},
		Plan: func(cfg *lang.Config, st planner.State, replace bool) (*planner.Plan, error) {
			sel := a.Selection
			if !replace {
				sel.Replace = nil
			}
			return c.planFor(intr.Ctx, cfg, st, &sel, nil)
		},
		Computes: func(cfg *lang.Config) *runtime.Computes {
			return runtime.NewComputes(cfg, registry(), c.providerEnv())
		},
		Refresh: a.Selection.Refresh,
		State:   st, Store: store, Watcher: fw, View: view, Sink: sink,
		Input: c.stdin, InputTerminal: isTerminal(c.stdin),
		AutoApprove: a.AutoApprove, KeepRunning: a.KeepRunning, Parallelism: a.Parallelism,
		Stop: intr.Stop, Detach: intr.Detach,
	})
	if err != nil {
		return c.errorf("%v", err)
	}
	fmt.Fprintln(c.stdout, "Stopped watching.")
	return 0
}
