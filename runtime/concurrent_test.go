package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/envtest"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/envs"
	"github.com/trainrun/trainrun/providers/local"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// project is a temporary project for applies at the same time: each run
// writes started-<experiment>-<v>, where v is the content of src/v.txt,
// and waits for go-<experiment> (at most 20 s).
type project struct {
	t      *testing.T
	dir    string
	reg    *providers.Registry
	st     *state.Store
	store  *snapshot.Store
	rt     *Runtime
	events *eventLog
}

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) sink(ev Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

func (l *eventLog) of(typ EventType) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, ev := range l.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

const hold = `echo run >> "$1/count-$2.txt"
touch "$1/started-$2-$(cat v.txt)"
i=0
while [ ! -f "$1/go-$2" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
`

func newProject(t *testing.T, config string) *project {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"trainrun.hcl": config,
		"src/hold.sh":  hold,
		"src/v.txt":    "1",
		"src2/hold.sh": hold,
		"src2/v.txt":   "1",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := &project{t: t, dir: dir, events: &eventLog{}}
	t.Cleanup(func() {
		if t.Failed() {
			p.events.mu.Lock()
			defer p.events.mu.Unlock()
			for _, ev := range p.events.events {
				t.Logf("event %s %s %s %s %s %s", ev.Type, ev.Address, ev.RunID, ev.Status, ev.Reason, ev.Message)
			}
		}
	})
	p.reg = &providers.Registry{Computes: map[string]providers.ComputeKind{"local": local.Kind()}, Environments: envs.Kinds()}
	data := filepath.Join(dir, ".trainrun")
	var err error
	if p.st, err = state.Open(data); err != nil {
		t.Fatal(err)
	}
	if err := p.st.Lock(state.Holder{Command: "test"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.st.Close() })
	if p.store, err = snapshot.OpenStore(filepath.Join(data, "store")); err != nil {
		t.Fatal(err)
	}
	cfg := p.load()
	comps := NewComputes(cfg, p.reg, providers.Env{Dir: dir, DataDir: data})
	t.Cleanup(func() { comps.Close() })
	p.rt = &Runtime{Config: cfg, State: p.st, Computes: comps, DataDir: data, Store: p.store, Sink: p.events.sink}
	return p
}

func (p *project) load() *lang.Config {
	p.t.Helper()
	cfg, diags := lang.Load(p.dir, lang.Options{Getenv: func(string) string { return "" }, Registry: p.reg})
	if diags.HasErrors() {
		p.t.Fatal(diags)
	}
	return cfg
}

func (p *project) plan(cfg *lang.Config) *planner.Plan {
	p.t.Helper()
	pl, err := planner.Build(p.t.Context(), cfg, p.st, planner.Options{DataDir: filepath.Join(p.dir, ".trainrun")})
	if err != nil {
		p.t.Fatal(err)
	}
	return pl
}

func (p *project) write(name, content string) {
	p.t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, name), []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *project) waitFile(name string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(p.dir, name)); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.t.Fatalf("timed out waiting for %s", name)
}

// tracked is the number of actions in flight for address, across p.rt and
// its relatives.
func (p *project) tracked(address string) int {
	t := p.rt.tracker()
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byAddress[address])
}

// joiners is the number of actions that joined the actions in flight for
// address.
func (p *project) joiners(address string) int {
	t := p.rt.tracker()
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, f := range t.byAddress[address] {
		n += f.joiners
	}
	return n
}

// waitUntil polls cond until it holds, for at most 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *project) count(exp string) int {
	b, _ := os.ReadFile(filepath.Join(p.dir, "count-"+exp+".txt"))
	return strings.Count(string(b), "run")
}

type applied struct {
	res Result
	err error
}

// applyAsync carries out pl on rt in the background.
func applyAsync(rt *Runtime, pl *planner.Plan, opts Options) chan applied {
	ch := make(chan applied, 1)
	go func() {
		res, err := rt.Apply(context.Background(), pl, opts)
		ch <- applied{res, err}
	}()
	return ch
}

func wait(t *testing.T, ch chan applied) Result {
	t.Helper()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatal(a.err)
		}
		return a.res
	case <-time.After(30 * time.Second):
		t.Fatal("apply did not return")
		return Result{}
	}
}

const oneExperiment = `
compute "local" "here" {}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root, "a"]
}
`

func TestSupersedeCancelsAndJoinWaits(t *testing.T) {
	p := newProject(t, oneExperiment)
	opts := Options{CancelSuperseded: true}
	first := applyAsync(p.rt, p.plan(p.rt.Config), opts)
	p.waitFile("started-a-1")
	old := p.st.Latest("experiment.a")

	// A newer edit: the live run is superseded and cancelled; the new one
	// starts.
	p.write("src/v.txt", "2")
	cfg := p.load()
	rt2 := p.rt.WithConfig(cfg)
	pl := p.plan(cfg)
	if pl.Actions[0].Action != planner.Submit {
		t.Fatalf("plan after the edit: %s, want submit", pl.Actions[0].Action)
	}
	second := applyAsync(rt2, pl, opts)
	p.waitFile("started-a-2")
	if res := wait(t, first); res.Cancelled != 1 {
		t.Errorf("first apply: %+v, want its run cancelled", res)
	}
	got, _ := p.st.Get(old.ID)
	if got.Status != providers.Cancelled || !strings.Contains(got.Reason, "superseded by a newer run") {
		t.Errorf("superseded run recorded as %s (%q), want cancelled, superseded", got.Status, got.Reason)
	}
	sup := p.events.of(RunSuperseded)
	if len(sup) != 1 || sup[0].RunID != old.ID || sup[0].Message != "cancelling it" || !strings.Contains(sup[0].Reason, "source changed") {
		t.Errorf("superseded events = %+v", sup)
	}

	// A third apply of the same configuration plans to wait for the live
	// run: it joins the second apply's tracked action, and neither re-attaches nor
	// starts anything.
	rt3 := rt2.WithConfig(cfg)
	pl3 := p.plan(cfg)
	third := applyAsync(rt3, pl3, opts)
	waitUntil(t, "the third apply joins a's run", func() bool { return p.joiners("experiment.a") == 1 })
	p.write("go-a", "")
	if res := wait(t, second); res.Succeeded != 1 {
		t.Errorf("second apply: %+v, want 1 succeeded", res)
	}
	if res := wait(t, third); res != (Result{}) {
		t.Errorf("third apply: %+v, want nothing of its own", res)
	}
	if n := len(p.events.of(RunReattached)); n != 0 {
		t.Errorf("%d re-attaches; the run was followed already", n)
	}
	if n := p.count("a"); n != 2 {
		t.Errorf("%d runs started, want 2", n)
	}
	if l := p.st.Latest("experiment.a"); l.Status != providers.Succeeded {
		t.Errorf("latest run %s, want succeeded", l.Status)
	}
}

func TestSupersededKeepsRunningWithoutCancel(t *testing.T) {
	p := newProject(t, oneExperiment)
	first := applyAsync(p.rt, p.plan(p.rt.Config), Options{})
	p.waitFile("started-a-1")
	old := p.st.Latest("experiment.a")
	p.write("src/v.txt", "2")
	cfg := p.load()
	second := applyAsync(p.rt.WithConfig(cfg), p.plan(cfg), Options{})
	p.waitFile("started-a-2")
	p.write("go-a", "")
	wait(t, first)
	wait(t, second)
	if got, _ := p.st.Get(old.ID); got.Status != providers.Succeeded {
		t.Errorf("superseded run ended %s (%s), want succeeded: it was kept running", got.Status, got.Reason)
	}
	sup := p.events.of(RunSuperseded)
	if len(sup) != 1 || sup[0].Message != "left running" {
		t.Errorf("superseded events = %+v", sup)
	}
}

func TestSupersededBeforeItStarts(t *testing.T) {
	p := newProject(t, `
compute "local" "here" {
  max_runs = 1
}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root, "a"]
}
experiment "b" {
  compute    = compute.here
  source_dir = "src2"
  command    = ["sh", "hold.sh", path.root, "b"]
}
`)
	// a holds the only slot.
	pl, err := planner.Build(t.Context(), p.rt.Config, p.st, planner.Options{Targets: []string{"experiment.a"}, DataDir: filepath.Join(p.dir, ".trainrun")})
	if err != nil {
		t.Fatal(err)
	}
	blocker := applyAsync(p.rt, pl, Options{CancelSuperseded: true})
	p.waitFile("started-a-1")
	first := applyAsync(p.rt.WithConfig(p.rt.Config), p.plan(p.rt.Config), Options{CancelSuperseded: true})
	// Only once the first apply tracks its b may the newer apply come:
	// before, the newer b would be the one tracked, and the older apply's
	// b would supersede it.
	waitUntil(t, "the first apply tracks experiment.b", func() bool { return p.tracked("experiment.b") == 1 })

	// b waits for the only slot, unrecorded. An edit supersedes it: it
	// never starts, and the newer b takes its turn.
	p.write("src2/v.txt", "2")
	cfg := p.load()
	second := applyAsync(p.rt.WithConfig(cfg), p.plan(cfg), Options{CancelSuperseded: true})
	waitUntil(t, "the second apply supersedes the first one's b", func() bool { return len(p.events.of(RunSuperseded)) > 0 })
	// The bounds hold across applies: the newer b waits for a's slot.
	if _, err := os.Stat(filepath.Join(p.dir, "started-b-2")); err == nil {
		t.Error("b started while a held the compute's only slot")
	}
	p.write("go-a", "")
	p.waitFile("started-b-2")
	p.write("go-b", "")
	if res := wait(t, blocker); res.Succeeded != 1 {
		t.Errorf("a's apply: %+v, want a succeeded", res)
	}
	if res := wait(t, first); res.NotStarted != 1 || res.Succeeded != 0 {
		t.Errorf("first apply: %+v, want b not started (and a joined)", res)
	}
	if res := wait(t, second); res.Succeeded != 1 {
		t.Errorf("second apply: %+v, want b succeeded", res)
	}
	if n := p.count("b"); n != 1 {
		t.Errorf("b started %d times, want once", n)
	}
	if n := p.count("a"); n != 1 {
		t.Errorf("a started %d times, want once (joined, not run again)", n)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "started-b-1")); err == nil {
		t.Error("the superseded b started")
	}
	sup := p.events.of(RunSuperseded)
	if len(sup) != 1 || sup[0].Message != "it will not start" || sup[0].RunID != "" {
		t.Errorf("superseded events = %+v", sup)
	}
}

// TestStaleApplyComingLate: an apply of an older configuration that takes
// its plan only after an apply of a newer one (watch's goroutine of an
// earlier cycle was slow) does not supersede the newer b: its own b is
// superseded and never starts.
func TestStaleApplyComingLate(t *testing.T) {
	p := newProject(t, `
compute "local" "here" {
  max_runs = 1
}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root, "a"]
}
experiment "b" {
  compute    = compute.here
  source_dir = "src2"
  command    = ["sh", "hold.sh", path.root, "b"]
}
`)
	pl, err := planner.Build(t.Context(), p.rt.Config, p.st, planner.Options{Targets: []string{"experiment.a"}, DataDir: filepath.Join(p.dir, ".trainrun")})
	if err != nil {
		t.Fatal(err)
	}
	blocker := applyAsync(p.rt, pl, Options{CancelSuperseded: true})
	p.waitFile("started-a-1")

	// The older cycle's Runtime and plan are made first; its apply comes
	// after the newer one's.
	oldRT, oldPlan := p.rt.WithConfig(p.rt.Config), p.plan(p.rt.Config)
	p.write("src2/v.txt", "2")
	cfg := p.load()
	second := applyAsync(p.rt.WithConfig(cfg), p.plan(cfg), Options{CancelSuperseded: true})
	waitUntil(t, "the newer apply tracks experiment.b", func() bool { return p.tracked("experiment.b") == 1 })
	first := applyAsync(oldRT, oldPlan, Options{CancelSuperseded: true})
	waitUntil(t, "the older apply's b is superseded", func() bool { return len(p.events.of(RunSuperseded)) > 0 })

	p.write("go-a", "")
	p.waitFile("started-b-2")
	p.write("go-b", "")
	if res := wait(t, blocker); res.Succeeded != 1 {
		t.Errorf("a's apply: %+v, want a succeeded", res)
	}
	if res := wait(t, first); res.NotStarted != 1 || res.Succeeded != 0 {
		t.Errorf("older apply: %+v, want b not started (and a joined)", res)
	}
	if res := wait(t, second); res.Succeeded != 1 {
		t.Errorf("newer apply: %+v, want b succeeded", res)
	}
	if n := p.count("b"); n != 1 {
		t.Errorf("b started %d times, want once", n)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "started-b-1")); err == nil {
		t.Error("the older b started")
	}
	sup := p.events.of(RunSuperseded)
	if len(sup) != 1 || sup[0].Message != "it will not start" || sup[0].RunID != "" {
		t.Errorf("superseded events = %+v", sup)
	}
}

// TestOutputsNotStoredFailTheRun: when the content store cannot take a
// run's outputs (a full disk), the run is not a success: it fails with the
// reason, and the next plan runs it again.
func TestOutputsNotStoredFailTheRun(t *testing.T) {
	p := newProject(t, `
compute "local" "here" {}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  shell      = "head -c 400000 /dev/zero > $TRAINRUN_OUTPUTS_DIR/big"
}
`)
	storeDir := filepath.Join(p.dir, ".trainrun", "store")
	envtest.SmallFilesystem(t, storeDir, 256<<10)
	var err error
	if p.store, err = snapshot.OpenStore(storeDir); err != nil {
		t.Fatal(err)
	}
	p.rt.Store = p.store
	wait(t, applyAsync(p.rt, p.plan(p.rt.Config), Options{}))
	run := p.st.Latest("experiment.a")
	if run == nil || run.Status != providers.Failed || !strings.Contains(run.Reason, "store outputs: ") ||
		!strings.Contains(run.Reason, "no space left on device") {
		t.Fatalf("run %+v; want failed: store outputs: … no space left on device", run)
	}
	pl := p.plan(p.load())
	if !pl.Changes() {
		t.Errorf("the next plan does not run it again: %+v", pl.Actions)
	}
}
