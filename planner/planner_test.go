package planner_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// reasonsConfig is one experiment whose every input a case can change.
const reasonsConfig = `
variable "lr" {
  type    = number
  default = 0.1
}
variable "secret" {
  type      = string
  sensitive = true
  default   = "s-1"
}

compute "local" "a" {}
compute "local" "b" {}

environment "host" "py" {
  python = "python3"
}

experiment "prep" {
  compute    = compute.a
  source_dir = "prep"
  command    = ["sh", "prep.sh"]
}

experiment "train" {
  compute    = compute.a
  source_dir = "src"
  command    = ["python3", "a.py", "--lr", param.lr]
  params     = { lr = var.lr, epochs = 10 }
  env        = { SEED = "42", KEY = var.secret }
  inputs     = { data = experiment.prep.outputs }
}
`

func reasonsFiles() map[string]string {
	return map[string]string{
		"trainrun.hcl": reasonsConfig,
		"src/a.py":     "print('a')\n",
		"src/old.py":   "print('old')\n",
		"prep/prep.sh": "echo prep\n",
	}
}

// edit replaces old by new in trainrun.hcl, failing when old is not there.
func edit(p *project, old, new string) {
	p.t.Helper()
	b, err := os.ReadFile(p.path("trainrun.hcl"))
	if err != nil {
		p.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		p.t.Fatalf("trainrun.hcl has no %q", old)
	}
	p.write("trainrun.hcl", strings.Replace(string(b), old, new, 1))
}

// TestReasons applies the configuration, changes one thing, and checks the
// action and reasons the next plan gives the train instance.
func TestReasons(t *testing.T) {
	tests := []struct {
		name    string
		change  func(p *project)
		opts    planner.Options
		action  string
		reasons []string
	}{
		{"nothing", func(p *project) {}, planner.Options{}, planner.NoOp, []string{"up to date"}},
		{"source", func(p *project) {
			p.write("src/a.py", "print('a2')\n")
			p.write("src/b.csv", "1,2\n")
		}, planner.Options{}, planner.Submit, []string{"source changed: a.py modified, b.csv added"}},
		{"source removed and exec bit", func(p *project) {
			remove(p, "src/old.py")
			chmod(p, "src/a.py", 0o755)
		}, planner.Options{}, planner.Submit, []string{"source changed: a.py modified, old.py removed"}},
		{"param through a variable", func(p *project) { p.vars = []string{"lr=0.05"} },
			planner.Options{}, planner.Submit, []string{"command changed", "param lr: 0.1 → 0.05"}},
		{"param added", func(p *project) { edit(p, "epochs = 10", "epochs = 10, batch = 32") },
			planner.Options{}, planner.Submit, []string{"param batch added"}},
		{"param removed", func(p *project) { edit(p, "lr = var.lr, epochs = 10", "lr = var.lr") },
			planner.Options{}, planner.Submit, []string{"param epochs removed"}},
		{"env", func(p *project) { edit(p, `SEED = "42"`, `SEED = "43"`) },
			planner.Options{}, planner.Submit, []string{"env SEED changed"}},
		{"env added", func(p *project) { edit(p, `SEED = "42"`, `SEED = "42", DEBUG = "1"`) },
			planner.Options{}, planner.Submit, []string{"env DEBUG added"}},
		{"shell", func(p *project) {
			edit(p, `command    = ["python3", "a.py", "--lr", param.lr]`, `shell = "python3 a.py --lr ${param.lr}"`)
		}, planner.Options{}, planner.Submit, []string{"command changed", "shell command changed"}},
		{"environment", func(p *project) {
			edit(p, `source_dir = "src"`, "source_dir = \"src\"\n  environment = environment.py")
		},
			planner.Options{}, planner.Submit, []string{"environment changed"}},
		{"upstream", func(p *project) { p.write("prep/prep.sh", "echo prep 2\n") },
			planner.Options{}, planner.Pending, []string{"pending upstream experiment.prep: runs again only if its outputs change"}},
		{"upstream and own change", func(p *project) {
			p.write("prep/prep.sh", "echo prep 2\n")
			p.write("src/a.py", "print('a2')\n")
		}, planner.Options{}, planner.Submit, []string{"source changed: a.py modified"}},
		{"upstream and an update", func(p *project) {
			p.write("prep/prep.sh", "echo prep 2\n")
			edit(p, `env        =`, "retries = 1\n  env        =")
		}, planner.Options{}, planner.Pending, []string{"pending upstream experiment.prep: runs again only if its outputs change", "retries changed: 0 → 1 (no re-run needed)"}},
		{"sensitive value", func(p *project) { p.vars = []string{"secret=s-2"} },
			planner.Options{}, planner.Submit, []string{"a sensitive value changed"}},
		{"compute", func(p *project) {
			edit(p, "compute    = compute.a\n  source_dir = \"src\"", "compute    = compute.b\n  source_dir = \"src\"")
		},
			planner.Options{}, planner.Update, []string{"compute changed: a → b (no re-run needed)"}},
		{"resources", func(p *project) { edit(p, `env        =`, "resources {\n    cpus = 2\n  }\n  env        =") },
			planner.Options{}, planner.Update, []string{"resources changed (no re-run needed)"}},
		{"timeout and retries", func(p *project) { edit(p, `env        =`, "timeout = \"90m\"\n  retries = 2\n  env        =") },
			planner.Options{}, planner.Update, []string{"timeout changed: none → 1h30m0s (no re-run needed)", "retries changed: 0 → 2 (no re-run needed)"}},
		{"replace", func(p *project) {}, planner.Options{Replace: []string{trainAddr}},
			planner.Submit, []string{"replace requested"}},
		{"replace wins over an update", func(p *project) { edit(p, `env        =`, "retries = 1\n  env        =") },
			planner.Options{Replace: []string{trainAddr}}, planner.Submit, []string{"replace requested"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProject(t, reasonsFiles())
			first := p.plan(planner.Options{})
			if a := action(t, first, trainAddr); a.Action != planner.Submit || !slices.Equal(a.Reasons, []string{"new"}) {
				t.Fatalf("first plan: %s %q, want submit [new]", a.Action, a.Reasons)
			}
			p.record(first, providers.Succeeded, "")
			tt.change(p)
			a := action(t, p.plan(tt.opts), trainAddr)
			if a.Action != tt.action || !slices.Equal(a.Reasons, tt.reasons) {
				t.Errorf("got %s %q, want %s %q", a.Action, a.Reasons, tt.action, tt.reasons)
			}
		})
	}
}

// TestReasonsFromPriorStatus: an instance whose last run failed or was
// cancelled runs again; one still running is waited for, unless its
// fingerprint changed.
func TestReasonsFromPriorStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  providers.State
		reason  string
		change  func(p *project)
		action  string
		reasons []string
	}{
		{"failed", providers.Failed, "exit code 3", nil, planner.Submit, []string{"last run failed: exit code 3"}},
		{"failed without a reason", providers.Failed, "", nil, planner.Submit, []string{"last run failed"}},
		{"cancelled", providers.Cancelled, "cancelled", nil, planner.Submit, []string{"last run cancelled"}},
		{"failed and changed", providers.Failed, "exit code 3", func(p *project) { p.write("src/a.py", "fixed\n") },
			planner.Submit, []string{"source changed: a.py modified"}},
		{"running", providers.Running, "", nil, planner.NoOp, nil},
		{"pending and changed", providers.Pending, "", func(p *project) { edit(p, `SEED = "42"`, `SEED = "1"`) },
			planner.Submit, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProject(t, reasonsFiles())
			p.apply()
			p.record(p.plan(planner.Options{Replace: []string{trainAddr}}), tt.status, tt.reason)
			if tt.change != nil {
				tt.change(p)
			}
			// The first run succeeded with the same fingerprint: the run
			// cache would restore it (TestRunCache).
			a := action(t, p.plan(planner.Options{NoCache: true}), trainAddr)
			want := tt.reasons
			if want == nil {
				// Live runs: the reason names the run.
				id := a.Prior.ID
				switch tt.action {
				case planner.NoOp:
					want = []string{"run " + id + " is " + string(tt.status) + "; apply waits for it"}
				default:
					want = []string{"env SEED changed", "supersedes live run " + id}
				}
			}
			if a.Action != tt.action || !slices.Equal(a.Reasons, want) {
				t.Errorf("got %s %q, want %s %q", a.Action, a.Reasons, tt.action, want)
			}
		})
	}
}

// TestEmptyState plans against a store that was never written: every
// instance is new, and planning creates no state.
func TestEmptyState(t *testing.T) {
	p := newProject(t, reasonsFiles())
	st, err := state.Open(p.dataDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pl, err := planner.Build(t.Context(), p.load(), st, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := addresses(pl); !slices.Equal(got, []string{"experiment.prep", trainAddr}) {
		t.Errorf("actions = %q, want prep then train", got)
	}
	for _, a := range pl.Actions {
		if a.Action != planner.Submit || !slices.Equal(a.Reasons, []string{"new"}) || a.Kind != "run" {
			t.Errorf("%s: %s %s %q, want run submit [new]", a.Address, a.Kind, a.Action, a.Reasons)
		}
	}
	if pl.Lineage != "" || pl.Serial != 0 {
		t.Errorf("lineage %q serial %d, want none", pl.Lineage, pl.Serial)
	}
	want := map[string]int{"create": 0, "attach": 0, "configure": 0, "submit": 2, "restore": 0, "update": 0, "destroy": 0, "no-op": 0, "pending": 0}
	if got := pl.Summary(); !maps.Equal(got, want) {
		t.Errorf("summary = %v, want %v", got, want)
	}
	if !pl.Changes() {
		t.Error("Changes() = false")
	}
	if _, err := os.Stat(p.dataDir()); !os.IsNotExist(err) {
		t.Errorf("planning without a data directory created %s (%v)", p.dataDir(), err)
	}
}

// selectionConfig: prep → train → eval, a sweep, and an unrelated
// experiment.
const selectionConfig = `
compute "local" "a" {}

experiment "prep" {
  compute    = compute.a
  source_dir = "src"
  command    = ["sh", "prep.sh"]
}
experiment "train" {
  compute    = compute.a
  source_dir = "src"
  command    = ["sh", "train.sh", param.lr]
  inputs     = { data = experiment.prep.outputs }
  sweep {
    grid = { lr = [1, 2] }
  }
}
experiment "eval" {
  compute    = compute.a
  source_dir = "src"
  command    = ["sh", "eval.sh"]
  depends_on = [experiment.train]
}
experiment "other" {
  compute    = compute.a
  source_dir = "src"
  command    = ["sh", "other.sh"]
}
`

func TestTargetAndExclude(t *testing.T) {
	tests := []struct {
		name    string
		opts    planner.Options
		want    []string
		wantErr string
	}{
		// Dependency order: each instance after what it depends on.
		{"all", planner.Options{}, []string{
			"experiment.prep", `experiment.train["lr=1"]`, `experiment.train["lr=2"]`, "experiment.eval", "experiment.other"}, ""},
		{"target with its dependencies", planner.Options{Targets: []string{"experiment.train"}}, []string{
			"experiment.prep", `experiment.train["lr=1"]`, `experiment.train["lr=2"]`}, ""},
		{"target one instance", planner.Options{Targets: []string{`experiment.train["lr=2"]`}}, []string{
			"experiment.prep", `experiment.train["lr=2"]`}, ""},
		{"target the end of the chain", planner.Options{Targets: []string{"experiment.eval"}}, []string{
			"experiment.prep", `experiment.train["lr=1"]`, `experiment.train["lr=2"]`, "experiment.eval"}, ""},
		{"two targets", planner.Options{Targets: []string{"experiment.other", "experiment.prep"}}, []string{
			"experiment.prep", "experiment.other"}, ""},
		{"exclude with its dependents", planner.Options{Excludes: []string{"experiment.prep"}}, []string{
			"experiment.other"}, ""},
		{"exclude one instance", planner.Options{Excludes: []string{`experiment.train["lr=1"]`}}, []string{
			"experiment.prep", `experiment.train["lr=2"]`, "experiment.other"}, ""},
		{"target and exclude", planner.Options{Targets: []string{"experiment.eval"}, Excludes: []string{`experiment.train["lr=2"]`}}, []string{
			"experiment.prep", `experiment.train["lr=1"]`}, ""},
		{"unknown target", planner.Options{Targets: []string{"experiment.nope"}}, nil, "experiment.nope: no such experiment or instance"},
		{"unknown instance", planner.Options{Excludes: []string{`experiment.train["lr=3"]`}}, nil, `experiment.train["lr=3"]: no such experiment or instance`},
		{"unknown replace", planner.Options{Replace: []string{"experiment.nope"}}, nil, "-replace experiment.nope: no such experiment or instance"},
		// What the error suggests: the flag is named, and so is what the
		// user most likely meant.
		{"unknown target lists experiments", planner.Options{Targets: []string{"experiment.trian"}}, nil,
			"-target experiment.trian: no such experiment or instance in the configuration. The experiments are: experiment.eval, experiment.other, experiment.prep, experiment.train"},
		{"not an address", planner.Options{Targets: []string{"train"}}, nil,
			`An address is experiment.NAME (all of its instances) or experiment.NAME["KEY"]`},
		{"key without quotes (eaten by the shell)", planner.Options{Targets: []string{"experiment.train[lr=2]"}}, nil,
			`Did you mean experiment.train["lr=2"]? Keys are quoted, with their parameters sorted by name; in a shell, put single quotes around the address: -target 'experiment.train["lr=2"]'`},
		{"key in single quotes", planner.Options{Excludes: []string{"experiment.train['lr=1']"}}, nil,
			`-exclude experiment.train['lr=1']: no such experiment or instance in the configuration. Did you mean experiment.train["lr=1"]?`},
		{"unknown key lists instances", planner.Options{Replace: []string{`experiment.train["lr=3"]`}}, nil,
			`experiment.train has: experiment.train["lr=1"], experiment.train["lr=2"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProject(t, map[string]string{"trainrun.hcl": selectionConfig, "src/x.sh": "x\n"})
			pl, err := p.build(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := addresses(pl); !slices.Equal(got, tt.want) {
				t.Errorf("actions = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

// TestTargetKeepsRecordedUpstream: planning only the downstream instance
// of an applied chain, after the upstream changed, plans the upstream with
// it and leaves everything downstream pending on its outputs, while
// excluding the upstream leaves the downstream out too.
func TestTargetKeepsRecordedUpstream(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": selectionConfig, "src/x.sh": "x\n"})
	p.apply()
	if pl := p.plan(planner.Options{}); pl.Changes() {
		t.Fatalf("after apply: %q", describe(pl))
	}
	edit(p, `["sh", "prep.sh"]`, `["sh", "prep.sh", "-v"]`)
	pl := p.plan(planner.Options{Targets: []string{"experiment.eval"}})
	for _, a := range pl.Actions {
		want := planner.Pending
		if a.Address == "experiment.prep" {
			want = planner.Submit
		}
		if a.Action != want || (want == planner.Pending) != (a.Fingerprint == "") {
			t.Errorf("%s: %s %q fingerprint %q, want %s (prep changed, everything downstream waits for its outputs)", a.Address, a.Action, a.Reasons, a.Fingerprint, want)
		}
	}
	want := []string{"pending upstream " + `experiment.train["lr=1"], experiment.train["lr=2"]` + ": runs again only if their outputs change"}
	if got := action(t, pl, "experiment.eval").Reasons; !slices.Equal(got, want) {
		t.Errorf("eval reasons = %q, want %q", got, want)
	}
	pl = p.plan(planner.Options{Excludes: []string{"experiment.prep"}})
	if got := addresses(pl); !slices.Equal(got, []string{"experiment.other"}) {
		t.Errorf("-exclude prep: actions = %q, want only other", got)
	}
	if pl.Changes() {
		t.Errorf("-exclude prep: %q, want no changes", describe(pl))
	}
}

func TestSavedPlanCheck(t *testing.T) {
	tests := []struct {
		name    string
		change  func(p *project)
		opts    planner.Options
		wantErr string
	}{
		{"same", func(p *project) {}, planner.Options{}, ""},
		{"same, with a selection", func(p *project) {}, planner.Options{Targets: []string{"experiment.eval"}}, ""},
		{"ignored file", func(p *project) { p.write("src/x.log", "noise\n") }, planner.Options{}, ""},
		{"state changed", func(p *project) {
			p.record(p.plan(planner.Options{Targets: []string{"experiment.other"}, Replace: []string{"experiment.other"}}), providers.Succeeded, "")
		}, planner.Options{}, "the state changed since it was made"},
		{"source changed", func(p *project) { p.write("src/x.sh", "y\n") }, planner.Options{}, "changed since it was made"},
		{"instance added", func(p *project) { edit(p, "lr = [1, 2]", "lr = [1, 2, 3]") }, planner.Options{}, "the configuration changed"},
		{"command changed", func(p *project) { edit(p, `["sh", "other.sh"]`, `["sh", "other2.sh"]`) }, planner.Options{},
			"experiment.other changed since it was made"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProject(t, map[string]string{"trainrun.hcl": selectionConfig, "src/x.sh": "x\n", "src/.gitignore": "*.log\n"})
			p.apply()
			edit(p, `["sh", "eval.sh"]`, `["sh", "eval.sh", "-v"]`) // something to do
			saved := p.plan(tt.opts)
			if !saved.Changes() {
				t.Fatal("the saved plan has nothing to do")
			}
			path := filepath.Join(t.TempDir(), "tr.plan")
			if err := planner.Save(path, p.load(), saved, tt.opts); err != nil {
				t.Fatal(err)
			}
			f, err := planner.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(p)
			// As apply does: plan again with the file's options.
			err = f.Check(p.plan(f.Options))
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, planner.ErrStale) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "run trainrun plan again") {
				t.Errorf("Check = %v, want ErrStale saying %q and what to do", err, tt.wantErr)
			}
		})
	}
}

// TestSavedPlanFile: the file is private, holds no sensitive value, and
// carries the variables and selection apply needs to plan again.
func TestSavedPlanFile(t *testing.T) {
	p := newProject(t, reasonsFiles())
	p.vars = []string{"lr=0.5", "secret=very-secret-value"}
	opts := planner.Options{Targets: []string{trainAddr}, Replace: []string{"experiment.prep"}, DataDir: p.dataDir()}
	pl := p.plan(opts)
	path := filepath.Join(t.TempDir(), "tr.plan")
	if err := planner.Save(path, p.load(), pl, opts); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode = %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "very-secret-value") {
		t.Error("the plan file holds a sensitive value")
	}
	if strings.Contains(string(b), p.dataDir()) {
		t.Error("the plan file holds the data directory, which apply sets itself")
	}
	f, err := planner.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Vars, []string{"lr=0.5"}) {
		t.Errorf("Vars = %q, want [lr=0.5]", f.Vars)
	}
	if !slices.Equal(f.Options.Targets, opts.Targets) || !slices.Equal(f.Options.Replace, opts.Replace) {
		t.Errorf("Options = %+v", f.Options)
	}

	// Without the secret, the plan made again differs: the check refuses
	// rather than apply something else.
	p.vars = append([]string{"secret=another"}, f.Vars...)
	if err := f.Check(p.plan(f.Options)); !errors.Is(err, planner.ErrStale) {
		t.Errorf("Check with another secret = %v, want ErrStale", err)
	}
	p.vars = append([]string{"secret=very-secret-value"}, f.Vars...)
	if err := f.Check(p.plan(f.Options)); err != nil {
		t.Errorf("Check with the same values = %v", err)
	}

	// The plan as it was made, for showing it.
	shown := f.Plan()
	if len(shown.Actions) != len(pl.Actions) || shown.Serial != pl.Serial {
		t.Fatalf("Plan() = %d actions at serial %d, want %d at %d", len(shown.Actions), shown.Serial, len(pl.Actions), pl.Serial)
	}
	for i, a := range pl.Actions {
		s := shown.Actions[i]
		if s.Address != a.Address || s.Action != a.Action || s.Fingerprint != a.Fingerprint || !slices.Equal(s.Reasons, a.Reasons) {
			t.Errorf("Plan() action %d = %+v, want %+v", i, *s, *a)
		}
	}
	if !maps.Equal(shown.Summary(), pl.Summary()) {
		t.Errorf("Plan().Summary() = %v, want %v", shown.Summary(), pl.Summary())
	}

	if _, err := planner.Read(p.path("trainrun.hcl")); err == nil || !strings.Contains(err.Error(), "not a trainrun plan file") {
		t.Errorf("Read of a configuration file = %v", err)
	}
	if _, err := planner.Read(p.path("nope")); err == nil {
		t.Error("Read of a missing file succeeded")
	}
}
