package lang

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
)

// specExample is close to the example of SPEC §2.
const specExample = `
trainrun {
  parallelism = 8
}

variable "lr" {
  type        = number
  default     = 0.01
  description = "learning rate"
}

locals {
  data_dir = "${path.root}/data"
}

compute "local" "laptop" {
  max_runs = 2
  gpus     = 0
}

compute "ssh" "gpu_box" {
  host = "gpu1.example.org"
  port = 22
  user = "ml"
}

compute "slurm" "cluster" {
  login     = compute.gpu_box
  partition = "gpu"
}

environment "venv" "sklearn" {
  python       = "python3"
  requirements = ["scikit-learn==1.2.1", "numpy"]
}

experiment "prep" {
  compute = compute.laptop
  command = ["python", "prep.py", local.data_dir]
  outputs = ["data/"]
}

experiment "train" {
  compute     = compute.laptop
  environment = environment.sklearn
  source_dir  = "./src"
  command     = ["python", "train.py", "--lr", param.lr]
  params      = { lr = var.lr, epochs = 10 }
  env         = { SEED = "42", N = 3 }
  resources {
    cpus   = 4
    memory = "16GiB"
    gpus   = 1
    nodes  = 1
  }
  timeout    = "2h"
  retries    = 2
  inputs     = { data = experiment.prep.outputs }
  outputs    = ["model/", "metrics.json"]
  depends_on = [experiment.prep]
  sweep {
    grid           = { lr = [0.1, 0.01], batch = [32, 64] }
    max_concurrent = 2
  }
}
`

func TestLoadSpecExample(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"trainrun.hcl": specExample, "src/train.py": ""}, testOptions())

	if cfg.Parallelism != 8 {
		t.Errorf("Parallelism = %d, want 8", cfg.Parallelism)
	}
	if v := cfg.Variables["lr"]; v == nil || v.Type != cty.Number || !v.Value.RawEquals(cty.NumberFloatVal(0.01)) || v.Description != "learning rate" {
		t.Errorf("variable lr = %#v", v)
	}
	if got := cfg.Computes["cluster"].Values["login"]; !got.RawEquals(cty.StringVal("gpu_box")) {
		t.Errorf("slurm login = %#v, want \"gpu_box\"", got)
	}
	if got := cfg.Computes["gpu_box"].Values["port"]; !got.RawEquals(cty.NumberIntVal(22)) {
		t.Errorf("ssh port = %#v", got)
	}
	req := cfg.Environments["sklearn"].Values["requirements"]
	if !req.RawEquals(cty.ListVal([]cty.Value{cty.StringVal("scikit-learn==1.2.1"), cty.StringVal("numpy")})) {
		t.Errorf("venv requirements = %#v", req)
	}
	if cfg.Files["trainrun.hcl"] == nil {
		t.Errorf("Files lacks trainrun.hcl: %v", cfg.Files)
	}

	var addrs []string
	for _, in := range cfg.Instances {
		addrs = append(addrs, in.Address)
	}
	want := []string{
		`experiment.prep`,
		`experiment.train["batch=32,lr=0.01"]`,
		`experiment.train["batch=32,lr=0.1"]`,
		`experiment.train["batch=64,lr=0.01"]`,
		`experiment.train["batch=64,lr=0.1"]`,
	}
	if !reflect.DeepEqual(addrs, want) {
		t.Fatalf("instances:\n got %q\nwant %q", addrs, want)
	}
	if got := cfg.Experiments["train"].MaxConcurrent; got != 2 {
		t.Errorf("MaxConcurrent = %d", got)
	}

	prep := cfg.Instances[0]
	if want := []string{"python", "prep.py", filepath.Join(cfg.Dir, "data")}; !reflect.DeepEqual(prep.Command, want) {
		t.Errorf("prep command = %q, want %q", prep.Command, want)
	}
	if prep.SourceDir != cfg.Dir {
		t.Errorf("prep source dir = %q, want %q", prep.SourceDir, cfg.Dir)
	}

	in := cfg.Instances[2] // batch=32,lr=0.1
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("Key", in.Key, "batch=32,lr=0.1")
	check("Experiment", in.Experiment, "train")
	check("Compute", in.Compute, "laptop")
	check("Environment", in.Environment, "sklearn")
	check("SourceDir", in.SourceDir, filepath.Join(cfg.Dir, "src"))
	check("Command", in.Command, []string{"python", "train.py", "--lr", "0.1"})
	check("Params", in.Params, map[string]json.RawMessage{"lr": json.RawMessage("0.1"), "epochs": json.RawMessage("10"), "batch": json.RawMessage("32")})
	check("Env", in.Env, map[string]string{"SEED": "42", "N": "3"})
	check("Resources", in.Resources, providers.Resources{CPUs: 4, Memory: 16 << 30, GPUs: 1, Nodes: 1})
	check("Timeout", in.Timeout, 2*time.Hour)
	check("Retries", in.Retries, 2)
	check("Inputs", in.Inputs, map[string][]string{"data": {"experiment.prep"}})
	check("Outputs", in.Outputs, []string{"model/", "metrics.json"})
	check("DependsOn", in.DependsOn, []string{"experiment.prep"})
	check("Graph[experiment.train]", cfg.Graph["experiment.train"], []string{"compute.laptop", "environment.sklearn", "experiment.prep", "var.lr"})
	check("Graph[compute.cluster]", cfg.Graph["compute.cluster"], []string{"compute.gpu_box"})
	check("Graph[experiment.prep]", cfg.Graph["experiment.prep"], []string{"compute.laptop", "local.data_dir"})
	check("Graph[var.lr]", cfg.Graph["var.lr"], []string{})
	if len(cfg.Secrets) != 0 {
		t.Errorf("Secrets = %q, want none", cfg.Secrets)
	}
}

func TestLoadFileDiscovery(t *testing.T) {
	files := map[string]string{
		"trainrun.hcl":          `compute "local" "a" {}`,
		"b.trainrun.hcl":        `compute "local" "b" {}`,
		"c.trainrun.json":       `{"compute": {"local": {"c": {"max_runs": 3}}}}`,
		"other.hcl":             `this is not read`,
		".hidden.trainrun.hcl":  `nor this`,
		"sub/d.trainrun.hcl":    `nor this, not recursive`,
		"trainrun.hcl.orig":     `nor this`,
		"notes.trainrun.txt":    `nor this`,
		"dir.trainrun.hcl/x":    ``, // a directory named like a config file
		"e.trainrun.hcl.backup": `nor this`,
	}
	cfg := mustLoad(t, files, testOptions())
	got := slices.Sorted(maps.Keys(cfg.Files))
	want := []string{"b.trainrun.hcl", "c.trainrun.json", "trainrun.hcl"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %q, want %q", got, want)
	}
	if got := slices.Sorted(maps.Keys(cfg.Computes)); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("computes = %q", got)
	}
	if got := cfg.Computes["c"].Values["max_runs"]; !got.RawEquals(cty.NumberIntVal(3)) {
		t.Errorf("c max_runs = %#v", got)
	}
}

func TestLoadJSONSyntax(t *testing.T) {
	src := `{
  "variable": {"lr": {"type": "number", "default": 0.5}},
  "locals": {"name": "run-${var.lr}"},
  "compute": {"local": {"laptop": {}}},
  "environment": {"container": {"c": {"build": {"context": ".", "dockerfile": "Dockerfile"}}}},
  "experiment": {
    "prep": {"compute": "compute.laptop", "shell": "echo ${local.name}"},
    "train": {
      "compute": "compute.laptop",
      "environment": "environment.c",
      "command": ["python", "train.py", "${param.lr}"],
      "params": {"lr": "${var.lr}"},
      "inputs": {"data": "experiment.prep.outputs"},
      "depends_on": ["experiment.prep"],
      "resources": {"memory": "512MiB"},
      "sweep": {"grid": {"seed": [1, 2]}}
    }
  }
}`
	cfg := mustLoad(t, map[string]string{"x.trainrun.json": src}, testOptions())
	if got := cfg.Instances[0].Shell; got != "echo run-0.5" {
		t.Errorf("prep shell = %q", got)
	}
	train := cfg.Experiments["train"].Instances
	if len(train) != 2 || train[0].Address != `experiment.train["seed=1"]` {
		t.Fatalf("train instances = %v", train)
	}
	in := train[1]
	if !reflect.DeepEqual(in.Command, []string{"python", "train.py", "0.5"}) {
		t.Errorf("command = %q", in.Command)
	}
	if in.Environment != "c" || in.Resources.Memory != 512<<20 {
		t.Errorf("environment %q, memory %d", in.Environment, in.Resources.Memory)
	}
	if !reflect.DeepEqual(in.DependsOn, []string{"experiment.prep"}) || !reflect.DeepEqual(in.Inputs["data"], []string{"experiment.prep"}) {
		t.Errorf("DependsOn %q Inputs %q", in.DependsOn, in.Inputs)
	}
	if got := cfg.Graph["experiment.train"]; !reflect.DeepEqual(got, []string{"compute.laptop", "environment.c", "experiment.prep", "var.lr"}) {
		t.Errorf("graph = %q", got)
	}
	build := cfg.Environments["c"].Values["build"]
	if !build.RawEquals(cty.ObjectVal(map[string]cty.Value{"context": cty.StringVal("."), "dockerfile": cty.StringVal("Dockerfile")})) {
		t.Errorf("build = %#v", build)
	}
}

func TestKindBlocks(t *testing.T) {
	tests := []struct {
		name string
		src  string
		typ  string // compute or environment
		blk  string
		want providers.Values
	}{
		{"local empty", `compute "local" "l" {}`, "compute", "l", providers.Values{}},
		{"local converts strings to numbers", `compute "local" "l" { max_runs = "3" }`, "compute", "l",
			providers.Values{"max_runs": cty.NumberIntVal(3)}},
		{"ssh", `compute "ssh" "s" {
  host = "h.example"
  port = 2222
}`, "compute", "s", providers.Values{"host": cty.StringVal("h.example"), "port": cty.NumberIntVal(2222)}},
		{"slurm login ref", `
compute "ssh" "login" { host = "x" }
compute "slurm" "c" {
  login = compute.login
}`, "compute", "c", providers.Values{"login": cty.StringVal("login")}},
		{"host", `environment "host" "h" { python = "/usr/bin/python3" }`, "environment", "h",
			providers.Values{"python": cty.StringVal("/usr/bin/python3")}},
		{"venv lists", `environment "venv" "v" {
  requirements = ["a", "b==1"]
  pip_args     = ["--no-index"]
}`, "environment", "v", providers.Values{
			"requirements": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b==1")}),
			"pip_args":     cty.ListVal([]cty.Value{cty.StringVal("--no-index")}),
		}},
		{"container image", `environment "container" "c" {
  image   = "nvcr.io/nvidia/pytorch:24.05-py3"
  runtime = "podman"
}`, "environment", "c", providers.Values{"image": cty.StringVal("nvcr.io/nvidia/pytorch:24.05-py3"), "runtime": cty.StringVal("podman")}},
		{"container build block", `environment "container" "c" {
  build {
    dockerfile = "Dockerfile.gpu"
  }
}`, "environment", "c", providers.Values{"build": cty.ObjectVal(map[string]cty.Value{
			"context": cty.NullVal(cty.String), "dockerfile": cty.StringVal("Dockerfile.gpu"),
		})}},
		{"expressions and variables", `
variable "user" { default = "ml" }
locals { port = 20 + 2 }
compute "ssh" "s" {
  host = format("%s.example", "gpu1")
  user = upper(var.user)
  port = local.port
}`, "compute", "s", providers.Values{"host": cty.StringVal("gpu1.example"), "user": cty.StringVal("ML"), "port": cty.NumberIntVal(22)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, one(tt.src), testOptions())
			blocks := cfg.Computes
			if tt.typ == "environment" {
				blocks = cfg.Environments
			}
			b := blocks[tt.blk]
			if b == nil {
				t.Fatalf("no %s %q", tt.typ, tt.blk)
			}
			if len(b.Values) != len(tt.want) {
				t.Errorf("values = %#v, want %#v", b.Values, tt.want)
			}
			for k, w := range tt.want {
				if got, ok := b.Values[k]; !ok || !got.RawEquals(w) {
					t.Errorf("%s = %#v, want %#v", k, got, w)
				}
			}
		})
	}
}

func TestComputeReferenceValue(t *testing.T) {
	cfg := mustLoad(t, one(`
compute "ssh" "box" {
  host = "gpu1"
}
locals {
  where = "${compute.box.kind}:${compute.box.name}:${compute.box.host}"
}
experiment "e" {
  compute = compute.box
  shell   = "echo ${local.where}"
}
`), testOptions())
	if got := cfg.Instances[0].Shell; got != "echo ssh:box:gpu1" {
		t.Errorf("shell = %q", got)
	}
	if got := cfg.Graph["local.where"]; !reflect.DeepEqual(got, []string{"compute.box"}) {
		t.Errorf("graph = %q", got)
	}
}

func TestLocals(t *testing.T) {
	cfg := mustLoad(t, one(`
locals {
  a = "x"
  c = "${local.b}-c"
}
locals {
  b = "${local.a}-b"
}
compute "local" "l" {}
experiment "e" {
  compute = compute.l
  command = [local.c]
}
`), testOptions())
	if got := cfg.Instances[0].Command; !reflect.DeepEqual(got, []string{"x-b-c"}) {
		t.Errorf("command = %q", got)
	}
	if got := cfg.Graph["local.c"]; !reflect.DeepEqual(got, []string{"local.b"}) {
		t.Errorf("graph local.c = %q", got)
	}
}

func TestVariablePrecedence(t *testing.T) {
	const decl = `
variable "v" {
  type    = string
  default = "default"
}
`
	tests := []struct {
		name     string
		env      map[string]string
		varFiles map[string]string // name → content, applied in name order
		vars     []string
		want     string
	}{
		{name: "default", want: "default"},
		{name: "environment over default", env: map[string]string{"TRAINRUN_VAR_v": "env"}, want: "env"},
		{name: "var-file over environment", env: map[string]string{"TRAINRUN_VAR_v": "env"},
			varFiles: map[string]string{"a.tfvars": `v = "file"`}, want: "file"},
		{name: "later var-file wins", varFiles: map[string]string{"a.tfvars": `v = "a"`, "b.tfvars": `v = "b"`}, want: "b"},
		{name: "-var over var-file", env: map[string]string{"TRAINRUN_VAR_v": "env"},
			varFiles: map[string]string{"a.tfvars": `v = "file"`}, vars: []string{"v=flag"}, want: "flag"},
		{name: "later -var wins", vars: []string{"v=one", "v=two"}, want: "two"},
		{name: "-var value with =", vars: []string{"v=a=b"}, want: "a=b"},
		{name: "empty environment is unset", env: map[string]string{"TRAINRUN_VAR_v": ""}, want: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := one(decl)
			opts := Options{Registry: testRegistry(), Getenv: env(tt.env), Vars: tt.vars}
			for name, content := range tt.varFiles {
				files[name] = content
			}
			for _, name := range slices.Sorted(maps.Keys(tt.varFiles)) {
				opts.VarFiles = append(opts.VarFiles, name)
			}
			cfg := mustLoad(t, files, opts)
			if got := cfg.Variables["v"].Value; !got.RawEquals(cty.StringVal(tt.want)) {
				t.Errorf("v = %#v, want %q", got, tt.want)
			}
		})
	}
}

func TestVariableValues(t *testing.T) {
	tests := []struct {
		name string
		decl string
		opts Options
		want cty.Value
	}{
		{"number from -var", `variable "v" { type = number }`, Options{Vars: []string{"v=0.5"}}, cty.NumberFloatVal(0.5)},
		{"list from -var", `variable "v" { type = list(number) }`, Options{Vars: []string{"v=[1, 2]"}},
			cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)})},
		{"untyped -var is raw text", `variable "v" {}`, Options{Vars: []string{`v=[1, 2]`}}, cty.StringVal("[1, 2]")},
		{"string -var is raw text", `variable "v" { type = string }`, Options{Vars: []string{`v="q"`}}, cty.StringVal(`"q"`)},
		{"map from environment", `variable "v" { type = map(string) }`,
			Options{Getenv: env(map[string]string{"TRAINRUN_VAR_v": `{ a = "b" }`})},
			cty.MapVal(map[string]cty.Value{"a": cty.StringVal("b")})},
		{"bool converts from string default", `variable "v" {
  type    = bool
  default = "true"
}`, Options{}, cty.True},
		{"object with optional default", `variable "v" {
  type    = object({ a = string, b = optional(number, 7) })
  default = { a = "x" }
}`, Options{}, cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.NumberIntVal(7)})},
		{"default null", `variable "v" {
  type    = string
  default = null
}`, Options{}, cty.NullVal(cty.String)},
		{"function in default", `variable "v" { default = upper("x") }`, Options{}, cty.StringVal("X")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Registry = testRegistry()
			cfg := mustLoad(t, one(tt.decl), opts)
			if got := cfg.Variables["v"].Value; !got.RawEquals(tt.want) {
				t.Errorf("v = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestVarFileJSON(t *testing.T) {
	files := one(`variable "n" { type = number }`)
	files["vals.json"] = `{"n": 3}`
	opts := testOptions()
	opts.VarFiles = []string{"vals.json"}
	cfg := mustLoad(t, files, opts)
	if got := cfg.Variables["n"].Value; !got.RawEquals(cty.NumberIntVal(3)) {
		t.Errorf("n = %#v", got)
	}
	if cfg.Files["vals.json"] == nil {
		t.Errorf("Files lacks the var-file: %q", slices.Sorted(maps.Keys(cfg.Files)))
	}
}

func TestVarFileUndeclaredIsWarning(t *testing.T) {
	files := one(`variable "lr" { default = 1 }`)
	files["x.tfvars"] = "lrr = 2\n"
	opts := testOptions()
	opts.VarFiles = []string{"x.tfvars"}
	dir := writeFiles(t, files)
	cfg, diags := Load(dir, opts)
	if diags.HasErrors() || len(diags) != 1 {
		t.Fatalf("want one warning, got %v", diags)
	}
	out := renderDiags(cfg, diags)
	for _, want := range []string{"Warning: Value for undeclared variable", `Did you mean "lr"?`, "on x.tfvars:1,1:"} {
		if !strings.Contains(out, want) {
			t.Errorf("warning lacks %q:\n%s", want, out)
		}
	}
}

func TestSweep(t *testing.T) {
	tests := []struct {
		name   string
		grid   string
		params string
		want   []string          // addresses in order
		param  map[string]string // params of the first instance, as JSON
	}{
		{"numbers", `{ lr = [0.1, 0.01], batch = [32, 64] }`, ``,
			[]string{`experiment.e["batch=32,lr=0.01"]`, `experiment.e["batch=32,lr=0.1"]`, `experiment.e["batch=64,lr=0.01"]`, `experiment.e["batch=64,lr=0.1"]`},
			map[string]string{"batch": "32", "lr": "0.01"}},
		{"strings without quotes", `{ model = ["resnet", "vit"] }`, ``,
			[]string{`experiment.e["model=resnet"]`, `experiment.e["model=vit"]`},
			map[string]string{"model": `"resnet"`}},
		{"bools and lists as JSON", `{ flag = [true], shape = [[1, 2]] }`, ``,
			[]string{`experiment.e["flag=true,shape=[1,2]"]`},
			map[string]string{"flag": "true", "shape": "[1,2]"}},
		{"quotes escaped in address", `{ s = ["a\"b"] }`, ``,
			[]string{`experiment.e["s=a\"b"]`}, map[string]string{"s": `"a\"b"`}},
		{"template sequences escaped in address", `{ s = ["$${x}\\n"] }`, ``,
			[]string{`experiment.e["s=$${x}\\n"]`}, map[string]string{"s": `"${x}\\n"`}},
		{"sweep overrides params", `{ lr = [1] }`, `{ lr = 0.5, epochs = 3 }`,
			[]string{`experiment.e["lr=1"]`}, map[string]string{"lr": "1", "epochs": "3"}},
		{"range", `{ seed = range(3) }`, ``,
			[]string{`experiment.e["seed=0"]`, `experiment.e["seed=1"]`, `experiment.e["seed=2"]`}, map[string]string{"seed": "0"}},
		{"no sweep", ``, `{ lr = 0.5 }`, []string{`experiment.e`}, map[string]string{"lr": "0.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "compute \"local\" \"l\" {}\nexperiment \"e\" {\n  compute = compute.l\n  command = [\"run\"]\n"
			if tt.params != "" {
				src += "  params = " + tt.params + "\n"
			}
			if tt.grid != "" {
				src += "  sweep {\n    grid = " + tt.grid + "\n  }\n"
			}
			src += "}\n"
			cfg := mustLoad(t, one(src), testOptions())
			var got []string
			for _, in := range cfg.Experiments["e"].Instances {
				got = append(got, in.Address)
				// The address parses back, as HCL, to its key.
				trav, diags := hclsyntax.ParseTraversalAbs([]byte(in.Address), "", hcl.InitialPos)
				if diags.HasErrors() {
					t.Errorf("address %s does not parse: %v", in.Address, diags)
					continue
				}
				key := ""
				if len(trav) == 3 {
					key = trav[2].(hcl.TraverseIndex).Key.AsString()
				}
				if key != in.Key {
					t.Errorf("address %s parses to key %q, Key is %q", in.Address, key, in.Key)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("addresses:\n got %q\nwant %q", got, tt.want)
			}
			params := map[string]string{}
			for k, v := range cfg.Experiments["e"].Instances[0].Params {
				params[k] = string(v)
			}
			if !reflect.DeepEqual(params, tt.param) {
				t.Errorf("params = %v, want %v", params, tt.param)
			}
		})
	}
}

func TestSweepPerInstanceEvaluation(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"trainrun.hcl": `
compute "local" "l" {}
experiment "e" {
  compute    = compute.l
  source_dir = "runs/${param.split}"
  command    = ["python", "t.py", param.lr, param.split, tostring(param.lr * 10)]
  env        = { LR = param.lr, SPLIT = upper(param.split) }
  timeout    = "${param.hours}h"
  retries    = param.hours - 1
  outputs    = ["out-${param.split}/"]
  params     = { hours = 2 }
  resources {
    cpus   = param.hours * 2
    memory = "${param.hours}GiB"
  }
  sweep {
    grid = { lr = [0.5], split = ["a", "b"] }
  }
}`,
		"runs/a/x": "", "runs/b/x": "",
	}, testOptions())
	ins := cfg.Experiments["e"].Instances
	if len(ins) != 2 {
		t.Fatalf("instances = %d", len(ins))
	}
	b := ins[1]
	if b.Address != `experiment.e["lr=0.5,split=b"]` {
		t.Errorf("address %s", b.Address)
	}
	if want := []string{"python", "t.py", "0.5", "b", "5"}; !reflect.DeepEqual(b.Command, want) {
		t.Errorf("command = %q, want %q", b.Command, want)
	}
	if want := map[string]string{"LR": "0.5", "SPLIT": "B"}; !reflect.DeepEqual(b.Env, want) {
		t.Errorf("env = %v", b.Env)
	}
	if b.SourceDir != filepath.Join(cfg.Dir, "runs", "b") || ins[0].SourceDir != filepath.Join(cfg.Dir, "runs", "a") {
		t.Errorf("source dirs = %q, %q", ins[0].SourceDir, b.SourceDir)
	}
	if b.Timeout != 2*time.Hour || b.Retries != 1 || b.Resources.CPUs != 4 || b.Resources.Memory != 2<<30 {
		t.Errorf("timeout %v retries %d resources %+v", b.Timeout, b.Retries, b.Resources)
	}
	if !reflect.DeepEqual(b.Outputs, []string{"out-b/"}) || !reflect.DeepEqual(ins[0].Outputs, []string{"out-a/"}) {
		t.Errorf("outputs = %q, %q", ins[0].Outputs, b.Outputs)
	}
	// Instances must not share mutable maps.
	ins[0].Env["LR"] = "changed"
	if b.Env["LR"] != "0.5" {
		t.Errorf("instances share their Env map")
	}
}

func TestDependsOn(t *testing.T) {
	cfg := mustLoad(t, one(`
compute "local" "l" {}
experiment "prep" {
  compute = compute.l
  command = ["prep"]
}
experiment "train" {
  compute = compute.l
  command = ["train", param.lr]
  sweep {
    grid = { lr = [1, 2] }
  }
}
experiment "eval_all" {
  compute = compute.l
  command = ["eval"]
  inputs  = { models = experiment.train.outputs }
}
experiment "eval_one" {
  compute    = compute.l
  command    = ["eval"]
  inputs     = { model = experiment.train["lr=2"].outputs }
  depends_on = [experiment.prep]
}
experiment "named" {
  compute = compute.l
  command = ["echo", experiment.prep.name]
}
experiment "pick" {
  compute    = compute.l
  command    = ["x"]
  depends_on = [experiment.train["lr=1"], experiment.eval_one]
}
`), testOptions())
	deps := func(exp string) []string { return cfg.Experiments[exp].Instances[0].DependsOn }
	tests := []struct {
		exp  string
		want []string
	}{
		{"prep", []string{}},
		{"train", []string{}},
		{"eval_all", []string{`experiment.train["lr=1"]`, `experiment.train["lr=2"]`}},
		{"eval_one", []string{"experiment.prep", `experiment.train["lr=2"]`}},
		{"named", []string{"experiment.prep"}},
		{"pick", []string{"experiment.eval_one", `experiment.train["lr=1"]`}},
	}
	for _, tt := range tests {
		if got := deps(tt.exp); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s DependsOn = %q, want %q", tt.exp, got, tt.want)
		}
	}
	if got := cfg.Experiments["eval_all"].Instances[0].Inputs; !reflect.DeepEqual(got, map[string][]string{"models": {`experiment.train["lr=1"]`, `experiment.train["lr=2"]`}}) {
		t.Errorf("eval_all inputs = %v", got)
	}
	if got := cfg.Experiments["named"].Instances[0].Command; !reflect.DeepEqual(got, []string{"echo", "prep"}) {
		t.Errorf("named command = %q", got)
	}
	if got := cfg.Graph["experiment.pick"]; !reflect.DeepEqual(got, []string{"compute.l", "experiment.eval_one", "experiment.train"}) {
		t.Errorf("graph pick = %q", got)
	}
	if got := cfg.Graph["experiment.eval_one"]; !reflect.DeepEqual(got, []string{"compute.l", "experiment.prep", "experiment.train"}) {
		t.Errorf("graph eval_one = %q", got)
	}
}

func TestFileAndEnvFunctions(t *testing.T) {
	files := one(`
compute "local" "l" {}
experiment "e" {
  compute = compute.l
  command = [trimspace(file("cmd.txt")), env("HOME_DIR"), env("UNSET")]
  env     = { TOKEN = file("${path.root}/sub/token") }
}`)
	files["cmd.txt"] = "python\n"
	files["sub/token"] = "abc"
	opts := testOptions()
	opts.Getenv = env(map[string]string{"HOME_DIR": "/home/me"})
	cfg := mustLoad(t, files, opts)
	in := cfg.Instances[0]
	if want := []string{"python", "/home/me", ""}; !reflect.DeepEqual(in.Command, want) {
		t.Errorf("command = %q, want %q", in.Command, want)
	}
	if in.Env["TOKEN"] != "abc" {
		t.Errorf("env = %v", in.Env)
	}
}

func TestFunctions(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`join(",", concat(["a"], ["b"]))`, "a,b"},
		{`format("%05.2f", 3.14159)`, "03.14"},
		{`jsonencode(merge({ a = 1 }, { b = "x" }))`, `{"a":1,"b":"x"}`},
		{`length("héllo")`, "5"},
		{`length([1, 2, 3])`, "3"},
		{`lower("ABC")`, "abc"},
		{`jsonencode(range(3))`, "[0,1,2]"},
		{`replace("a-b-c", "-", "_")`, "a_b_c"},
		{`strrev("abc")`, "cba"},
		{`jsonencode(reverse([1, 2]))`, "[2,1]"},
		{`tostring(max(1, 5, 3))`, "5"},
		{`basename("/a/b.txt")`, "b.txt"},
		{`sha256("")`, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{`base64encode("hi")`, "aGk="},
		{`try(tonumber("x"), "fallback")`, "fallback"},
		{`title(trimprefix("xhello", "x"))`, "Hello"},
		{`jsonencode(zipmap(["a"], [1]))`, `{"a":1}`},
		{`tostring(startswith("abc", "ab"))`, "true"},
		{`join("", [for s in ["a", "b"] : upper(s)])`, "AB"},
		{`join(",", [for k, v in { x = 1 } : "${k}=${v}"])`, "x=1"},
		{`path.root == "" ? "empty" : "set"`, "set"},
		{`jsonencode(yamldecode("train:\n  seed: 7\n  lrs: [0.1, 0.2]\n").train)`, `{"lrs":[0.1,0.2],"seed":7}`},
		{`yamlencode({ a = 1, b = ["x"] })`, "\"a\": 1\n\"b\":\n- \"x\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			cfg := mustLoad(t, one(`
compute "local" "l" {}
experiment "e" {
  compute = compute.l
  command = [`+tt.expr+`]
}`), testOptions())
			if got := cfg.Instances[0].Command[0]; got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestSensitiveValues(t *testing.T) {
	files := one(`
variable "pw" {
  sensitive = true
}
variable "token" {
  type      = string
  sensitive = true
  default   = "tok-default"
}
compute "ssh" "box" {
  host     = "h"
  password = var.pw
}
compute "ssh" "other" {
  host     = "h2"
  password = "literal-secret"
}
locals {
  shout = upper(var.token)
}
experiment "e" {
  compute = compute.box
  command = ["login", local.shout]
  env     = { TOKEN = var.token }
}`)
	opts := testOptions()
	opts.Vars = []string{"pw=s3cret-pw"}
	cfg := mustLoad(t, files, opts)
	if got := cfg.Computes["box"].Values["password"]; got.IsMarked() || !got.RawEquals(cty.StringVal("s3cret-pw")) {
		t.Errorf("password = %#v, want the clear, unmarked value", got)
	}
	if got := cfg.Instances[0].Command; !reflect.DeepEqual(got, []string{"login", "TOK-DEFAULT"}) {
		t.Errorf("command = %q", got)
	}
	for _, s := range []string{"s3cret-pw", "tok-default", "TOK-DEFAULT", "literal-secret"} {
		found := false
		for _, sec := range cfg.Secrets {
			found = found || sec == s
		}
		if !found {
			t.Errorf("Secrets %q lack %q", cfg.Secrets, s)
		}
	}
	if !cfg.Variables["pw"].Sensitive || cfg.Variables["pw"].Value.IsMarked() {
		t.Errorf("variable pw = %#v", cfg.Variables["pw"])
	}
	if got := Redact("run login TOK-DEFAULT", cfg.Secrets); got != "run login (sensitive)" {
		t.Errorf("Redact = %q", got)
	}
}

func TestNoConfigFiles(t *testing.T) {
	cfg, diags := loadErrors(t, map[string]string{"README": "x"}, testOptions())
	if cfg == nil || cfg.Files == nil {
		t.Fatalf("Config = %#v, want a partial Config with Files", cfg)
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Summary, "No configuration files") || !strings.Contains(diags[0].Detail, "trainrun init") {
		t.Errorf("diags = %v", diags)
	}
}

func TestMissingDirectory(t *testing.T) {
	_, diags := Load(filepath.Join(t.TempDir(), "nope"), testOptions())
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "-chdir") {
		t.Errorf("diags = %v", diags)
	}
}

func TestSourceDirDefaultAndAbsolute(t *testing.T) {
	other := t.TempDir()
	cfg := mustLoad(t, one(`
compute "local" "l" {}
experiment "a" {
  compute = compute.l
  command = ["x"]
}
experiment "b" {
  compute    = compute.l
  command    = ["x"]
  source_dir = "`+other+`"
}`), testOptions())
	if got := cfg.Experiments["a"].Instances[0].SourceDir; got != cfg.Dir {
		t.Errorf("default source_dir = %q, want %q", got, cfg.Dir)
	}
	if got := cfg.Experiments["b"].Instances[0].SourceDir; got != other {
		t.Errorf("absolute source_dir = %q, want %q", got, other)
	}
}

func TestDirRelative(t *testing.T) {
	dir := writeFiles(t, one(`compute "local" "l" {}`))
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Skip("no relative path to the temp dir")
	}
	cfg, diags := Load(rel, testOptions())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.Dir != dir {
		t.Errorf("Dir = %q, want %q", cfg.Dir, dir)
	}
}

// TestLocalsThatDoubleStop: locals that double a value each time are
// stopped with a diagnostic, long before memory runs out.
func TestLocalsThatDoubleStop(t *testing.T) {
	var b strings.Builder
	b.WriteString("locals {\n  a0 = \"0123456789abcdef\"\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "  a%d = \"${local.a%d}${local.a%d}\"\n", i, i-1, i-1)
	}
	b.WriteString("}\ncompute \"local\" \"l\" {}\nexperiment \"e\" {\n  compute = compute.l\n  command = [local.a40]\n}\n")
	// What is bounded is the memory the loader allocates before it stops,
	// not the wall clock (a busy machine stretches that at will).
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	_, diags := loadErrors(t, one(b.String()), testOptions())
	goruntime.ReadMemStats(&after)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Value too large") || !strings.Contains(diags.Error(), "local.a23") {
		t.Fatalf("diagnostics: %v", diags)
	}
	t.Logf("allocated %d MiB", (after.TotalAlloc-before.TotalAlloc)>>20)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<30 {
		t.Fatalf("allocated %d MiB before stopping", alloc>>20)
	}
}
