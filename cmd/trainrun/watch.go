package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/internal/interrupt"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// cmdWatch plans and applies whenever a configuration file, a -var-file or
// a file of a source_dir changes.
//
// Each cycle loads the configuration again, plans against the recorded
// state and applies the plan on a Runtime of its own (Runtime.WithConfig),
// on a goroutine of its own: a cycle does not wait for the runs of earlier
// cycles. The Runtimes share the scheduler and the runs in flight, so a
// cycle joins a run that an earlier one is carrying out with the same
// fingerprint, and supersedes (cancels, unless -keep-running) the runs of
// instances whose fingerprint changed. watch claims the instances it
// runs, as apply does, so that applies in other terminals run beside it.
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

	w := &watch{c: c, vf: a.Vars, sel: a.Selection, st: st, store: store, fw: fw, auto: a.AutoApprove}
	if c.useScreen() {
		w.scr = views.NewScreen()
		w.scr.Start(c.stdout, c.terminalSize(c.stdout))
		w.sink = w.scr.Event
		defer w.scr.Close() // on a panic, at least the terminal is left sane
	} else {
		w.render = c.renderer(false)
		w.sink = w.render.Event
	}
	var live interrupt.Live
	w.sink = live.Track(w.sink)
	intr := interrupt.Notify(w.sink, live.Any)
	defer intr.Release()
	ctx, stop := intr.Ctx, intr.Stop
	w.opts = runtime.Options{Parallelism: a.Parallelism, Stop: intr.Stop, Detach: intr.Detach, CancelSuperseded: !a.KeepRunning, Holder: state.Holder{Command: "trainrun watch"}}
	defer w.closeComputes()

	if err := w.start(ctx); err != nil {
		w.closeOutput()
		return c.errorf("%v", err)
	}
	var lines <-chan string
	if !a.AutoApprove || (w.scr != nil && isTerminal(c.stdin)) {
		// With -auto-approve, only the screen reads what is typed: a
		// run's number picks the log shown.
		lines = readLines(c.stdin)
	}
loop:
	for {
		select {
		case <-stop:
			break loop
		case b, ok := <-fw.Changes():
			if !ok {
				break loop
			}
			w.cycle(ctx, b)
		case err := <-fw.Errors():
			w.sayErr("%v", err)
		case line, ok := <-lines:
			if !ok && a.AutoApprove {
				lines = nil // nothing waits for an answer
				continue
			}
			if !ok {
				w.say("Standard input closed: watching stops.")
				break loop
			}
			w.answer(ctx, line)
		}
	}
	if w.scr != nil {
		w.scr.Stop()
	}
	// Live runs are left running (detach) or, after a second Ctrl-C,
	// cancelled and recorded: either way every apply returns.
	w.applies.Wait()
	w.closeOutput()
	fmt.Fprintln(c.stdout, "Stopped watching.")
	return 0
}

// closeOutput stops drawing: the status line goes, or the screen is left
// and what happened since watching began to stop is printed on the normal
// screen, where it stays.
func (w *watch) closeOutput() {
	if w.scr == nil {
		w.render.Close()
		return
	}
	for _, line := range w.scr.Close() {
		fmt.Fprintln(w.c.stdout, line)
	}
}

// watch is one watch command's state between cycles.
type watch struct {
	c      *cli
	vf     arguments.Vars
	sel    arguments.Selection
	st     state.Backend
	store  *snapshot.Store
	fw     *fswatch.Watcher
	render *views.Events          // lines; nil on the screen
	scr    *views.Screen          // the full-screen view on a terminal; else nil
	sink   func(ev runtime.Event) // the runtime's events go to render or scr
	opts   runtime.Options
	auto   bool

	cfg     *lang.Config     // the last good configuration
	rt      *runtime.Runtime // the last cycle's
	comps   []*runtime.Computes
	broken  bool          // the configuration on disk has errors
	pending *planner.Plan // waiting for approval, with pendingRT
	pendRT  *runtime.Runtime
	changes int // batches of changes seen
	planned int // plans made
	applies sync.WaitGroup
}

// start loads the configuration, watches its files and runs the first
// cycle. A broken configuration does not stop watch: its files are watched
// for a fix. Running out of inotify watches does.
func (w *watch) start(ctx context.Context) error {
	cfg := w.load()
	if err := w.fw.Set(w.targets(cfg)); err != nil {
		var le *fswatch.LimitError
		if errors.As(err, &le) {
			return err
		}
		w.sayErr("%v", err)
	}
	w.showTargets(cfg)
	w.say("Watching %s. Press Ctrl-C to stop.", w.describeTargets(cfg))
	if cfg == nil {
		w.broken = true
		if w.scr == nil { // the screen's header says so
			w.say("The configuration has errors (above): fix them and save; watching goes on.")
		}
		return nil
	}
	w.cfg = cfg
	w.plan(ctx, w.runtime(cfg))
	return nil
}

// load loads the configuration, its diagnostics printed between event
// lines, or shown on the screen.
func (w *watch) load() *lang.Config {
	var cfg *lang.Config
	if w.scr != nil {
		var diags strings.Builder
		c := *w.c
		c.stderr, c.color = &diags, false
		cfg = c.load(&w.vf)
		w.scr.SetConfig(cfg == nil, w.cfg != nil, diags.String())
		return cfg
	}
	w.render.Print(func(io.Writer) { cfg = w.c.load(&w.vf) })
	return cfg
}

// cycle plans and applies after a change.
func (w *watch) cycle(ctx context.Context, b fswatch.Batch) {
	w.changes++
	w.say("Change %d: %s", w.changes, w.describeBatch(b))
	if w.scr != nil {
		w.scr.SetChange(fmt.Sprintf("Change %d at %s: %s", w.changes, time.Now().Format("15:04:05"), w.describeBatch(b)))
	}
	cfg := w.load()
	if cfg == nil {
		w.broken = true
		switch {
		case w.scr != nil: // the screen's header says so
		case w.cfg != nil:
			w.say("The configuration has errors (above): nothing changes until a save fixes them; the last good configuration stays in force.")
		default:
			w.say("The configuration has errors (above): fix them and save; watching goes on.")
		}
		return
	}
	if w.broken {
		w.broken = false
		w.say("The configuration is valid again.")
	}
	// The trees are walked again only when the source directories
	// changed: the watcher follows what happens inside them.
	if t := w.targets(cfg); !slices.Equal(t.Trees, w.targets(w.cfg).Trees) {
		if err := w.fw.Set(t); err != nil {
			w.sayErr("%v", err)
		}
		w.showTargets(cfg)
	}
	w.cfg = cfg
	w.plan(ctx, w.runtime(cfg))
}

// showTargets puts what is watched in the screen's header.
func (w *watch) showTargets(cfg *lang.Config) {
	if w.scr != nil {
		w.scr.SetWatching(w.describeTargets(cfg))
	}
}

// plan plans with rt's configuration and applies the plan, or asks first.
func (w *watch) plan(ctx context.Context, rt *runtime.Runtime) {
	first := w.planned == 0
	sel := w.sel
	if first && sel.Refresh {
		// As apply: runs that ended while nobody watched are recorded
		// before planning.
		if err := rt.Reconcile(ctx); err != nil {
			w.sayErr("%v", err)
			return
		}
	}
	if !first {
		sel.Replace = nil // -replace asks for one more run, not one per change
	}
	p, err := w.c.planFor(rt.Config, w.st, &sel, nil)
	if err != nil {
		w.sayErr("%v", err)
		return
	}
	w.planned++
	w.pending, w.pendRT = nil, nil
	// Live runs recorded by an earlier command are re-attached to by the
	// first plan; later ones join the runs of earlier cycles.
	if !p.Changes() && (!first || !p.Waits()) {
		if w.scr != nil {
			w.scr.SetPlan(w.planTitle(), []string{"No changes."}, false)
		}
		w.say("No changes.")
		return
	}
	if w.scr != nil {
		w.showPlan(p)
	} else {
		w.printPlan(p)
	}
	if !w.auto {
		w.pending, w.pendRT = p, rt
		return
	}
	w.apply(ctx, rt, p)
}

// printPlan prints p between the event lines.
func (w *watch) printPlan(p *planner.Plan) {
	w.render.Print(func(out io.Writer) {
		for _, warn := range p.Warnings {
			fmt.Fprintf(w.c.stderr, "Warning: %s\n", warn)
		}
		views.Plan(out, p, false, w.c.color)
	})
	if !w.auto {
		w.render.Print(func(out io.Writer) {
			fmt.Fprint(out, "Press Enter to apply this plan, or n and Enter to skip it; a newer change replaces it.\n")
		})
	}
}

// showPlan puts p on the screen, its warnings first.
func (w *watch) showPlan(p *planner.Plan) {
	var b strings.Builder
	for _, warn := range p.Warnings {
		fmt.Fprintf(&b, "Warning: %s\n", warn)
	}
	views.Plan(&b, p, false, false)
	// The section's title says what the plan's first line says.
	text := strings.Replace(b.String(), "trainrun will perform these actions:\n", "", 1)
	w.scr.SetPlan(w.planTitle(), strings.Split(text, "\n"), !w.auto)
}

func (w *watch) planTitle() string {
	if w.changes == 0 {
		return "First plan"
	}
	return fmt.Sprintf("Plan for change %d", w.changes)
}

// answer handles a typed line: on the screen, a run's number picks the
// log shown; else, while a plan waits for approval, the answer.
func (w *watch) answer(ctx context.Context, line string) {
	if w.scr != nil {
		defer w.scr.RedrawAll() // the echo of Enter moved the cursor
		if w.scr.Pick(line) {
			return
		}
	}
	if w.pending == nil {
		return
	}
	p, rt := w.pending, w.pendRT
	w.pending, w.pendRT = nil, nil
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		if w.scr != nil {
			w.scr.PlanDecided("applied")
		}
		w.apply(ctx, rt, p)
	default:
		if w.scr != nil {
			w.scr.PlanDecided("skipped")
		}
		w.say("Skipped; waiting for the next change.")
	}
}

// apply carries out p on its own goroutine.
func (w *watch) apply(ctx context.Context, rt *runtime.Runtime, p *planner.Plan) {
	if isClosed(w.opts.Stop) {
		return
	}
	opts := w.opts
	// The screen shows the log of any run; lines show it when there is
	// one run to follow.
	opts.StreamLogs = w.scr != nil || p.Runs() == 1
	what := fmt.Sprintf("Change %d", w.changes)
	if w.changes == 0 {
		what = "First apply"
	}
	w.applies.Add(1)
	go func() {
		defer w.applies.Done()
		res, err := rt.Apply(ctx, p, opts)
		if err != nil {
			w.sayErr("%v", err)
			return
		}
		if res != (runtime.Result{}) {
			w.say("%s done: %s.", what, resultLine(res))
		}
	}()
}

func resultLine(res runtime.Result) string {
	parts := []string{fmt.Sprintf("%d succeeded, %d failed, %d cancelled", res.Succeeded, res.Failed, res.Cancelled)}
	if res.Stopped > 0 {
		parts = append(parts, fmt.Sprintf("%d stopped early", res.Stopped))
	}
	if res.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", res.Skipped))
	}
	if res.NotStarted > 0 {
		parts = append(parts, fmt.Sprintf("%d not started", res.NotStarted))
	}
	if res.Detached > 0 {
		parts = append(parts, fmt.Sprintf("%d left running", res.Detached))
	}
	if res.Updated > 0 {
		parts = append(parts, fmt.Sprintf("%d updated", res.Updated))
	}
	if res.NotPromoted > 0 {
		parts = append(parts, fmt.Sprintf("%d not promoted", res.NotPromoted))
	}
	return strings.Join(parts, ", ")
}

// runtime returns the Runtime for a cycle with configuration cfg: the
// first one, or one related to the last (sharing its bounds and flights),
// with computes opened anew when the compute blocks changed.
func (w *watch) runtime(cfg *lang.Config) *runtime.Runtime {
	if w.rt == nil {
		comps := runtime.NewComputes(cfg, registry(), w.c.providerEnv())
		w.comps = append(w.comps, comps)
		w.rt = &runtime.Runtime{Config: cfg, State: w.st, Computes: comps, DataDir: w.c.dataDir(), Store: w.store, Sink: w.sink}
		return w.rt
	}
	rt := w.rt.WithConfig(cfg)
	if !sameComputes(w.rt.Config, cfg) {
		// Runs started on the old ones keep them: they are closed at exit.
		comps := runtime.NewComputes(cfg, registry(), w.c.providerEnv())
		w.comps = append(w.comps, comps)
		rt.Computes = comps
	}
	w.rt = rt
	return rt
}

func (w *watch) closeComputes() {
	for _, c := range w.comps {
		c.Close()
	}
}

// sameComputes reports whether two configurations have the same compute
// blocks.
func sameComputes(a, b *lang.Config) bool {
	if len(a.Computes) != len(b.Computes) {
		return false
	}
	for name, x := range a.Computes {
		y := b.Computes[name]
		if y == nil || x.Kind != y.Kind || len(x.Values) != len(y.Values) {
			return false
		}
		for k, v := range x.Values {
			u, ok := y.Values[k]
			if !ok || !v.RawEquals(u) {
				return false
			}
		}
	}
	return true
}

// targets are the files of cfg to watch (see planner.WatchTargets).
func (w *watch) targets(cfg *lang.Config) fswatch.Targets {
	return planner.WatchTargets(w.c.dir, w.vf.Files, cfg)
}

func (w *watch) describeTargets(cfg *lang.Config) string {
	t := w.targets(cfg)
	parts := []string{"the configuration files"}
	for _, f := range t.Files {
		parts = append(parts, w.rel(f))
	}
	for _, d := range t.Trees {
		parts = append(parts, w.rel(d)+"/")
	}
	s := strings.Join(parts[:len(parts)-1], ", ")
	if len(parts) > 1 {
		s += " and "
	}
	s += parts[len(parts)-1]
	n := w.fw.Watched()
	return fmt.Sprintf("%s (%s)", s, plural.Count(n, "directory"))
}

func (w *watch) describeBatch(b fswatch.Batch) string {
	if b.Overflow {
		return "too many changes to list (the event queue overflowed)"
	}
	// Editors save through temporary files (sed -i's sedXXXXXX, vim's
	// 4913) that are gone by now: the files that are there say what
	// changed, unless the change was removing them.
	paths := slices.DeleteFunc(slices.Clone(b.Paths), func(p string) bool {
		_, err := os.Lstat(p)
		return errors.Is(err, fs.ErrNotExist)
	})
	if len(paths) == 0 {
		paths = b.Paths
	}
	names := make([]string, 0, 3)
	for i, p := range paths {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(paths)-3))
			break
		}
		names = append(names, w.rel(p))
	}
	return strings.Join(names, ", ")
}

// rel is path relative to the working directory when it is below it.
func (w *watch) rel(path string) string {
	if r, err := filepath.Rel(w.c.dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}

// say prints a line of watch's own, between the runs' event lines, or
// shows it among the screen's events.
func (w *watch) say(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if w.scr != nil {
		w.scr.Say(line)
		return
	}
	w.render.Print(func(out io.Writer) {
		if !w.render.TTY() {
			line = time.Now().Format("15:04:05") + " " + line
		}
		fmt.Fprintln(out, line)
	})
}

func (w *watch) sayErr(format string, args ...any) {
	line := fmt.Sprintf("Error: "+format, args...)
	if w.scr != nil {
		w.scr.Say(line)
		return
	}
	w.render.Print(func(io.Writer) { fmt.Fprintln(w.c.stderr, line) })
}

// readLines delivers the lines of in; the channel closes at its end.
func readLines(in io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
