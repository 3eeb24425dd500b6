package runtime

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
)

// gatedKind opens its kind's computes with a Collect that first calls
// before: a test holds a run's collection up while other runs go on.
type gatedKind struct {
	providers.ComputeKind
	before func(spec *providers.RunSpec)
}

func (k gatedKind) Open(name string, v providers.Values, env providers.Env) (providers.Compute, error) {
	c, err := k.ComputeKind.Open(name, v, env)
	if err != nil {
		return nil, err
	}
	return &gatedCompute{Compute: c, before: k.before}, nil
}

type gatedCompute struct {
	providers.Compute
	before func(spec *providers.RunSpec)
}

func (c *gatedCompute) Collect(ctx context.Context, h providers.Handle, spec *providers.RunSpec, dst string, outputs bool) error {
	c.before(spec)
	return c.Compute.Collect(ctx, h, spec, dst, outputs)
}

// The apply log says a run's end before the start of the run that took its
// slot (max_runs = 1), even when the next run is started while the first
// one's results are still being collected.
func TestEndSaidBeforeTheStartItAllows(t *testing.T) {
	p := newProject(t, `
compute "local" "here" {
  max_runs = 1
}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["true"]
}
experiment "b" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root, "b"]
  depends_on = []
}
`)
	// a's results are collected only once b's process runs: b took the
	// slot a gave back when its process ended.
	started := filepath.Join(p.dir, "started-b-1")
	p.reg.Computes["local"] = gatedKind{ComputeKind: p.reg.Computes["local"], before: func(spec *providers.RunSpec) {
		if spec == nil || spec.Address != "experiment.a" {
			return
		}
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(started); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Error("b did not start while a's results were collected")
	}}
	p.rt.Computes = NewComputes(p.rt.Config, p.reg, providers.Env{Dir: p.dir, DataDir: filepath.Join(p.dir, ".trainrun")})
	t.Cleanup(func() { p.rt.Computes.Close() })
	ch := applyAsync(p.rt, p.plan(p.rt.Config), Options{})
	p.waitFile("started-b-1")
	deadline := time.Now().Add(2 * time.Minute)
	for len(p.events.of(RunStarted)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.write("go-b", "")
	if res := wait(t, ch); res.Succeeded != 2 {
		t.Fatalf("result %+v", res)
	}
	var order []string
	for _, ev := range p.events.events {
		if ev.Type == RunStarted || ev.Type == RunFinished {
			order = append(order, string(ev.Type)+" "+ev.Address)
		}
	}
	want := []string{"run_started experiment.a", "run_finished experiment.a", "run_started experiment.b", "run_finished experiment.b"}
	if len(order) != len(want) {
		t.Fatalf("events %q, want %q", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("events %q, want %q", order, want)
		}
	}
}
