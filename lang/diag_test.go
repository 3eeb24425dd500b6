package lang

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// base is a valid prelude for diagnostic cases.
const base = `variable "lr" {
  default = 0.1
}
compute "local" "laptop" {}
`

// exp wraps an experiment body around lines of attributes.
func exp(name, body string) string {
	return fmt.Sprintf("experiment %q {\n%s\n}\n", name, body)
}

const okCmd = "  compute = compute.laptop\n  command = [\"python\"]"

func TestDiagnostics(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string // default: trainrun.hcl = base + src
		src     string
		opts    func(*Options)
		summary string   // substring of the one error's summary
		detail  []string // substrings of its detail
		file    string   // default trainrun.hcl
		mark    string   // the subject starts at the first occurrence of mark in file…
		nth     int      // …or at its nth occurrence (1-based)
		noRange bool     // the diagnostic has no subject
		multi   bool     // several errors are expected; the first is checked
	}{
		{name: "syntax error", src: "compute \"local\" \"x\" {\n  max_runs = \n}\n",
			summary: "Invalid expression", mark: "\n}", detail: []string{"Expected the start of an expression"}},
		{name: "syntax error in JSON", files: map[string]string{"trainrun.hcl": base, "x.trainrun.json": `{"compute": {`},
			summary: "Missing value", file: "x.trainrun.json", mark: "", multi: true},
		{name: "unknown attribute", src: exp("a", okCmd+"\n  enviroment = \"\""),
			summary: "Unsupported argument", detail: []string{`Did you mean "environment"?`}, mark: "enviroment"},
		{name: "unknown top-level block", src: "experimnt \"x\" {}\n",
			summary: "Unsupported block type", detail: []string{`Did you mean "experiment"?`}, mark: "experimnt"},
		{name: "unknown nested block", src: exp("a", okCmd+"\n  resource {\n  }"),
			summary: "Unsupported block type", detail: []string{`Did you mean "resources"?`}, mark: "resource {"},
		{name: "unknown attribute in compute", src: "compute \"ssh\" \"s\" {\n  host = \"h\"\n  prot = 22\n}\n",
			summary: "Unsupported argument", detail: []string{`Did you mean "port"?`}, mark: "prot"},
		{name: "unknown attribute in variable", src: "variable \"x\" {\n  defualt = 1\n}\n",
			summary: "Unsupported argument", detail: []string{`Did you mean "default"?`}, mark: "defualt"},
		{name: "unknown attribute in sweep", src: exp("a", okCmd+"\n  sweep {\n    grid = { a = [1] }\n    max = 1\n  }"),
			summary: "Unsupported argument", mark: "max = 1"},
		{name: "wrong type in compute", src: "compute \"local\" \"x\" {\n  max_runs = \"many\"\n}\n",
			summary: "Invalid value for max_runs", detail: []string{"a number is required"}, mark: `"many"`},
		{name: "wrong type list in environment", src: "environment \"venv\" \"v\" {\n  requirements = \"numpy\"\n}\n",
			summary: "Invalid value for requirements", detail: []string{"list of string"}, mark: `"numpy"`},
		{name: "wrong type of variable default", src: "variable \"n\" {\n  type = number\n  default = \"ten\"\n}\n",
			summary: "Invalid value for variable", detail: []string{"number"}, mark: `"ten"`},
		{name: "invalid type expression", src: "variable \"n\" {\n  type = numbr\n}\n",
			summary: "Invalid type specification", mark: "numbr"},
		{name: "missing required compute", src: exp("a", `  command = ["x"]`),
			summary: "Missing required argument", detail: []string{`"compute"`}, mark: "{\n  command"},
		{name: "missing required ssh host", src: "compute \"ssh\" \"s\" {\n  port = 22\n}\n",
			summary: "Missing required argument", detail: []string{`"host"`}, mark: "{\n  port"},
		{name: "empty sweep", src: exp("a", okCmd+"\n  sweep {\n  }"),
			summary: "Empty sweep", detail: []string{"grid = {", "random {"}, mark: "sweep {"},
		{name: "random without count", src: exp("a", okCmd+"\n  sweep {\n    random {\n      lr = uniform(0, 1)\n    }\n  }"),
			summary: "Missing random count", detail: []string{"count = 20"}, mark: "random {"},
		{name: "random count not whole", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2.5\n      lr = uniform(0, 1)\n    }\n  }"),
			summary: "Invalid value for count", detail: []string{"whole number of at least 1"}, mark: "2.5"},
		{name: "random with nothing to draw", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2\n    }\n  }"),
			summary: "Empty random search", detail: []string{"loguniform(1e-4, 1e-1)"}, mark: "random {"},
		{name: "random unknown distribution", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2\n      lr = normal(0, 1)\n    }\n  }"),
			summary: "Invalid distribution", detail: []string{`no distribution called "normal"`, "uniform(a, b)"}, mark: "normal(0, 1)"},
		{name: "random value not a distribution", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2\n      lr = [0.1, 0.2]\n    }\n  }"),
			summary: "Invalid distribution", detail: []string{"lr of a random search must be a distribution"}, mark: "[0.1, 0.2]"},
		{name: "random bounds reversed", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2\n      lr = uniform(1, 0)\n    }\n  }"),
			summary: "Invalid distribution", detail: []string{"lower bound must be below"}, mark: "(1, 0)"},
		{name: "loguniform from zero", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2\n      lr = loguniform(0, 1)\n    }\n  }"),
			summary: "Invalid distribution", detail: []string{"above 0"}, mark: "(0, 1)"},
		{name: "randint of fractions", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2\n      n = randint(1, 2.5)\n    }\n  }"),
			summary: "Invalid distribution", detail: []string{"whole numbers"}, mark: "(1, 2.5)"},
		{name: "choice of nothing", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2\n      b = choice([])\n    }\n  }"),
			summary: "Invalid distribution", detail: []string{"non-empty list"}, mark: "([])"},
		{name: "distribution arguments", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 2\n      b = uniform(1)\n    }\n  }"),
			summary: "Invalid distribution", detail: []string{"takes 2 arguments"}, mark: "(1)"},
		{name: "random larger than its space", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 5\n      b = choice([32, 64])\n      n = randint(1, 2)\n    }\n  }"),
			summary: "Random search larger than its space", detail: []string{"only 4 distinct combinations"}, mark: "5"},
		{name: "swept twice", src: exp("a", okCmd+"\n  sweep {\n    grid = { b = [1, 2] }\n    random {\n      count = 2\n      b = choice([3, 4])\n    }\n  }"),
			summary: "Parameter swept twice", detail: []string{"b is in both grid and random"}, mark: "random {"},
		{name: "two random blocks", src: exp("a", okCmd+"\n  sweep {\n    random {\n      count = 1\n      b = choice([3])\n    }\n    random {\n      count = 1\n      c = choice([3])\n    }\n  }"),
			summary: "Duplicate random block", detail: []string{"at most one"}, mark: "random {", nth: 2},
		{name: "duplicate experiment", src: exp("a", okCmd) + exp("a", okCmd),
			summary: `Duplicate experiment "a"`, detail: []string{"already declared at trainrun.hcl:5,1"}, mark: `experiment "a"`, nth: 2},
		{name: "duplicate compute across files", files: map[string]string{"trainrun.hcl": base, "b.trainrun.hcl": "\ncompute \"ssh\" \"laptop\" {\n  host = \"h\"\n}\n"},
			summary: `Duplicate compute "laptop"`, detail: []string{"already declared at b.trainrun.hcl:2,1"}, file: "trainrun.hcl", mark: `compute "local" "laptop"`},
		{name: "duplicate variable", src: "variable \"lr\" {}\n",
			summary: `Duplicate variable "lr"`, detail: []string{"trainrun.hcl:1,1"}, mark: `variable "lr"`},
		{name: "duplicate local", src: "locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\n",
			summary: `Duplicate local value "a"`, detail: []string{"trainrun.hcl:6,3"}, mark: "a = 2"},
		{name: "duplicate trainrun block", src: "trainrun {}\ntrainrun {}\n",
			summary: "Duplicate trainrun block", mark: "trainrun {}", nth: 2},
		{name: "duplicate resources block", src: exp("a", okCmd+"\n  resources {}\n  resources {}"),
			summary: "Duplicate resources block", mark: "resources {}", nth: 2},
		{name: "bad experiment name", src: exp("1st", okCmd),
			summary: "Invalid experiment name", detail: []string{`"1st"`}, mark: `"1st"`},
		{name: "bad compute name", src: "compute \"local\" \"a.b\" {}\n",
			summary: "Invalid compute name", mark: `"a.b"`},
		{name: "bad variable name", src: "variable \"a b\" {}\n",
			summary: "Invalid variable name", mark: `"a b"`},
		{name: "undeclared variable", src: exp("a", okCmd+"\n  env = { LR = var.lrr }"),
			summary: "Reference to undeclared variable", detail: []string{`Did you mean "lr"?`}, mark: "var.lrr"},
		{name: "undeclared local", src: "locals {\n  data = 1\n}\n" + exp("a", okCmd+"\n  env = { D = local.dta }"),
			summary: "Reference to undeclared local value", detail: []string{`Did you mean "data"?`}, mark: "local.dta"},
		{name: "undeclared compute", src: exp("a", "  compute = compute.lapto\n  command = [\"x\"]"),
			summary: "Reference to undeclared compute", detail: []string{`Did you mean "laptop"?`}, mark: "compute.lapto"},
		{name: "undeclared environment", src: exp("a", okCmd+"\n  environment = environment.torch"),
			summary: "Reference to undeclared environment", detail: []string{`"torch"`}, mark: "environment.torch"},
		{name: "undeclared experiment", src: exp("prep", okCmd) + exp("a", okCmd+"\n  depends_on = [experiment.perp]"),
			summary: "Reference to undeclared experiment", detail: []string{`Did you mean "prep"?`}, mark: "experiment.perp"},
		{name: "undeclared param", src: exp("a", "  compute = compute.laptop\n  command = [param.lrr]\n  params = { lr = 1 }"),
			summary: "Reference to undeclared param", detail: []string{`Did you mean "lr"?`}, mark: "param.lrr"},
		{name: "unknown root", src: exp("a", "  compute = compute.laptop\n  command = [vars.lr]"),
			summary: "Unknown reference", detail: []string{`Did you mean "var"?`}, mark: "vars.lr"},
		{name: "path other than root", src: exp("a", "  compute = compute.laptop\n  command = [path.module]"),
			summary: "Invalid reference", detail: []string{"path.root"}, mark: "path.module"},
		{name: "param outside an experiment", src: "locals {\n  x = param.lr\n}\n",
			summary: "Invalid reference to param", mark: "param.lr"},
		{name: "param in params", src: exp("a", okCmd+"\n  params = { a = 1, b = param.a }"),
			summary: "Invalid reference to param", detail: []string{"params and sweep cannot refer to param"}, mark: "param.a"},
		{name: "outputs outside inputs", src: exp("prep", okCmd) + exp("a", "  compute = compute.laptop\n  command = [experiment.prep.outputs]"),
			summary: "Invalid reference to outputs", detail: []string{"inputs"}, mark: "experiment.prep.outputs"},
		{name: "unknown compute kind", src: "compute \"k8s\" \"c\" {}\n",
			summary: "Unknown compute kind", detail: []string{`"local", "slurm", "ssh"`}, mark: `"k8s"`},
		{name: "unknown compute kind suggestion", src: "compute \"sshh\" \"c\" {}\n",
			summary: "Unknown compute kind", detail: []string{`Did you mean "ssh"?`}, mark: `"sshh"`},
		{name: "unknown environment kind", src: "environment \"conda\" \"c\" {}\n",
			summary: "Unknown environment kind", detail: []string{`"container", "host", "venv"`}, mark: `"conda"`},
		{name: "compute as a string", src: exp("a", "  compute = \"laptop\"\n  command = [\"x\"]"),
			summary: "Invalid compute reference", mark: `"laptop"`},
		{name: "environment not a reference", src: exp("a", okCmd+"\n  environment = \"torch\""),
			summary: "Invalid environment reference", mark: `"torch"`},
		{name: "slurm login not a reference", src: "compute \"slurm\" \"s\" {\n  login = \"laptop\"\n}\n",
			summary: "Invalid login reference", mark: `"laptop"`},
		{name: "slurm login to undeclared", src: "compute \"slurm\" \"s\" {\n  login = compute.lapptop\n}\n",
			summary: "Reference to undeclared compute", detail: []string{`Did you mean "laptop"?`}, mark: "compute.lapptop"},
		{name: "provider validation", src: "compute \"local\" \"x\" {\n  max_runs = 0\n}\n",
			summary: "Invalid max_runs", detail: []string{"at least 1"}, mark: "max_runs = 0"},
		{name: "bad -var syntax", opts: func(o *Options) { o.Vars = []string{"lr"} },
			summary: "Invalid -var option", detail: []string{"NAME=VALUE"}, noRange: true},
		{name: "-var for undeclared variable", opts: func(o *Options) { o.Vars = []string{"lrr=1"} },
			summary: "Value for undeclared variable", detail: []string{`Did you mean "lr"?`}, noRange: true},
		{name: "-var of the wrong type", src: "variable \"n\" {\n  type = number\n  default = 1\n}\n", opts: func(o *Options) { o.Vars = []string{"n=abc"} },
			summary: "Invalid value for variable", detail: []string{"-var n", "number"}, noRange: true},
		{name: "-var that does not parse", src: "variable \"n\" {\n  type = list(number)\n  default = []\n}\n", opts: func(o *Options) { o.Vars = []string{"n=[1,"} },
			summary: "Invalid value for variable", detail: []string{"-var n", "list(number)", "for example [0.01]."}, noRange: true},
		{name: "-var of an object type that does not parse", src: "variable \"o\" {\n  type = object({ name = string, sizes = list(number) })\n  default = { name = \"x\", sizes = [] }\n}\n",
			opts:    func(o *Options) { o.Vars = []string{"o={"} },
			summary: "Invalid value for variable", detail: []string{`for example { name = "a", sizes = [0.01] }.`}, noRange: true},
		{name: "environment value of the wrong type", src: "variable \"n\" {\n  type = number\n  default = 1\n}\n",
			opts:    func(o *Options) { o.Getenv = env(map[string]string{"TRAINRUN_VAR_n": "abc"}) },
			summary: "Invalid value for variable", detail: []string{"TRAINRUN_VAR_n"}, noRange: true},
		{name: "var-file value of the wrong type",
			files: map[string]string{"trainrun.hcl": base + "variable \"n\" {\n  type = number\n}\n", "v.tfvars": "n = \"abc\"\n"},
			opts:  func(o *Options) { o.VarFiles = []string{"v.tfvars"} }, summary: "Invalid value for variable", file: "v.tfvars", mark: `"abc"`},
		{name: "var-file missing", opts: func(o *Options) { o.VarFiles = []string{"nope.tfvars"} },
			summary: "Cannot read variables file", detail: []string{"nope.tfvars"}, noRange: true},
		{name: "var-file syntax error", files: map[string]string{"trainrun.hcl": base, "v.tfvars": "lr = \n"},
			opts: func(o *Options) { o.VarFiles = []string{"v.tfvars"} }, summary: "Invalid expression", file: "v.tfvars", mark: "\n"},
		{name: "missing variable value", src: "variable \"data\" {\n  type = string\n}\n",
			summary: "No value for required variable", detail: []string{"-var 'data=VALUE'", "TRAINRUN_VAR_data"}, mark: `variable "data"`},
		{name: "missing variable used downstream reports once",
			src:     "variable \"data\" {\n  type = string\n}\nlocals {\n  d = var.data\n}\n" + exp("a", "  compute = compute.laptop\n  command = [local.d, var.data]"),
			summary: "No value for required variable", mark: `variable "data"`},
		{name: "broken compute used downstream reports once", src: "compute \"ssh\" \"s\" {\n  host = [1]\n}\n" + exp("a", "  compute = compute.s\n  command = [compute.s.host]"),
			summary: "Invalid value for host", mark: "[1]"},
		{name: "bad duration", src: exp("a", okCmd+"\n  timeout = \"2 hours\""),
			summary: "Invalid timeout", detail: []string{`"2 hours"`, `"1h30m"`}, mark: `"2 hours"`},
		{name: "negative duration", src: exp("a", okCmd+"\n  timeout = \"-1h\""),
			summary: "Invalid timeout", detail: []string{"negative"}, mark: `"-1h"`},
		{name: "bad memory", src: exp("a", okCmd+"\n  resources {\n    memory = \"16 gigs\"\n  }"),
			summary: "Invalid memory", detail: []string{`"16GiB"`}, mark: `"16 gigs"`},
		{name: "negative cpus", src: exp("a", okCmd+"\n  resources {\n    cpus = -1\n  }"),
			summary: "Invalid value for cpus", detail: []string{"whole number of at least 0"}, mark: "-1"},
		{name: "fractional retries", src: exp("a", okCmd+"\n  retries = 1.5"),
			summary: "Invalid value for retries", detail: []string{"whole number"}, mark: "1.5"},
		{name: "output escapes", src: exp("a", okCmd+"\n  outputs = [\"model/\", \"../x\"]"),
			summary: "Invalid output path", detail: []string{`"../x"`, "escapes"}, mark: `["model/"`},
		{name: "output absolute", src: exp("a", okCmd+"\n  outputs = [\"/etc\"]"),
			summary: "Invalid output path", detail: []string{"absolute"}, mark: `["/etc"]`},
		{name: "command and shell", src: exp("a", okCmd+"\n  shell = \"python\""),
			summary: "Conflicting command and shell", detail: []string{"trainrun.hcl:7,3"}, mark: `shell = "python"`},
		{name: "neither command nor shell", src: exp("a", "  compute = compute.laptop"),
			summary: "Missing command", detail: []string{"command = [", "shell = "}, mark: `experiment "a"`},
		{name: "empty command", src: exp("a", "  compute = compute.laptop\n  command = []"),
			summary: "Empty command", mark: "[]"},
		{name: "command element not a string", src: exp("a", "  compute = compute.laptop\n  command = [[\"x\"]]"),
			summary: "Invalid value for command", detail: []string{"Element 0"}, mark: `[["x"]]`},
		{name: "env value not a string", src: exp("a", okCmd+"\n  env = { A = [1] }"),
			summary: "Invalid value for env", detail: []string{"A"}, mark: "{ A"},
		{name: "params not an object", src: exp("a", okCmd+"\n  params = [1]"),
			summary: "Invalid params", mark: "[1]"},
		{name: "empty grid list", src: exp("a", okCmd+"\n  sweep {\n    grid = { lr = [] }\n  }"),
			summary: "Empty sweep axis", detail: []string{"lr"}, mark: "{ lr = [] }"},
		{name: "grid not a list", src: exp("a", okCmd+"\n  sweep {\n    grid = { lr = 1 }\n  }"),
			summary: "Invalid sweep grid", detail: []string{"lr"}, mark: "{ lr = 1 }"},
		{name: "duplicate grid value", src: exp("a", okCmd+"\n  sweep {\n    grid = { lr = [1, 1] }\n  }"),
			summary: "Duplicate sweep point", detail: []string{`experiment.a["lr=1"]`}, mark: "{ lr = [1, 1] }"},
		{name: "sweep too large", src: exp("a", okCmd+"\n  sweep {\n    grid = { a = range(1000), b = range(1000) }\n  }"),
			summary: "Sweep too large", mark: "{ a = range"},
		{name: "source_dir missing", src: exp("a", okCmd+"\n  source_dir = \"./nope\""),
			summary: "Invalid source_dir", detail: []string{`"./nope"`, "no such file"}, mark: `"./nope"`},
		{name: "source_dir is a file", files: map[string]string{"trainrun.hcl": base + exp("a", okCmd+"\n  source_dir = \"f\""), "f": ""},
			summary: "Invalid source_dir", detail: []string{"not a directory"}, mark: `"f"`},
		{name: "inputs not an object", src: exp("prep", okCmd) + exp("a", okCmd+"\n  inputs = experiment.prep.outputs"),
			summary: "Invalid inputs", mark: "experiment.prep.outputs"},
		{name: "input without outputs", src: exp("prep", okCmd) + exp("a", okCmd+"\n  inputs = { d = experiment.prep }"),
			summary: "Invalid experiment reference", detail: []string{"experiment.NAME.outputs"}, mark: "experiment.prep }"},
		{name: "depends_on a compute", src: exp("a", okCmd+"\n  depends_on = [compute.laptop]"),
			summary: "Invalid experiment reference", mark: "compute.laptop]"},
		{name: "unknown instance key", src: exp("t", okCmd+"\n  sweep {\n    grid = { lr = [1, 2] }\n  }") + exp("a", okCmd+"\n  inputs = { m = experiment.t[\"lr=3\"].outputs }"),
			summary: "Reference to undeclared instance", detail: []string{`"lr=3"`, `Did you mean "lr=1"?`}, mark: `experiment.t["lr=3"]`},
		{name: "instance key without sweep", src: exp("t", okCmd) + exp("a", okCmd+"\n  depends_on = [experiment.t[\"x=1\"]]"),
			summary: "Reference to an instance of an experiment without sweep", mark: `experiment.t["x=1"]`},
		{name: "instance reference outside inputs", src: exp("t", okCmd) + exp("a", "  compute = compute.laptop\n  command = [experiment.t[\"x\"].name]"),
			summary: "Invalid reference to an experiment instance", mark: `experiment.t["x"]`},
		{name: "file() of a missing file", src: exp("a", "  compute = compute.laptop\n  command = [file(\"nope.txt\")]"),
			summary: "Error in function call", detail: []string{"nope.txt"}, mark: `file("nope.txt")`},
		{name: "parallelism not a number", src: "trainrun {\n  parallelism = \"lots\"\n}\n",
			summary: "Invalid value for parallelism", mark: `"lots"`},
		{name: "unknown attribute in trainrun", src: "trainrun {\n  paralelism = 2\n}\n",
			summary: "Unsupported argument", detail: []string{`Did you mean "parallelism"?`}, mark: "paralelism"},
		{name: "function unknown", src: exp("a", "  compute = compute.laptop\n  command = [lowercase(\"X\")]"),
			summary: "Call to unknown function", mark: "lowercase"},
		{name: "missing label", src: "compute \"local\" {}\n",
			summary: "Missing name for compute", mark: "{}"},
		{name: "outputs not a list", src: exp("a", okCmd+"\n  outputs = \"model/\""),
			summary: "Invalid value for outputs", detail: []string{`such as ["model/", "metrics.json"].`}, mark: `"model/"`},
		{name: "empty grid", src: exp("a", okCmd+"\n  sweep {\n    grid = {}\n  }"),
			summary: "Empty sweep grid", detail: []string{"grid has no parameters"}, mark: "{}\n"},
		// exec cannot pass a NUL character: refused here, not by a failed run.
		{name: "NUL in command", src: exp("a", "  compute = compute.laptop\n  command = [\"echo\", \"a\\u0000b\"]"),
			summary: "Invalid value for command", detail: []string{"Element 1 of command contains a NUL character"}, mark: `["echo"`},
		{name: "NUL in shell", src: exp("a", "  compute = compute.laptop\n  shell = \"echo \\u0000\""),
			summary: "Invalid value for shell", detail: []string{"NUL character"}, mark: `"echo`},
		{name: "NUL in env value", src: exp("a", okCmd+"\n  env = { A = \"x\\u0000\" }"),
			summary: "Invalid value for env", detail: []string{"The value of A in env contains a NUL character"}, mark: "{ A"},
		{name: "NUL in a param", src: exp("a", okCmd+"\n  params = { tag = \"x\\u0000\" }"),
			summary: "Invalid params", detail: []string{"The parameter tag contains a NUL character", "TRAINRUN_PARAM_TAG"}, mark: "{ tag"},
		{name: "NUL in a sweep value", src: exp("a", okCmd+"\n  sweep {\n    grid = { tag = [\"a\", \"\\u0000\"] }\n  }"),
			summary: "Invalid sweep value", detail: []string{"A value of tag contains a NUL character"}, mark: "{ tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if files == nil {
				files = map[string]string{"trainrun.hcl": base + tt.src}
			}
			opts := testOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			cfg, diags := loadErrors(t, files, opts)
			errs := diags.Errs()
			if len(errs) != 1 && !tt.multi {
				t.Fatalf("want exactly one error, got %d:\n%s", len(errs), renderDiags(cfg, diags))
			}
			var d *hcl.Diagnostic
			for _, x := range diags {
				if x.Severity == hcl.DiagError && d == nil {
					d = x
				}
			}
			if !strings.Contains(d.Summary, tt.summary) {
				t.Errorf("summary %q does not contain %q", d.Summary, tt.summary)
			}
			for _, want := range tt.detail {
				if !strings.Contains(d.Detail, want) {
					t.Errorf("detail %q does not contain %q", d.Detail, want)
				}
			}
			if tt.noRange {
				if d.Subject != nil {
					t.Errorf("subject = %v, want none", d.Subject)
				}
				return
			}
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no subject", d.Summary)
			}
			file := tt.file
			if file == "" {
				file = "trainrun.hcl"
			}
			if d.Subject.Filename != file {
				t.Errorf("subject file = %q, want %q", d.Subject.Filename, file)
			}
			if tt.mark == "" {
				return
			}
			src := files[file]
			start := 0
			if tt.files == nil {
				start = len(base) // marks are looked for in tt.src
			}
			off := -1
			for i, from := 0, start; i < max(tt.nth, 1); i++ {
				j := strings.Index(src[from:], tt.mark)
				if j < 0 {
					t.Fatalf("test mark %q not found", tt.mark)
				}
				off, from = from+j, from+j+1
			}
			if d.Subject.Start.Byte != off {
				line := strings.Count(src[:off], "\n") + 1
				t.Errorf("subject starts at %s (byte %d), want line %d (byte %d, at %q)\n%s",
					d.Subject, d.Subject.Start.Byte, line, off, tt.mark, renderDiags(cfg, diags))
			}
		})
	}
}

// One validate reports every wrong attribute of an experiment, not only
// the first.
func TestDiagnosticsEveryBadAttribute(t *testing.T) {
	src := base + exp("a", `  compute = compute.laptop
  command = "python train.py"
  env     = { A = [1] }
  timeout = "2 hours"
  retries = 1.5
  outputs = "model/"
  resources {
    memory = "16 gigs"
  }`)
	cfg, diags := loadErrors(t, one(src), testOptions())
	var got []string
	for _, d := range diags.Errs() {
		got = append(got, d.(*hcl.Diagnostic).Summary)
	}
	want := []string{"Invalid value for command", "Invalid value for env", "Invalid timeout",
		"Invalid value for retries", "Invalid value for outputs", "Invalid memory"}
	if !slices.Equal(got, want) {
		t.Errorf("errors %q\nwant   %q\n%s", got, want, renderDiags(cfg, diags))
	}
}

func TestDiagnosticsAreDeterministic(t *testing.T) {
	src := base + exp("a", "  compute = compute.lapto\n  command = [var.x]") + exp("b", okCmd+"\n  shell = \"x\"") +
		"locals {\n  p = local.q\n  q = local.p\n}\ncompute \"k8s\" \"k\" {}\n"
	dir := writeFiles(t, one(src))
	var first string
	for i := 0; i < 5; i++ {
		cfg, diags := Load(dir, testOptions())
		out := renderDiags(cfg, diags)
		if len(diags) != 5 {
			t.Fatalf("want 5 diagnostics:\n%s", out)
		}
		if i == 0 {
			first = out
		} else if out != first {
			t.Fatalf("run %d differs:\n%s\nfirst:\n%s", i, out, first)
		}
	}
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		cycle string
	}{
		{"experiments via depends_on and inputs", exp("a", okCmd+"\n  depends_on = [experiment.b]") + exp("b", okCmd+"\n  inputs = { x = experiment.c.outputs }") + exp("c", okCmd+"\n  depends_on = [experiment.a]"),
			"experiment.a → experiment.b → experiment.c → experiment.a"},
		{"experiment on itself", exp("a", okCmd+"\n  depends_on = [experiment.a]"), "experiment.a → experiment.a"},
		{"locals", "locals {\n  x = local.y\n  y = \"${local.z}!\"\n  z = local.x\n}\n", "local.x → local.y → local.z → local.x"},
		{"computes via login", "compute \"slurm\" \"s1\" {\n  login = compute.s2\n}\ncompute \"slurm\" \"s2\" {\n  login = compute.s1\n}\n",
			"compute.s1 → compute.s2 → compute.s1"},
		{"through a local", "locals {\n  n = experiment.a.name\n}\n" + exp("a", okCmd+"\n  env = { N = local.n }"), "experiment.a → local.n → experiment.a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := loadErrors(t, one(base+tt.src), testOptions())
			if len(diags) != 1 {
				t.Fatalf("want one diagnostic, got:\n%s", renderDiags(cfg, diags))
			}
			d := diags[0]
			if !strings.Contains(d.Summary, tt.cycle) || !strings.Contains(d.Detail, tt.cycle) {
				t.Errorf("diagnostic %q / %q does not name the cycle %q", d.Summary, d.Detail, tt.cycle)
			}
			if d.Subject == nil || d.Subject.Filename != "trainrun.hcl" {
				t.Errorf("subject = %v", d.Subject)
			}
		})
	}
}

func TestCycleWithUnrelatedBlocks(t *testing.T) {
	// Two separate cycles: two diagnostics; the rest still loads.
	src := base + exp("a", okCmd+"\n  depends_on = [experiment.b]") + exp("b", okCmd+"\n  depends_on = [experiment.a]") +
		"locals {\n  p = local.p\n}\n" + exp("ok", okCmd)
	cfg, diags := loadErrors(t, one(src), testOptions())
	if len(diags) != 2 {
		t.Fatalf("want two diagnostics:\n%s", renderDiags(cfg, diags))
	}
	if !strings.Contains(diags[0].Summary, "experiment.a → experiment.b → experiment.a") || !strings.Contains(diags[1].Summary, "local.p → local.p") {
		t.Errorf("summaries: %q, %q", diags[0].Summary, diags[1].Summary)
	}
}

func TestSensitiveNeverInDiagnostics(t *testing.T) {
	const secret = "hunter2-SECRET"
	files := map[string]string{
		"trainrun.hcl": base + `
variable "pw" {
  type      = string
  sensitive = true
}
variable "num" {
  type      = number
  sensitive = true
}
compute "ssh" "box" {
  host     = "h"
  password = var.pw
  port     = tonumber(var.pw)
}
experiment "a" {
  compute = compute.box
  command = [tonumber(var.pw)]
  env     = { X = var.pw + 1 }
}
experiment "b" {
  compute = compute.laptop
  command = [var.pw[0]]
  shell   = "echo ${var.pw}"
}
`,
		"s.tfvars": `pw = "` + secret + `"` + "\nnum = \"" + secret + "\"\n",
	}
	opts := testOptions()
	opts.VarFiles = []string{"s.tfvars"}
	cfg, diags := loadErrors(t, files, opts)
	if len(diags) < 4 {
		t.Errorf("want several errors, got:\n%s", renderDiags(cfg, diags))
	}
	text := renderDiags(cfg, diags)
	js := string(DiagnosticsJSON(diags))
	for name, out := range map[string]string{"text": text, "json": js} {
		if strings.Contains(out, secret) || strings.Contains(out, "hunter2") {
			t.Errorf("%s output contains the secret:\n%s", name, out)
		}
	}
	if !strings.Contains(text, "s.tfvars") {
		t.Errorf("the var-file error is missing:\n%s", text)
	}

	// -var and the environment too.
	opts = testOptions()
	opts.Vars = []string{"num=" + secret}
	opts.Getenv = env(map[string]string{"TRAINRUN_VAR_pw": secret})
	files = one(base + "variable \"pw\" {\n  type = list(string)\n  sensitive = true\n}\nvariable \"num\" {\n  type = number\n  sensitive = true\n}\n")
	cfg, diags = loadErrors(t, files, opts)
	text = renderDiags(cfg, diags) + string(DiagnosticsJSON(diags))
	if strings.Contains(text, "hunter2") || len(diags.Errs()) != 2 {
		t.Errorf("want two errors without the secret:\n%s", text)
	}
}

func TestWriteDiagnostics(t *testing.T) {
	src := base + exp("a", "  compute = compute.laptop\n  command = [var.lrr]")
	cfg, diags := loadErrors(t, one(src), testOptions())
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, cfg.Files, diags, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Error: Reference to undeclared variable\n\n",
		"  on trainrun.hcl:7,14 in experiment \"a\":\n",
		"   7:   command = [var.lrr]\n" +
			"                   ^^^^^^^\n",
		`Did you mean "lr"?`,
		`Declare it with a variable "lrr" block`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("color codes without color:\n%s", out)
	}
	b.Reset()
	if err := WriteDiagnostics(&b, cfg.Files, diags, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "[\x1b[1;4mvar.lrr\x1b[0m]") {
		t.Errorf("the range is not highlighted with color:\n%q", b.String())
	}
}

func TestDiagnosticsJSON(t *testing.T) {
	src := base + exp("a", "  compute = compute.laptop\n  command = [var.lrr]")
	files := one(src)
	files["x.tfvars"] = "nope = 1\n"
	opts := testOptions()
	opts.VarFiles = []string{"x.tfvars"}
	_, diags := loadErrors(t, files, opts)
	var got struct {
		FormatVersion string `json:"format_version"`
		Valid         *bool  `json:"valid"`
		ErrorCount    int    `json:"error_count"`
		WarningCount  int    `json:"warning_count"`
		Diagnostics   []struct {
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
			Detail   string `json:"detail"`
			Range    *struct {
				Filename string `json:"filename"`
				Start    struct{ Line, Column, Byte int }
				End      struct{ Line, Column, Byte int }
			} `json:"range"`
			Snippet *struct {
				Context              *string `json:"context"`
				Code                 string  `json:"code"`
				StartLine            int     `json:"start_line"`
				HighlightStartOffset int     `json:"highlight_start_offset"`
				HighlightEndOffset   int     `json:"highlight_end_offset"`
			} `json:"snippet"`
		} `json:"diagnostics"`
	}
	raw := DiagnosticsJSON(diags)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v:\n%s", err, raw)
	}
	if got.FormatVersion != "1.0" || got.Valid == nil || *got.Valid || got.ErrorCount != 1 || got.WarningCount != 1 || len(got.Diagnostics) != 2 {
		t.Fatalf("header wrong:\n%s", raw)
	}
	var d = got.Diagnostics[0]
	if d.Severity != "warning" {
		d = got.Diagnostics[1]
	} else {
		d = got.Diagnostics[1]
		if d.Severity != "error" {
			t.Fatalf("severities:\n%s", raw)
		}
	}
	for _, x := range got.Diagnostics {
		if x.Severity == "error" {
			d = x
		}
	}
	if d.Summary != "Reference to undeclared variable" || d.Range == nil || d.Range.Filename != "trainrun.hcl" ||
		d.Range.Start.Line != 7 || d.Range.Start.Column != 14 || d.Range.End.Column != 21 {
		t.Errorf("error diagnostic wrong:\n%s", raw)
	}
	if s := d.Snippet; s == nil || s.Code != "  command = [var.lrr]" || s.StartLine != 7 ||
		s.HighlightStartOffset != 13 || s.HighlightEndOffset != 20 || s.Context == nil || *s.Context != `experiment "a"` {
		t.Errorf("snippet wrong:\n%s", raw)
	}

	// Valid: no diagnostics at all.
	var empty map[string]any
	if err := json.Unmarshal(DiagnosticsJSON(nil), &empty); err != nil {
		t.Fatal(err)
	}
	if empty["valid"] != true || empty["error_count"] != 0.0 || fmt.Sprint(empty["diagnostics"]) != "[]" {
		t.Errorf("empty = %v", empty)
	}
	// A diagnostic without a range has neither range nor snippet.
	var norange map[string][]map[string]any
	_ = json.Unmarshal(DiagnosticsJSON(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "x"}}), &norange)
	if _, has := norange["diagnostics"][0]["range"]; has {
		t.Errorf("range present without a subject: %v", norange)
	}
}

// TestLongLineSnippet: a snippet of a very long line shows the place, not
// the line: a little before the mark, the marked text cut short, a little
// after, with the marks still under the text.
func TestLongLineSnippet(t *testing.T) {
	long := strings.Repeat(`"a", `, 40000)
	src := base + exp("a", "  compute = compute.laptop\n  command = ["+long+"var.lrr, "+long+"\"z\"]")
	cfg, diags := loadErrors(t, one(src), testOptions())
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, cfg.Files, diags, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if len(out) > 4000 {
		t.Fatalf("%d bytes of diagnostics for one error on a long line", len(out))
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "var.lrr") || i+1 == len(lines) {
			continue
		}
		if !strings.HasPrefix(l, "   7: …") || !strings.HasSuffix(l, "…") {
			t.Fatalf("line not cut around the mark: %q", l)
		}
		marks := lines[i+1]
		at := strings.Index(marks, "^^^^^^^")
		if at < 0 || []rune(l)[len([]rune(marks[:at]))] != 'v' {
			t.Fatalf("marks not under var.lrr:\n%s\n%s", l, marks)
		}
		return
	}
	t.Fatalf("no snippet line with the reference:\n%s", out)
}
