package planner_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
)

// baseConfig is the configuration the fingerprint tests vary. Each
// placeholder is replaced by a case's text (or by its default).
const baseConfig = `
variable "token" {
  type      = string
  sensitive = true
  default   = "tok-1"
}
variable "unused_secret" {
  type      = string
  sensitive = true
  default   = "other-1"
}
variable "unused" {
  default = 1
}

compute "local" "a" {
  max_runs = 1
}
compute "local" "b" {
  max_runs = 2
}

environment "host" "py" {
  python = "python3"
}

experiment "prep" {
  compute    = compute.a
  source_dir = "prep"
  command    = ["sh", "prep.sh"]
}

experiment "train" {
  compute     = @COMPUTE@
  @ENVIRONMENT@
  source_dir  = "src"
  @COMMAND@
  params      = @PARAMS@
  env         = @ENV@
  inputs      = { data = experiment.prep.outputs }
  outputs     = @OUTPUTS@
  @EXTRA@
}
`

var baseParts = map[string]string{
	"COMPUTE":     "compute.a",
	"ENVIRONMENT": "",
	"COMMAND":     `command = ["python3", "train.py", "--lr", param.lr]`,
	"PARAMS":      `{ lr = 0.1, epochs = 10, layers = [64, 32] }`,
	"ENV":         `{ SEED = "42", MODE = env("TRAIN_MODE"), NOTES = file("notes.txt"), TOKEN = var.token }`,
	"OUTPUTS":     `["model/"]`,
	"EXTRA":       "",
}

// config renders baseConfig with parts overriding the defaults.
func config(parts map[string]string) string {
	s := baseConfig
	for k, def := range baseParts {
		v, ok := parts[k]
		if !ok {
			v = def
		}
		s = strings.Replace(s, "@"+k+"@", v, 1)
	}
	return s
}

func baseFiles(parts map[string]string) map[string]string {
	return map[string]string{
		"trainrun.hcl":   config(parts),
		"prep/prep.sh":   "echo prep\n",
		"src/train.py":   "print('train')\n",
		"src/data.csv":   "a,b\n1,2\n",
		"src/.gitignore": "*.log\ncache/\n",
		// .trainrunignore takes precedence over .gitignore.
		"src/.trainrunignore": "scratch/\n!keep.log\n",
		"notes.txt":           "outside every source_dir\n",
	}
}

const trainAddr = "experiment.train"

// TestFingerprintChanges checks that every input SPEC §3 names changes the
// fingerprint, and that what it leaves out does not.
func TestFingerprintChanges(t *testing.T) {
	tests := []struct {
		name    string
		change  func(p *project)
		changed bool
	}{
		// Source content.
		{"source byte", func(p *project) { p.write("src/train.py", "print('train!')\n") }, true},
		{"exec bit", func(p *project) { chmod(p, "src/train.py", 0o755) }, true},
		{"added file", func(p *project) { p.write("src/util.py", "x = 1\n") }, true},
		{"added file in a subdirectory", func(p *project) { p.write("src/lib/util.py", "x = 1\n") }, true},
		{"removed file", func(p *project) { remove(p, "src/data.csv") }, true},
		{"renamed file", func(p *project) { rename(p, "src/data.csv", "src/data2.csv") }, true},
		{"empty file added", func(p *project) { p.write("src/empty", "") }, true},
		// What the run is told.
		{"command", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"COMMAND": `command = ["python3", "train.py", "--learning-rate", param.lr]`}))
		}, true},
		{"command to shell", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"COMMAND": `shell = "python3 train.py --lr ${param.lr}"`}))
		}, true},
		{"env value", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"ENV": `{ SEED = "43", MODE = env("TRAIN_MODE"), NOTES = file("notes.txt"), TOKEN = var.token }`}))
		}, true},
		{"env added", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"ENV": `{ SEED = "42", MODE = env("TRAIN_MODE"), NOTES = file("notes.txt"), TOKEN = var.token, X = "" }`}))
		}, true},
		{"param value", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"PARAMS": `{ lr = 0.05, epochs = 10, layers = [64, 32] }`}))
		}, true},
		{"param list element", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"PARAMS": `{ lr = 0.1, epochs = 10, layers = [64, 16] }`}))
		}, true},
		{"param type (number to string)", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"PARAMS": `{ lr = 0.1, epochs = "10", layers = [64, 32] }`}))
		}, true},
		{"environment block", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"ENVIRONMENT": "environment = environment.py"}))
		}, true},
		{"environment attribute", func(p *project) {
			p.write("trainrun.hcl", strings.Replace(
				config(map[string]string{"ENVIRONMENT": "environment = environment.py"}),
				`python = "python3"`, `python = "/usr/bin/python3.11"`, 1))
		}, true},
		{"sensitive variable used", func(p *project) { p.vars = append(p.vars, "token=tok-2") }, true},
		{"value read with file()", func(p *project) { p.write("notes.txt", "changed\n") }, true},
		{"value read with env()", func(p *project) { p.env["TRAIN_MODE"] = "slow" }, true},
		// Upstream: what it produced, not how (early cut-off).
		{"upstream outputs", func(p *project) { p.outputs["experiment.prep"] = strings.Repeat("ab", 32) }, true},
		{"upstream source, same outputs", func(p *project) { p.write("prep/prep.sh", "echo prep v2\n") }, false},
		{"upstream command, same outputs", func(p *project) {
			p.write("trainrun.hcl", strings.Replace(config(nil), `["sh", "prep.sh"]`, `["sh", "prep.sh", "--fast"]`, 1))
		}, false},

		// Left out of the fingerprint.
		{"ignored file", func(p *project) { p.write("src/run.log", "noise\n") }, false},
		{"ignored directory", func(p *project) { p.write("src/cache/x.bin", "noise\n") }, false},
		{"file ignored by .trainrunignore", func(p *project) { p.write("src/scratch/big.bin", "noise\n") }, false},
		{"file re-included by .trainrunignore", func(p *project) { p.write("src/keep.log", "kept\n") }, true},
		{"git directory", func(p *project) { p.write("src/.git/HEAD", "ref: refs/heads/main\n") }, false},
		{"trainrun directory", func(p *project) { p.write("src/.trainrun/x", "data\n") }, false},
		{"file outside source_dir", func(p *project) { p.write("other/x.py", "x\n") }, false},
		{"mtime", func(p *project) { touch(p, "src/train.py", time.Now().Add(time.Hour)) }, false},
		{"file rewritten with the same bytes", func(p *project) { p.write("src/train.py", "print('train')\n") }, false},
		{"params written in another order", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"PARAMS": `{ layers = [64, 32], epochs = 10, lr = 0.1 }`}))
		}, false},
		{"env written in another order", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"ENV": `{ TOKEN = var.token, NOTES = file("notes.txt"), MODE = env("TRAIN_MODE"), SEED = "42" }`}))
		}, false},
		{"param written as an expression", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"PARAMS": `{ lr = 0.1, epochs = 5 * 2, layers = concat([64], [32]) }`}))
		}, false},
		{"comments and formatting", func(p *project) {
			p.write("trainrun.hcl", "# a comment\n\n"+strings.ReplaceAll(config(nil), " = ", "   =   "))
		}, false},
		{"compute", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"COMPUTE": "compute.b"}))
		}, false},
		{"compute attribute", func(p *project) {
			p.write("trainrun.hcl", strings.Replace(config(nil), "max_runs = 1", "max_runs = 3", 1))
		}, false},
		{"resources", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"EXTRA": "resources {\n    cpus = 2\n    memory = \"1GiB\"\n  }"}))
		}, false},
		{"timeout", func(p *project) { p.write("trainrun.hcl", config(map[string]string{"EXTRA": `timeout = "2h"`})) }, false},
		{"retries", func(p *project) { p.write("trainrun.hcl", config(map[string]string{"EXTRA": `retries = 2`})) }, false},
		{"outputs", func(p *project) {
			p.write("trainrun.hcl", config(map[string]string{"OUTPUTS": `["model/", "metrics.json"]`}))
		}, false},
		{"unused variable", func(p *project) { p.vars = append(p.vars, "unused=2") }, false},
		{"unused sensitive variable", func(p *project) { p.vars = append(p.vars, "unused_secret=other-2") }, false},
		{"unused environment block", func(p *project) {
			p.write("trainrun.hcl", strings.Replace(config(nil), `python = "python3"`, `python = "python3.12"`, 1))
		}, false},
		{"another experiment added", func(p *project) {
			p.write("trainrun.hcl", config(nil)+"\nexperiment \"other\" {\n  compute = compute.a\n  command = [\"true\"]\n}\n")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := baseFiles(nil)
			p := newProject(t, files)
			p.env["TRAIN_MODE"] = "fast"
			before := resolved(t, p, action(t, p.plan(planner.Options{}), trainAddr)).Fingerprint
			if len(before) != 64 {
				t.Fatalf("fingerprint %q is not a hex SHA-256", before)
			}
			tt.change(p)
			after := resolved(t, p, action(t, p.plan(planner.Options{}), trainAddr)).Fingerprint
			if got := after != before; got != tt.changed {
				t.Errorf("fingerprint changed = %v, want %v (before %s, after %s)", got, tt.changed, before[:12], after[:12])
			}
		})
	}
}

// TestFingerprintStable plans the same configuration many times and in
// projects written in a different order, in different directories: the
// fingerprints are the same (no map order, file order, mtime or path
// enters them).
func TestFingerprintStable(t *testing.T) {
	files := baseFiles(map[string]string{"EXTRA": "sweep {\n    grid = { lr = [0.1, 0.2, 0.3], opt = [\"adam\", \"sgd\"] }\n  }"})
	first := newProject(t, files)
	want := fingerprints(first.plan(planner.Options{}))
	if len(want) != 7 {
		t.Fatalf("plan has %d instances, want 7 (prep and 6 train)", len(want))
	}
	for i := range 5 {
		if got := fingerprints(first.plan(planner.Options{})); !maps.Equal(got, want) {
			t.Fatalf("plan %d of the same project: fingerprints differ:\n%v\nwant\n%v", i+2, got, want)
		}
	}

	// The same files written in the reverse order, with other mtimes,
	// in another directory.
	second := newProject(t, nil)
	names := slices.Sorted(maps.Keys(files))
	for i := len(names) - 1; i >= 0; i-- {
		second.write(names[i], files[names[i]])
		touch(second, names[i], time.Unix(int64(1e9+i*1000), 0))
	}
	if got := fingerprints(second.plan(planner.Options{})); !maps.Equal(got, want) {
		t.Errorf("a project written in another order elsewhere: fingerprints differ:\n%v\nwant\n%v", got, want)
	}

	// The project moved: its recorded runs are still up to date.
	first.apply()
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(first.dir, moved); err != nil {
		t.Fatal(err)
	}
	first.dir = moved
	pl := first.plan(planner.Options{})
	if pl.Changes() {
		t.Errorf("after moving the project, the plan has changes: %v", describe(pl))
	}
}

// TestFingerprintSweepInstances: every instance of a sweep has its own
// fingerprint, and a downstream instance depends on all upstream ones.
func TestFingerprintSweepInstances(t *testing.T) {
	p := newProject(t, map[string]string{
		"trainrun.hcl": `
compute "local" "a" {}
experiment "prep" {
  compute    = compute.a
  source_dir = "src"
  command    = ["sh", "prep.sh", param.shard]
  sweep {
    grid = { shard = [0, 1, 2] }
  }
}
experiment "train" {
  compute    = compute.a
  source_dir = "src"
  command    = ["sh", "train.sh"]
  inputs     = { data = experiment.prep.outputs }
}
`,
		"src/prep.sh":  "echo\n",
		"src/train.sh": "echo\n",
	})
	pl := p.plan(planner.Options{})
	train := action(t, pl, trainAddr)
	if got := train.Pending; len(got) != 3 {
		t.Errorf("train waits for %q, want the 3 prep instances", got)
	}
	fps := fingerprints(pl)
	seen := map[string]string{}
	for addr, fp := range fps {
		if other, ok := seen[fp]; ok {
			t.Errorf("%s and %s share fingerprint %s", addr, other, fp)
		}
		seen[fp] = addr
	}
	if got := train.Inputs.Upstream["input.data"]; len(got) != 3 || slices.Contains(got, "") {
		t.Errorf("train's input.data upstream = %q, want the 3 prep outputs hashes", got)
	}
	// The order of instances is the dependency order.
	if got := addresses(pl); got[len(got)-1] != trainAddr {
		t.Errorf("actions = %q: train must come after every prep instance", got)
	}
}

// TestSensitiveValueNotRecorded: a sensitive variable's value changes the
// fingerprint but appears nowhere in what is recorded with a run.
func TestSensitiveValueNotRecorded(t *testing.T) {
	p := newProject(t, baseFiles(map[string]string{
		"ENV":     `{ SEED = "42", TOKEN = var.token }`,
		"COMMAND": `command = ["python3", "train.py", "--token=${var.token}"]`,
	}))
	p.vars = []string{"token=hunter2-secret"}
	pl := p.plan(planner.Options{})
	a := action(t, pl, trainAddr)
	p.record(pl, providers.Succeeded, "")
	for _, name := range []string{"state.json", "journal"} {
		b, err := os.ReadFile(filepath.Join(p.dataDir(), name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "hunter2-secret") {
			t.Errorf("%s holds the sensitive value in clear", name)
		}
	}
	if a.Inputs.SecretsHash == "" {
		t.Error("the fingerprint inputs have no secrets hash")
	}
	if got := a.Inputs.Env["TOKEN"]; got != "(sensitive)" {
		t.Errorf("recorded env TOKEN = %q, want (sensitive)", got)
	}
	// A string derived from a secret is redacted as a whole or in part,
	// never kept.
	if got := a.Inputs.Command[2]; strings.Contains(got, "hunter2") || !strings.Contains(got, "(sensitive)") {
		t.Errorf("recorded command = %q, want the secret redacted", a.Inputs.Command)
	}

	p.vars = []string{"token=hunter3-secret"}
	next := action(t, p.plan(planner.Options{}), trainAddr)
	if next.Fingerprint == a.Fingerprint {
		t.Fatal("a changed secret did not change the fingerprint")
	}
	if want := []string{"a sensitive value changed"}; !slices.Equal(next.Reasons, want) {
		t.Errorf("reasons = %q, want %q (and never the value)", next.Reasons, want)
	}
}

// fingerprints maps each action's address to its fingerprint, pending
// actions resolved as if every upstream instance produced no outputs.
func fingerprints(pl *planner.Plan) map[string]string {
	m := make(map[string]string, len(pl.Actions))
	for _, a := range pl.Actions {
		if len(a.Pending) > 0 {
			if err := a.Resolve(func(string) (string, error) { return planner.EmptyOutputs, nil }); err != nil {
				panic(err)
			}
		}
		m[a.Address] = a.Fingerprint
	}
	return m
}

// resolved resolves a pending action as apply would after its upstream
// instances produced p.outputs (no outputs by default).
func resolved(t testing.TB, p *project, a *planner.Action) *planner.Action {
	t.Helper()
	if len(a.Pending) == 0 {
		return a
	}
	err := a.Resolve(func(addr string) (string, error) {
		if h := p.outputs[addr]; h != "" {
			return h, nil
		}
		return planner.EmptyOutputs, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func describe(pl *planner.Plan) []string {
	var out []string
	for _, a := range pl.Actions {
		out = append(out, a.Address+": "+a.Action+" "+strings.Join(a.Reasons, "; "))
	}
	return out
}

func chmod(p *project, name string, mode os.FileMode) {
	p.t.Helper()
	if err := os.Chmod(p.path(name), mode); err != nil {
		p.t.Fatal(err)
	}
}

func remove(p *project, name string) {
	p.t.Helper()
	if err := os.Remove(p.path(name)); err != nil {
		p.t.Fatal(err)
	}
}

func rename(p *project, from, to string) {
	p.t.Helper()
	if err := os.Rename(p.path(from), p.path(to)); err != nil {
		p.t.Fatal(err)
	}
}

func touch(p *project, name string, at time.Time) {
	p.t.Helper()
	if err := os.Chtimes(p.path(name), at, at); err != nil {
		p.t.Fatal(err)
	}
}
