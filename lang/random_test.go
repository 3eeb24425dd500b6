package lang

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// randomConfig is an experiment with a random search of count points.
func randomConfig(count, seed int, extra string) string {
	return fmt.Sprintf(`
compute "local" "laptop" {}

experiment "train" {
  compute = compute.laptop
  command = ["python", "train.py", "--lr", param.lr, "--batch", param.batch]
  params  = { epochs = 3 }
  sweep {
    random {
      count   = %d
      seed    = %d
      lr      = loguniform(1e-4, 1e-1)
      batch   = choice([32, 64])
      dropout = uniform(0, 0.5)
      layers  = randint(1, 4)
    }
    %s
  }
}
`, count, seed, extra)
}

func addresses(cfg *Config) []string {
	out := make([]string, len(cfg.Instances))
	for i, in := range cfg.Instances {
		out[i] = in.Address
	}
	return out
}

func paramFloat(t *testing.T, in *Instance, name string) float64 {
	t.Helper()
	var f float64
	if err := json.Unmarshal(in.Params[name], &f); err != nil {
		t.Fatalf("%s: param %s = %s: %v", in.Address, name, in.Params[name], err)
	}
	return f
}

// TestRandomStable: the same configuration draws the same points on every
// load; a higher count keeps them and adds more; another seed draws others.
func TestRandomStable(t *testing.T) {
	first := addresses(mustLoad(t, one(randomConfig(20, 7, "")), testOptions()))
	if len(first) != 20 {
		t.Fatalf("%d instances, want 20", len(first))
	}
	for range 3 {
		if again := addresses(mustLoad(t, one(randomConfig(20, 7, "")), testOptions())); !slices.Equal(again, first) {
			t.Fatalf("a second load drew other points:\n%q\nwant\n%q", again, first)
		}
	}
	more := addresses(mustLoad(t, one(randomConfig(30, 7, "")), testOptions()))
	if len(more) != 30 {
		t.Fatalf("count 30: %d instances", len(more))
	}
	for _, a := range first {
		if !slices.Contains(more, a) {
			t.Errorf("count 30 lost %s", a)
		}
	}
	other := addresses(mustLoad(t, one(randomConfig(20, 8, "")), testOptions()))
	common := 0
	for _, a := range other {
		if slices.Contains(first, a) {
			common++
		}
	}
	if common > 2 {
		t.Errorf("seeds 7 and 8 share %d of 20 points", common)
	}
}

// TestRandomPinned pins the first points of one search: they must never
// change for a given randomVersion, or every user's recorded sweep would
// be planned anew.
func TestRandomPinned(t *testing.T) {
	cfg := mustLoad(t, one(randomConfig(3, 7, "")), testOptions())
	keys := make([]string, len(cfg.Instances))
	for i, in := range cfg.Instances {
		keys[i] = in.Key
	}
	want := []string{
		"batch=32,dropout=0.0855447,layers=4,lr=0.000381598",
		"batch=32,dropout=0.17873,layers=3,lr=0.000410049",
		"batch=32,dropout=0.236518,layers=4,lr=0.000407846",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q\nwant   %q\nIf the drawing changed on purpose, bump randomVersion and update these.", keys, want)
	}
}

// TestRandomValues: every value is within its distribution's bounds, has
// the type it should, and what the key says is what the run gets.
func TestRandomValues(t *testing.T) {
	cfg := mustLoad(t, one(randomConfig(500, 1, "")), testOptions())
	batches, layers := map[string]int{}, map[int]int{}
	var lrs []float64
	for _, in := range cfg.Instances {
		lr, dropout := paramFloat(t, in, "lr"), paramFloat(t, in, "dropout")
		if lr < 1e-4 || lr > 1e-1 {
			t.Errorf("%s: lr %v outside [1e-4, 1e-1]", in.Address, lr)
		}
		lrs = append(lrs, math.Log10(lr))
		if dropout < 0 || dropout > 0.5 {
			t.Errorf("%s: dropout %v outside [0, 0.5]", in.Address, dropout)
		}
		if s := strings.TrimLeft(fmt.Sprint(math.Abs(dropout)), "0."); len(s) > 6 {
			t.Errorf("%s: dropout %v has more than 6 significant digits", in.Address, dropout)
		}
		batches[string(in.Params["batch"])]++
		n := int(paramFloat(t, in, "layers"))
		if float64(n) != paramFloat(t, in, "layers") || n < 1 || n > 4 {
			t.Errorf("%s: layers %s is not a whole number in [1, 4]", in.Address, in.Params["layers"])
		}
		layers[n]++
		for _, name := range []string{"lr", "batch", "dropout", "layers"} {
			if want := name + "=" + string(in.Params[name]); !strings.Contains(in.Key, want) {
				t.Errorf("%s: key %q does not hold %s", in.Address, in.Key, want)
			}
		}
		if string(in.Params["epochs"]) != "3" {
			t.Errorf("%s: params lost epochs: %s", in.Address, in.Params["epochs"])
		}
		if in.Command[3] != string(in.Params["lr"]) {
			t.Errorf("%s: command %q does not carry param.lr %s", in.Address, in.Command, in.Params["lr"])
		}
	}
	if len(batches) != 2 || batches["32"] < 150 || batches["64"] < 150 {
		t.Errorf("batch counts %v: want both 32 and 64, about half each", batches)
	}
	for n := 1; n <= 4; n++ {
		if layers[n] < 75 {
			t.Errorf("layers counts %v: want 1…4 (both bounds included), about a quarter each", layers)
			break
		}
	}
	// loguniform: log10(lr) spreads evenly over [-4, -1].
	low := 0
	for _, x := range lrs {
		if x < -2.5 {
			low++
		}
	}
	if low < 200 || low > 300 {
		t.Errorf("%d of 500 lr values below 10^-2.5, want about 250 (uniform in log space)", low)
	}
}

// TestRandomWithGrid: grid and random together run every grid point with
// every drawn point.
func TestRandomWithGrid(t *testing.T) {
	cfg := mustLoad(t, one(randomConfig(4, 7, `grid = { model = ["cnn", "mlp"] }`)), testOptions())
	if len(cfg.Instances) != 8 {
		t.Fatalf("%d instances, want 2 grid points × 4 random points", len(cfg.Instances))
	}
	byModel := map[string][]string{}
	for _, in := range cfg.Instances {
		model := string(in.Params["model"])
		k := strings.Replace(in.Key, ",model="+strings.Trim(model, `"`), "", 1)
		byModel[model] = append(byModel[model], k)
		if !strings.HasPrefix(in.Key, "batch=") || !strings.Contains(in.Key, ",lr=") || !strings.Contains(in.Key, ",model=") {
			t.Errorf("key %q: want every parameter, sorted by name", in.Key)
		}
	}
	if !slices.Equal(byModel[`"cnn"`], byModel[`"mlp"`]) {
		t.Errorf("the grid points drew different random points: %q vs %q", byModel[`"cnn"`], byModel[`"mlp"`])
	}
}

// TestRandomSmallSpace: a discrete search as large as its space draws every
// point once.
func TestRandomSmallSpace(t *testing.T) {
	cfg := mustLoad(t, one(`
compute "local" "laptop" {}
experiment "t" {
  compute = compute.laptop
  command = ["true"]
  sweep {
    random {
      count = 6
      opt   = choice(["adam", "sgd", "adam"])
      n     = randint(-1, 1)
    }
  }
}
`), testOptions())
	want := []string{
		`experiment.t["n=-1,opt=adam"]`, `experiment.t["n=-1,opt=sgd"]`, `experiment.t["n=0,opt=adam"]`,
		`experiment.t["n=0,opt=sgd"]`, `experiment.t["n=1,opt=adam"]`, `experiment.t["n=1,opt=sgd"]`,
	}
	if got := addresses(cfg); !slices.Equal(got, want) {
		t.Errorf("addresses = %q\nwant %q", got, want)
	}
}

// TestRandomJSON: the same search in HCL's JSON syntax draws the same
// points.
func TestRandomJSON(t *testing.T) {
	native := addresses(mustLoad(t, one(randomConfig(5, 3, "")), testOptions()))
	js := addresses(mustLoad(t, map[string]string{"x.trainrun.json": `{
  "variable": {"hi": {"default": 0.5}},
  "compute": {"local": {"laptop": {}}},
  "experiment": {"train": {
    "compute": "compute.laptop",
    "command": ["python", "train.py", "--lr", "${param.lr}", "--batch", "${param.batch}"],
    "params": {"epochs": 3},
    "sweep": {"random": {
      "count": 5, "seed": 3,
      "lr": "loguniform(1e-4, 1e-1)",
      "batch": "choice([32, 64])",
      "dropout": "uniform(0, var.hi)",
      "layers": "randint(1, 4)"
    }}
  }}
}`}, testOptions()))
	if !slices.Equal(js, native) {
		t.Errorf("JSON syntax drew %q\nwant %q", js, native)
	}
}

// TestRandomBoundsFromVariables: bounds may come from variables and locals.
func TestRandomBoundsFromVariables(t *testing.T) {
	cfg := mustLoad(t, one(`
variable "hi" {
  default = 0.01
}
locals {
  sizes = [16, 32]
}
compute "local" "laptop" {}
experiment "t" {
  compute = compute.laptop
  command = ["true"]
  sweep {
    max_concurrent = 2
    random {
      count = 10
      lr    = uniform(0.001, var.hi)
      size  = choice(local.sizes)
    }
  }
}
`), testOptions())
	if len(cfg.Instances) != 10 || cfg.Experiments["t"].MaxConcurrent != 2 {
		t.Fatalf("%d instances, max_concurrent %d", len(cfg.Instances), cfg.Experiments["t"].MaxConcurrent)
	}
	for _, in := range cfg.Instances {
		if lr := paramFloat(t, in, "lr"); lr < 0.001 || lr > 0.01 {
			t.Errorf("%s: lr %v outside the variable's bound", in.Address, lr)
		}
	}
}

func TestUnitDraw(t *testing.T) {
	seen := map[float64]bool{}
	for draw := range 1000 {
		u := unitDraw(1, draw, "lr")
		if u < 0 || u >= 1 {
			t.Fatalf("unitDraw = %v, outside [0, 1)", u)
		}
		seen[u] = true
	}
	if len(seen) != 1000 {
		t.Errorf("%d distinct draws of 1000", len(seen))
	}
	if unitDraw(1, 5, "lr") == unitDraw(1, 5, "batch") || unitDraw(1, 5, "lr") == unitDraw(2, 5, "lr") {
		t.Error("draws of other parameters or seeds coincide")
	}
}

// TestRandomExtremeBounds: bounds at the ends of float64 and int ranges
// draw finite values inside them.
func TestRandomExtremeBounds(t *testing.T) {
	cfg := mustLoad(t, one(`
compute "local" "laptop" {}
experiment "t" {
  compute = compute.laptop
  command = ["true"]
  sweep {
    random {
      count = 20
      a     = uniform(-1.7e308, 1.7e308)
      b     = loguniform(1e-300, 1e300)
      c     = randint(-9007199254740992, 9007199254740992)
    }
  }
}
`), testOptions())
	for _, in := range cfg.Instances {
		for _, name := range []string{"a", "b", "c"} {
			if f := paramFloat(t, in, name); math.IsNaN(f) || math.IsInf(f, 0) {
				t.Errorf("%s: %s = %v", in.Address, name, f)
			}
		}
	}
}
