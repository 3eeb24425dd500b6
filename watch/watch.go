// Package watch plans and applies whenever a configuration file, a
// variable file or a file of a source_dir changes: trainrun watch.
//
// Each cycle loads the configuration again, plans against the recorded
// state and applies the plan on a Runtime of its own (Runtime.WithConfig),
// on a goroutine of its own: a cycle does not wait for the runs of earlier
// cycles. The Runtimes share the scheduler and the runs in flight, so a
// cycle joins a run that an earlier one is carrying out with the same
// fingerprint, and supersedes (cancels, unless KeepRunning) the runs of
// instances whose fingerprint changed. watch claims the instances it
// runs, as apply does, so that applies in other terminals run beside it.
//
// What watch shows goes through a View: lines between the runs' events,
// or a full screen on a terminal (cmd/trainrun/internal/views).
package watch

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

	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// View shows what watch does.
type View interface {
	// Event shows an event of the runtime.
	Event(ev runtime.Event)
	// Say shows a line of watch's own; Error shows an error ("Error: …").
	Say(line string)
	Error(line string)
	// Load calls load, which loads the configuration and writes its
	// diagnostics to diags (coloured when color), and shows them. good
	// says whether a last good configuration is in force.
	Load(load func(diags io.Writer, color bool) *lang.Config, good bool) *lang.Config
	// Broken says that the configuration has errors; good, that the last
	// good one stays in force.
	Broken(good bool)
	// Watching shows what is watched; Change, the last change.
	Watching(what string)
	Change(what string)
	// Plan shows a plan, titled; ask says it waits for approval.
	// NoChanges shows that a plan has nothing to do.
	Plan(title string, p *planner.Plan, ask bool)
	NoChanges(title string)
	// Decided notes what became of the plan that waited: "applied",
	// "skipped".
	Decided(what string)
	// Typed handles a line the user typed when it is for the view (a
	// run's number on the full screen picks the log shown), reporting
	// whether it was.
	Typed(line string) bool
	// FullScreen reports whether the view is the full screen, which shows
	// the log of every run and reads what is typed.
	FullScreen() bool
	// Stopping says that watching stops.
	Stopping()
	// Close stops drawing. Safe to call more than once.
	Close()
}

// Options are what Run watches and applies with.
type Options struct {
	Dir      string   // the project's directory
	DataDir  string   // its .trainrun
	VarFiles []string // -var-file: watched too
	// Load loads the configuration, its diagnostics written to diags; nil
	// when it has errors.
	Load func(diags io.Writer, color bool) *lang.Config
	// Plan plans cfg against st; replace says whether the -replace of the
	// command line applies (to the first plan only).
	Plan func(cfg *lang.Config, st planner.State, replace bool) (*planner.Plan, error)
	// Computes opens the computes of cfg.
	Computes func(cfg *lang.Config) *runtime.Computes
	// Refresh records, before the first plan, the runs that ended while
	// nobody followed them.
	Refresh bool

	State   state.Backend
	Store   *snapshot.Store
	Watcher *fswatch.Watcher
	View    View
	// Sink, if not nil, is the runtime's sink, passing events on to View.
	Sink func(runtime.Event)
	// Input is what the user types: answers to the plans that wait for
	// approval, runs picked on the full screen. InputTerminal says it is a
	// terminal.
	Input         io.Reader
	InputTerminal bool

	AutoApprove bool
	KeepRunning bool // superseded runs are left running
	Parallelism int
	// Stop closes to stop watching (a first Ctrl-C); Detach, to leave
	// live runs running (see package interrupt).
	Stop, Detach <-chan struct{}
}

// Run watches until Stop closes or the input ends while a plan may wait
// for approval, then waits for the applies it started: live runs are left
// running (Detach) or cancelled (ctx) and recorded. It returns an error
// only when watching cannot begin (out of inotify watches).
func Run(ctx context.Context, o Options) error {
	w := &watcher{o: o, v: o.View, sink: o.Sink}
	if w.sink == nil {
		w.sink = o.View.Event
	}
	w.ropts = runtime.Options{Parallelism: o.Parallelism, Stop: o.Stop, Detach: o.Detach, CancelSuperseded: !o.KeepRunning, Holder: state.Holder{Command: "trainrun watch"}}
	defer w.closeComputes()
	if err := w.start(ctx); err != nil {
		w.v.Close()
		return err
	}
	var lines <-chan string
	if o.Input != nil && (!o.AutoApprove || (w.v.FullScreen() && o.InputTerminal)) {
		// With -auto-approve, only the screen reads what is typed: a
		// run's number picks the log shown.
		lines = readLines(o.Input)
	}
	fw := o.Watcher
loop:
	for {
		select {
		case <-o.Stop:
			break loop
		case b, ok := <-fw.Changes():
			if !ok {
				break loop
			}
			w.cycle(ctx, b)
		case err := <-fw.Errors():
			w.sayErr("%v", err)
		case line, ok := <-lines:
			if !ok && o.AutoApprove {
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
	w.v.Stopping()
	// Live runs are left running (detach) or, after a second Ctrl-C,
	// cancelled and recorded: either way every apply returns.
	w.applies.Wait()
	w.v.Close()
	return nil
}

// watcher is one watch's state between cycles.
type watcher struct {
	o     Options
	v     View
	sink  func(ev runtime.Event)
	ropts runtime.Options

	cfg     *lang.Config     // the last good configuration
	rt      *runtime.Runtime // the last cycle's
	comps   []*runtime.Computes
	broken  bool          // the configuration on disk has errors
	pending *planner.Plan // waiting for approval, with pendRT
	pendRT  *runtime.Runtime
	changes int // batches of changes seen
	planned int // plans made
	applies sync.WaitGroup
}

// start loads the configuration, watches its files and runs the first
// cycle. A broken configuration does not stop watch: its files are watched
// for a fix. Running out of inotify watches does.
func (w *watcher) start(ctx context.Context) error {
	cfg := w.load()
	if err := w.o.Watcher.Set(w.targets(cfg)); err != nil {
		var le *fswatch.LimitError
		if errors.As(err, &le) {
			return err
		}
		w.sayErr("%v", err)
	}
	w.v.Watching(w.describeTargets(cfg))
	w.say("Watching %s. Press Ctrl-C to stop.", w.describeTargets(cfg))
	if cfg == nil {
		w.broken = true
		w.v.Broken(false)
		return nil
	}
	w.cfg = cfg
	w.plan(ctx, w.runtime(cfg))
	return nil
}

// load loads the configuration, its diagnostics shown by the view.
func (w *watcher) load() *lang.Config {
	return w.v.Load(w.o.Load, w.cfg != nil)
}

// cycle plans and applies after a change.
func (w *watcher) cycle(ctx context.Context, b fswatch.Batch) {
	w.changes++
	w.say("Change %d: %s", w.changes, w.describeBatch(b))
	w.v.Change(fmt.Sprintf("Change %d at %s: %s", w.changes, time.Now().Format("15:04:05"), w.describeBatch(b)))
	cfg := w.load()
	if cfg == nil {
		w.broken = true
		w.v.Broken(w.cfg != nil)
		return
	}
	if w.broken {
		w.broken = false
		w.say("The configuration is valid again.")
	}
	// The trees are walked again only when the source directories
	// changed: the watcher follows what happens inside them.
	if t := w.targets(cfg); !slices.Equal(t.Trees, w.targets(w.cfg).Trees) {
		if err := w.o.Watcher.Set(t); err != nil {
			w.sayErr("%v", err)
		}
		w.v.Watching(w.describeTargets(cfg))
	}
	w.cfg = cfg
	w.plan(ctx, w.runtime(cfg))
}

// plan plans with rt's configuration and applies the plan, or asks first.
func (w *watcher) plan(ctx context.Context, rt *runtime.Runtime) {
	first := w.planned == 0
	if first && w.o.Refresh {
		// As apply: runs that ended while nobody watched are recorded
		// before planning.
		if err := rt.Reconcile(ctx); err != nil {
			w.sayErr("%v", err)
			return
		}
	}
	// -replace asks for one more run, not one per change.
	p, err := w.o.Plan(rt.Config, w.o.State, first)
	if err != nil {
		w.sayErr("%v", err)
		return
	}
	w.planned++
	w.pending, w.pendRT = nil, nil
	// Live runs recorded by an earlier command are re-attached to by the
	// first plan; later ones join the runs of earlier cycles.
	if !p.Changes() && (!first || !p.Waits()) {
		w.v.NoChanges(w.planTitle())
		w.say("No changes.")
		return
	}
	w.v.Plan(w.planTitle(), p, !w.o.AutoApprove)
	if !w.o.AutoApprove {
		w.pending, w.pendRT = p, rt
		return
	}
	w.apply(ctx, rt, p)
}

func (w *watcher) planTitle() string {
	if w.changes == 0 {
		return "First plan"
	}
	return fmt.Sprintf("Plan for change %d", w.changes)
}

// answer handles a typed line: a line for the view (a run's number on the
// screen), else, while a plan waits for approval, the answer.
func (w *watcher) answer(ctx context.Context, line string) {
	if w.v.Typed(line) || w.pending == nil {
		return
	}
	p, rt := w.pending, w.pendRT
	w.pending, w.pendRT = nil, nil
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		w.v.Decided("applied")
		w.apply(ctx, rt, p)
	default:
		w.v.Decided("skipped")
		w.say("Skipped; waiting for the next change.")
	}
}

// apply carries out p on its own goroutine.
func (w *watcher) apply(ctx context.Context, rt *runtime.Runtime, p *planner.Plan) {
	if isClosed(w.o.Stop) {
		return
	}
	opts := w.ropts
	// The screen shows the log of any run; lines show it when there is
	// one run to follow.
	opts.StreamLogs = w.v.FullScreen() || p.Runs() == 1
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
			w.say("%s done: %s.", what, ResultLine(res))
		}
	}()
}

// ResultLine sums up what an apply of one cycle did.
func ResultLine(res runtime.Result) string {
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
func (w *watcher) runtime(cfg *lang.Config) *runtime.Runtime {
	if w.rt == nil {
		comps := w.o.Computes(cfg)
		w.comps = append(w.comps, comps)
		w.rt = &runtime.Runtime{Config: cfg, State: w.o.State, Computes: comps, DataDir: w.o.DataDir, Store: w.o.Store, Sink: w.sink}
		return w.rt
	}
	rt := w.rt.WithConfig(cfg)
	if !sameComputes(w.rt.Config, cfg) {
		// Runs started on the old ones keep them: they are closed at exit.
		comps := w.o.Computes(cfg)
		w.comps = append(w.comps, comps)
		rt.Computes = comps
	}
	w.rt = rt
	return rt
}

func (w *watcher) closeComputes() {
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
func (w *watcher) targets(cfg *lang.Config) fswatch.Targets {
	return planner.WatchTargets(w.o.Dir, w.o.VarFiles, cfg)
}

func (w *watcher) describeTargets(cfg *lang.Config) string {
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
	n := w.o.Watcher.Watched()
	return fmt.Sprintf("%s (%s)", s, plural.Count(n, "directory"))
}

func (w *watcher) describeBatch(b fswatch.Batch) string {
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
func (w *watcher) rel(path string) string {
	if r, err := filepath.Rel(w.o.Dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}

// say shows a line of watch's own, between the runs' event lines.
func (w *watcher) say(format string, args ...any) {
	w.v.Say(fmt.Sprintf(format, args...))
}

func (w *watcher) sayErr(format string, args ...any) {
	w.v.Error(fmt.Sprintf("Error: "+format, args...))
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
