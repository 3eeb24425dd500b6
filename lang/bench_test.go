package lang

import (
	"testing"
)

const sweep1000 = `
variable "epochs" {
  type    = number
  default = 10
}

compute "local" "laptop" {}

experiment "train" {
  compute = compute.laptop
  command = ["python", "train.py", "--a", param.a, "--b", param.b, "--epochs", param.epochs]
  params  = { epochs = var.epochs, tag = "x" }
  env     = { A = param.a, B = "b-${param.b}" }
  timeout = "1h"
  sweep {
    grid = { a = range(40), b = range(25) }
  }
}
`

func TestSweep1000(t *testing.T) {
	cfg := mustLoad(t, one(sweep1000), testOptions())
	if got := len(cfg.Instances); got != 1000 {
		t.Fatalf("instances = %d, want 1000", got)
	}
	if got := cfg.Instances[0].Address; got != `experiment.train["a=0,b=0"]` {
		t.Errorf("first address = %s", got)
	}
}

// BenchmarkLoadSweep1000 loads a 1000-point sweep whose command, env and
// params refer to param.*.
func BenchmarkLoadSweep1000(b *testing.B) {
	dir := writeFiles(b, one(sweep1000))
	opts := testOptions()
	for b.Loop() {
		cfg, diags := Load(dir, opts)
		if diags.HasErrors() || len(cfg.Instances) != 1000 {
			b.Fatalf("load: %v, %d instances", diags, len(cfg.Instances))
		}
	}
}
