package planner_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/snapshot"
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
		pl, err := planner.Build(b.Context(), cfg, st, opts)
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
		pl, err := planner.Build(b.Context(), cfg, st, opts)
		if err != nil {
			b.Fatal(err)
		}
		if pl.Summary()[planner.NoOp] != 1000 {
			b.Fatal("not a no-op plan")
		}
	}
}

// pipeline200 is a five-stage pipeline: prepare → featurize → train, a
// 200-point sweep → evaluate, one instance per train instance (for_each)
// → report, which takes every evaluate instance's outputs (keyed fan-in).
var pipeline200 = map[string]string{
	"trainrun.hcl": `
locals {
  params = yamldecode(file("params.yaml"))
}

compute "local" "laptop" {
  max_runs = 4
}

experiment "prepare" {
  compute    = compute.laptop
  source_dir = "src"
  params     = local.params.prepare
  command    = ["python3", "prepare.py"]
}

experiment "featurize" {
  compute    = compute.laptop
  source_dir = "src"
  params     = local.params.featurize
  inputs     = { data = experiment.prepare.outputs }
  command    = ["python3", "featurize.py"]
}

experiment "train" {
  compute     = compute.laptop
  source_dir  = "src"
  params      = local.params.train
  params_file = "params.yaml"
  inputs      = { features = experiment.featurize.outputs }
  command     = ["python3", "train.py", "--lr", param.lr, "--depth", param.depth]
  sweep {
    grid = { lr = range(20), depth = range(10) }
  }
}

experiment "evaluate" {
  compute    = compute.laptop
  source_dir = "src"
  for_each   = experiment.train
  inputs     = { model = each.outputs, features = experiment.featurize.outputs }
  command    = ["python3", "evaluate.py", each.key]
  metrics    = ["metrics.json"]
}

experiment "report" {
  compute    = compute.laptop
  source_dir = "src"
  inputs     = { evals = experiment.evaluate.outputs }
  command    = ["python3", "report.py"]
}
`,
	"params.yaml":         "prepare:\n  split: 0.2\n  seed: 1\nfeaturize:\n  max_features: 100\ntrain:\n  seed: 7\n  n_est: 50\n",
	"src/prepare.py":      "print('prepare')\n",
	"src/featurize.py":    "print('featurize')\n",
	"src/train.py":        "print('train')\n",
	"src/evaluate.py":     "print('evaluate')\n",
	"src/report.py":       "print('report')\n",
	"src/lib/util.py":     "x = 1\n",
	"src/.trainrunignore": "*.log\n",
}

// newPipeline200 records every instance of pipeline200 as succeeded, each
// train and evaluate instance with outputs of its own.
func newPipeline200(t testing.TB) *project {
	p := newProject(t, pipeline200)
	for lr := range 20 {
		for depth := range 10 {
			key := fmt.Sprintf("depth=%d,lr=%d", depth, lr)
			p.outputs[`experiment.train["`+key+`"]`] = snapshot.ComputeID([]snapshot.Entry{{Path: "model.pkl", Mode: snapshot.ModeFile, Hash: fmt.Sprintf("%064x", lr*10+depth+1)}})
			p.outputs[`experiment.evaluate["`+key+`"]`] = snapshot.ComputeID([]snapshot.Entry{{Path: "metrics.json", Mode: snapshot.ModeFile, Hash: fmt.Sprintf("%064x", 1000+lr*10+depth)}})
		}
	}
	p.apply()
	return p
}

// TestPlanPipeline200 checks what BenchmarkPlanPipeline200 measures: the
// recorded pipeline plans as 403 no-ops, and a change to one train point
// re-plans that point and its own evaluate instance, and report.
func TestPlanPipeline200(t *testing.T) {
	p := newPipeline200(t)
	pl := p.plan(planner.Options{})
	if got := pl.Summary()[planner.NoOp]; got != 403 || pl.Changes() {
		t.Fatalf("no-ops = %d, changes = %v; want 403 no-ops and no changes", got, pl.Changes())
	}
	pl = p.plan(planner.Options{Replace: []string{`experiment.train["depth=3,lr=7"]`}})
	var changed []string
	for _, a := range pl.Actions {
		if a.Action != planner.NoOp {
			changed = append(changed, a.Address)
		}
	}
	want := []string{`experiment.train["depth=3,lr=7"]`, `experiment.evaluate["depth=3,lr=7"]`, "experiment.report"}
	if !slices.Equal(changed, want) {
		t.Errorf("replacing one train point changes %q, want %q", changed, want)
	}
}

// BenchmarkPlanPipeline200 measures a warm no-op plan of pipeline200 (403
// instances): load the configuration, open the state, scan the source
// (stat cache warm), fingerprint and diff every instance. Target: ≤ 150 ms.
func BenchmarkPlanPipeline200(b *testing.B) {
	p := newPipeline200(b)
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
		pl, err := planner.Build(b.Context(), cfg, st, opts)
		if err != nil {
			b.Fatal(err)
		}
		if pl.Changes() || len(pl.Actions) != 403 {
			b.Fatalf("plan has changes or %d actions", len(pl.Actions))
		}
		st.Close()
	}
}
