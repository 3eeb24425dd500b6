package planner_test

import (
	"testing"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/state"
)

// sweep1000 is a 1000-point sweep whose command, env and params use param.*,
// with a small source directory.
var sweep1000 = map[string]string{
	"trainrun.hcl": `
variable "epochs" {
  type    = number
  default = 10
}

compute "local" "laptop" {
  max_runs = 4
}

experiment "train" {
  compute    = compute.laptop
  source_dir = "src"
  command    = ["python3", "train.py", "--a", param.a, "--b", param.b, "--epochs", param.epochs]
  params     = { epochs = var.epochs, tag = "x" }
  env        = { A = param.a, B = "b-${param.b}" }
  outputs    = ["model.json"]
  timeout    = "1h"
  sweep {
    grid = { a = range(40), b = range(25) }
  }
}
`,
	"src/train.py":    "print('train')\n",
	"src/lib/util.py": "x = 1\n",
	"src/data.csv":    "a,b\n1,2\n",
	"src/.gitignore":  "*.log\n",
}

// TestPlanNoop1000 checks what BenchmarkPlanNoop1000 measures: after
// recording every instance as succeeded, the plan has 1000 no-ops.
func TestPlanNoop1000(t *testing.T) {
	p := newProject(t, sweep1000)
	p.apply()
	pl := p.plan(planner.Options{})
	if got := pl.Summary()[planner.NoOp]; got != 1000 || pl.Changes() {
		t.Fatalf("no-ops = %d, changes = %v; want 1000 no-ops and no changes", got, pl.Changes())
	}
}

// BenchmarkPlanNoop1000 measures a no-op plan of a 1000-instance sweep
// already recorded as succeeded: everything `trainrun plan` does but
// starting the process and printing: load the configuration, open the
// state, scan the source (stat cache warm) and diff every instance.
// Target: ≤ 100 ms.
func BenchmarkPlanNoop1000(b *testing.B) {
	p := newProject(b, sweep1000)
	p.apply()
	opts := planner.Options{DataDir: p.dataDir()}
	lopts := p.options()
	for b.Loop() {
		cfg, diags := lang.Load(p.dir, lopts)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		st, err := state.Open(p.dataDir())
		if err != nil {
			b.Fatal(err)
		}
		pl, err := planner.Build(cfg, st, opts)
		if err != nil {
			b.Fatal(err)
		}
		if pl.Changes() || len(pl.Actions) != 1000 {
			b.Fatalf("plan has changes or %d actions", len(pl.Actions))
		}
		st.Close()
	}
}

// BenchmarkBuild1000 is the planner's own share: Build alone, the
// configuration loaded and the state opened once.
func BenchmarkBuild1000(b *testing.B) {
	p := newProject(b, sweep1000)
	p.apply()
	cfg := p.load()
	st := p.open()
	opts := planner.Options{DataDir: p.dataDir()}
	for b.Loop() {
		pl, err := planner.Build(cfg, st, opts)
		if err != nil {
			b.Fatal(err)
		}
		if pl.Summary()[planner.NoOp] != 1000 {
			b.Fatal("not a no-op plan")
		}
	}
}
