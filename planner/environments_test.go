package planner_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// resolver answers with fixed specs by environment name, and counts.
type resolver struct {
	specs map[string]providers.EnvSpec
	err   error
	calls int
}

func (r *resolver) Spec(_ context.Context, env, compute string) (providers.EnvSpec, error) {
	r.calls++
	if r.err != nil {
		return providers.EnvSpec{}, r.err
	}
	return r.specs[env], nil
}

const envConfig = `
compute "local" "here" {}
compute "local" "there" {}
environment "venv" "sk" {
  requirements = ["numpy"]
}
environment "host" "sys" {}
experiment "a" {
  compute     = compute.here
  environment = environment.sk
  command     = ["true"]
  sweep {
    grid = { i = [1, 2] }
  }
}
experiment "b" {
  compute     = compute.there
  environment = environment.sk
  command     = ["true"]
}
experiment "c" {
  compute     = compute.here
  environment = environment.sys
  command     = ["true"]
}
`

func envActions(pl *planner.Plan) []string {
	var out []string
	for _, a := range pl.Environments {
		out = append(out, a.Address+"@"+a.Compute+" "+a.Action+": "+strings.Join(a.Reasons, "; "))
	}
	return out
}

func TestEnvironmentActions(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": envConfig})
	venv1 := providers.EnvSpec{Kind: "venv", ID: "venv-1", Builds: true, Requirements: []string{"numpy", "scikit-learn==1.2.1"}}
	host1 := providers.EnvSpec{Kind: "host", ID: "host-1", Attrs: map[string]string{"python": "/usr/bin/python3", "python_version": "cpython 3.11.2"}}
	res := &resolver{specs: map[string]providers.EnvSpec{"sk": venv1, "sys": host1}}
	recs, err := state.OpenEnvironments(p.dataDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := planner.Options{Environments: res, EnvironmentRecords: recs}

	// New: made on each compute that runs need it on, once; the host
	// environment has nothing to make.
	pl := p.plan(opts)
	want := []string{
		"environment.sk@here create: new",
		"environment.sk@there create: new",
		"environment.sys@here no-op: user-managed: nothing to build",
	}
	if got := envActions(pl); !slices.Equal(got, want) {
		t.Fatalf("environment actions\n%q\nwant\n%q", got, want)
	}
	if res.calls != 3 {
		t.Errorf("%d resolutions, want one per environment and compute", res.calls)
	}
	if s := pl.Summary(); s[planner.Create] != 2 || s[planner.Submit] != 4 || s[planner.NoOp] != 0 {
		t.Errorf("summary %v", s)
	}
	for _, a := range pl.Actions {
		if want := map[bool]string{true: "host:host-1", false: "venv:venv-1"}[a.Instance.Environment == "sys"]; a.Inputs.Environment != want {
			t.Errorf("%s hashes environment %q, want %q", a.Address, a.Inputs.Environment, want)
		}
	}

	// Made and run: nothing to do.
	prepare := func(spec providers.EnvSpec, computes ...string) {
		for _, c := range computes {
			if err := recs.Put(&state.Environment{Name: "sk", Compute: c, Spec: spec, Location: "/envs/" + spec.ID, Created: true, PreparedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	prepare(venv1, "here", "there")
	p.record(pl, providers.Succeeded, "")
	pl = p.plan(opts)
	if pl.Changes() || len(envActions(pl)) != 0 {
		t.Fatalf("after apply: changes %v, environments %q", pl.Changes(), envActions(pl))
	}

	// A changed requirement: configured again, and the runs that use it
	// run again, saying why.
	venv2 := venv1
	venv2.ID, venv2.Requirements = "venv-2", []string{"pandas", "scikit-learn==1.3.0"}
	res.specs["sk"] = venv2
	pl = p.plan(opts)
	want = []string{
		"environment.sk@here configure: requirements changed: -numpy, +pandas, scikit-learn 1.2.1 → 1.3.0",
		"environment.sk@there configure: requirements changed: -numpy, +pandas, scikit-learn 1.2.1 → 1.3.0",
	}
	if got := envActions(pl); !slices.Equal(got, want) {
		t.Fatalf("environment actions\n%q\nwant\n%q", got, want)
	}
	for _, a := range pl.Actions {
		switch {
		case a.Instance.Environment == "sk":
			if a.Action != planner.Submit || !slices.Contains(a.Reasons, "environment sk changed: requirements changed: -numpy, +pandas, scikit-learn 1.2.1 → 1.3.0") {
				t.Errorf("%s: %s %q", a.Address, a.Action, a.Reasons)
			}
		case a.Action != planner.NoOp:
			t.Errorf("%s: %s %q; its environment did not change", a.Address, a.Action, a.Reasons)
		}
	}
	// Back to the first spec, still built: the runs go back too, nothing
	// is built.
	res.specs["sk"] = venv1
	if pl = p.plan(opts); pl.Changes() {
		t.Errorf("the first environment is still there: %q, %v", envActions(pl), pl.Summary())
	}

	// A host environment whose interpreter changed re-runs its runs.
	host2 := host1
	host2.ID, host2.Attrs = "host-2", map[string]string{"python": "/usr/bin/python3", "python_version": "cpython 3.11.7"}
	res.specs["sys"] = host2
	pl = p.plan(opts)
	for _, a := range pl.Actions {
		if (a.Action == planner.Submit) != (a.Instance.Environment == "sys") {
			t.Errorf("%s: %s %q", a.Address, a.Action, a.Reasons)
		}
	}

	// Destroyed: nothing to do while the runs are up to date; made again
	// for the next run that needs it.
	res.specs["sys"] = host1
	rec := recs.Find("there", "venv-1", "")
	rec.Removed = true
	if err := recs.Put(rec); err != nil {
		t.Fatal(err)
	}
	if pl := p.plan(opts); pl.Changes() {
		t.Errorf("after destroy: %q", envActions(pl))
	}
	opts.Replace = []string{"experiment.a", "experiment.b"}
	want = []string{"environment.sk@here no-op: up to date", "environment.sk@there create: removed by destroy; made again"}
	if got := envActions(p.plan(opts)); !slices.Equal(got, want) {
		t.Errorf("after destroy: %q", got)
	}

	// -target: only the environments of what is selected.
	opts.Targets = []string{"experiment.b"}
	if got := envActions(p.plan(opts)); len(got) != 1 || !strings.HasPrefix(got[0], "environment.sk@there") {
		t.Errorf("-target experiment.b: %q", got)
	}
}

func TestEnvironmentResolveError(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": envConfig})
	_, err := p.build(planner.Options{Environments: &resolver{err: errors.New("python3 is not installed")}})
	if err == nil || !strings.Contains(err.Error(), "on compute.") || !strings.Contains(err.Error(), "python3 is not installed") {
		t.Fatalf("error %v", err)
	}
}

func TestSavedPlanEnvironments(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": envConfig})
	res := &resolver{specs: map[string]providers.EnvSpec{
		"sk":  {Kind: "venv", ID: "venv-1", Builds: true},
		"sys": {Kind: "host", ID: "host-1"},
	}}
	opts := planner.Options{Environments: res}
	pl := p.plan(opts)
	file := filepath.Join(t.TempDir(), "plan")
	if err := planner.Save(file, p.load(), pl, opts); err != nil {
		t.Fatal(err)
	}
	saved, err := planner.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.Check(p.plan(opts)); err != nil {
		t.Fatalf("unchanged: %v", err)
	}
	res.specs["sk"] = providers.EnvSpec{Kind: "venv", ID: "venv-2", Builds: true}
	if err := saved.Check(p.plan(opts)); !errors.Is(err, planner.ErrStale) {
		t.Fatalf("changed environment: %v", err)
	}
}
