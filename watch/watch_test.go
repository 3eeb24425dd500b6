package watch

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/local"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// recorder is a View that keeps what it is told, as lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *recorder) Event(ev runtime.Event) {
	if ev.Type == runtime.RunFinished {
		r.add("event: %s %s", ev.Address, ev.Status)
	}
}
func (r *recorder) Say(line string)   { r.add("say: %s", line) }
func (r *recorder) Error(line string) { r.add("error: %s", line) }
func (r *recorder) Load(load func(io.Writer, bool) *lang.Config, good bool) *lang.Config {
	var b strings.Builder
	cfg := load(&b, false)
	if cfg == nil {
		r.add("diagnostics: %s", strings.TrimSpace(b.String()))
	}
	return cfg
}
func (r *recorder) Broken(good bool) { r.add("broken: good=%v", good) }
func (r *recorder) Watching(string)  {}
func (r *recorder) Change(string)    {}
func (r *recorder) Plan(title string, p *planner.Plan, ask bool) {
	r.add("plan: %s ask=%v", title, ask)
}
func (r *recorder) NoChanges(title string) { r.add("no changes: %s", title) }
func (r *recorder) Decided(what string)    { r.add("decided: %s", what) }
func (r *recorder) Typed(string) bool      { return false }
func (r *recorder) FullScreen() bool       { return false }
func (r *recorder) Stopping()              { r.add("stopping") }
func (r *recorder) Close()                 { r.add("close") }

// waitFor waits until the view has been told a line containing want.
func (r *recorder) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		found := slices.ContainsFunc(r.lines, func(l string) bool { return strings.Contains(l, want) })
		r.mu.Unlock()
		if found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("the view was never told %q; it was told:\n%s", want, strings.Join(r.lines, "\n"))
}

const config = `compute "local" "here" {}

experiment "a" {
  compute = compute.here
  shell   = "echo %s >> %s/ran.txt"
}
`

// options returns what Run needs for a project in a new directory, whose
// configuration runs echo word, and the directory its runs write ran.txt in.
func options(t *testing.T, word string) (Options, string) {
	t.Helper()
	dir, out := t.TempDir(), t.TempDir() // the runs write out of the watched tree
	write(t, dir, fmt.Sprintf(config, word, out))
	dataDir := filepath.Join(dir, ".trainrun")
	st, err := state.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	store, err := snapshot.OpenStore(filepath.Join(dataDir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	fw, err := fswatch.New(fswatch.Options{Debounce: 50 * time.Millisecond})
	if err != nil {
		t.Skipf("no file watcher here: %v", err)
	}
	t.Cleanup(func() { fw.Close() })
	reg := &providers.Registry{Computes: map[string]providers.ComputeKind{"local": local.Kind()}}
	env := providers.Env{Dir: dir, DataDir: dataDir}
	return Options{
		Dir: dir, DataDir: dataDir,
		Load: func(diags io.Writer, color bool) *lang.Config {
			cfg, ds := lang.Load(dir, lang.Options{Getenv: func(string) string { return "" }, Registry: reg})
			if ds.HasErrors() {
				files := map[string]*hcl.File{}
				if cfg != nil {
					files = cfg.Files
				}
				_ = lang.WriteDiagnostics(diags, files, ds, color)
				return nil
			}
			return cfg
		},
		Plan: func(cfg *lang.Config, st planner.State, replace bool) (*planner.Plan, error) {
			return planner.Build(t.Context(), cfg, st, planner.Options{DataDir: dataDir})
		},
		Computes: func(cfg *lang.Config) *runtime.Computes { return runtime.NewComputes(cfg, reg, env) },
		State:    st, Store: store, Watcher: fw,
	}, out
}

func write(t *testing.T, dir, config string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "trainrun.hcl"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
}

// With AutoApprove, each change is planned and applied; a broken
// configuration leaves the last good one in force.
func TestRunAppliesEachChange(t *testing.T) {
	o, out := options(t, "one")
	view := &recorder{}
	stop := make(chan struct{})
	o.View, o.AutoApprove, o.Stop, o.Detach = view, true, stop, make(chan struct{})
	done := make(chan error)
	go func() { done <- Run(context.Background(), o) }()

	view.waitFor(t, "say: First apply done: 1 succeeded, 0 failed, 0 cancelled.")
	write(t, o.Dir, fmt.Sprintf(config, "two", out))
	view.waitFor(t, "say: Change 1: trainrun.hcl")
	view.waitFor(t, "say: Change 1 done: 1 succeeded, 0 failed, 0 cancelled.")
	write(t, o.Dir, "experiment {")
	view.waitFor(t, "broken: good=true")
	view.waitFor(t, "diagnostics: ")
	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after Stop closed")
	}
	data, err := os.ReadFile(filepath.Join(out, "ran.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "one\ntwo\n" {
		t.Errorf("ran.txt = %q, want one run of each configuration", data)
	}
	view.mu.Lock()
	defer view.mu.Unlock()
	if n := len(view.lines); n < 2 || view.lines[n-2] != "stopping" || view.lines[n-1] != "close" {
		t.Errorf("the view was not told to stop, then closed: %q", view.lines)
	}
}

// Without AutoApprove, a plan waits for an answer: n skips it, and the
// input's end stops watching.
func TestRunAsks(t *testing.T) {
	o, out := options(t, "one")
	view := &recorder{}
	in, typed := io.Pipe()
	o.View, o.Input, o.Stop, o.Detach = view, in, make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() { done <- Run(context.Background(), o) }()

	view.waitFor(t, "plan: First plan ask=true")
	io.WriteString(typed, "n\n")
	view.waitFor(t, "decided: skipped")
	view.waitFor(t, "say: Skipped; waiting for the next change.")
	typed.Close()
	view.waitFor(t, "say: Standard input closed: watching stops.")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after its input ended")
	}
	if _, err := os.Stat(filepath.Join(out, "ran.txt")); err == nil {
		t.Error("a skipped plan ran")
	}
}

func TestResultLine(t *testing.T) {
	for _, tc := range []struct {
		res  runtime.Result
		want string
	}{
		{runtime.Result{Succeeded: 2}, "2 succeeded, 0 failed, 0 cancelled"},
		{runtime.Result{Failed: 1, Skipped: 3, Detached: 1}, "0 succeeded, 1 failed, 0 cancelled, 3 skipped, 1 left running"},
	} {
		if got := ResultLine(tc.res); got != tc.want {
			t.Errorf("ResultLine(%+v) = %q, want %q", tc.res, got, tc.want)
		}
	}
}
