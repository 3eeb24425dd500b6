package planner_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/envs"
	"github.com/trainrun/trainrun/providers/local"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// registry has the real local compute kind and the real environment kinds.
func registry() *providers.Registry {
	return &providers.Registry{
		Computes:     map[string]providers.ComputeKind{"local": local.Kind()},
		Environments: envs.Kinds(),
	}
}

// project is a working directory with a configuration, its recorded state
// under .trainrun/, and the variable values and environment a command
// would be given.
type project struct {
	t    testing.TB
	dir  string
	vars []string
	env  map[string]string
	// now orders recorded runs: Latest picks the newest by CreatedAt.
	now time.Time
	// outputs is the outputs hash record gives the runs of an address;
	// planner.EmptyOutputs when it has none.
	outputs map[string]string
}

func newProject(t testing.TB, files map[string]string) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir(), env: map[string]string{}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), outputs: map[string]string{}}
	for name, content := range files {
		p.write(name, content)
	}
	return p
}

func (p *project) path(name string) string { return filepath.Join(p.dir, filepath.FromSlash(name)) }

func (p *project) dataDir() string { return p.path(".trainrun") }

// write writes name (0644), creating its directory.
func (p *project) write(name, content string) {
	p.t.Helper()
	path := p.path(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *project) options() lang.Options {
	return lang.Options{
		Vars:     p.vars,
		Getenv:   func(k string) string { return p.env[k] },
		Registry: registry(),
	}
}

// load loads the configuration and fails the test on any error.
func (p *project) load() *lang.Config {
	p.t.Helper()
	cfg, diags := lang.Load(p.dir, p.options())
	if diags.HasErrors() {
		var b bytes.Buffer
		_ = lang.WriteDiagnostics(&b, cfg.Files, diags, false)
		p.t.Fatalf("load %s:\n%s", p.dir, b.String())
	}
	return cfg
}

// open opens the recorded state for reading, as plan does.
func (p *project) open() *state.Store {
	p.t.Helper()
	st, err := state.Open(p.dataDir())
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { st.Close() })
	return st
}

// plan loads the configuration and plans it against the recorded state.
func (p *project) plan(opts planner.Options) *planner.Plan {
	p.t.Helper()
	pl, err := p.build(opts)
	if err != nil {
		p.t.Fatalf("Build: %v", err)
	}
	return pl
}

func (p *project) build(opts planner.Options) (*planner.Plan, error) {
	p.t.Helper()
	cfg := p.load()
	if opts.DataDir == "" {
		opts.DataDir = p.dataDir()
	}
	return planner.Build(p.t.Context(), cfg, p.open(), opts)
}

// record does what apply records for each action of pl that changes
// something, every run ending with status (and reason): a new run for a
// submit, the prior run with new settings for an update. Actions waiting
// for upstream outputs are resolved first, as apply does, with the outputs
// of p.outputs. It also keeps the source manifests, as apply does, so that
// later plans can name changed files.
func (p *project) record(pl *planner.Plan, status providers.State, reason string) {
	p.t.Helper()
	st, err := state.Open(p.dataDir())
	if err != nil {
		p.t.Fatal(err)
	}
	defer st.Close()
	if err := st.Lock(state.Holder{Command: "test"}); err != nil {
		p.t.Fatal(err)
	}
	defer st.Unlock()
	store, err := snapshot.OpenStore(filepath.Join(p.dataDir(), "store"))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, m := range pl.Snapshots {
		if err := store.PutManifest(m); err != nil {
			p.t.Fatal(err)
		}
	}
	var runs []*state.Run
	latest := map[string]*state.Run{}
	for _, a := range pl.Actions {
		if len(a.Pending) > 0 {
			if status != providers.Succeeded {
				continue // apply skips what waits for a failed upstream
			}
			err := a.Resolve(func(addr string) (string, error) {
				if r := latest[addr]; r != nil {
					return planner.OutputsHash(r), nil
				}
				return planner.OutputsHash(st.Latest(addr)), nil
			})
			if err != nil {
				p.t.Fatal(err)
			}
		}
		switch a.Action {
		case planner.Submit:
			p.now = p.now.Add(time.Second)
			started, finished := p.now, p.now.Add(time.Millisecond)
			r := &state.Run{
				ID:          state.NewRunID(),
				Address:     a.Address,
				Experiment:  a.Instance.Experiment,
				Fingerprint: a.Fingerprint,
				Inputs:      a.Inputs,
				Compute:     a.Instance.Compute,
				Environment: a.Instance.Environment,
				Params:      a.Inputs.Params,
				Settings:    a.Settings,
				Status:      status,
				Reason:      reason,
				Attempts:    1,
				CreatedAt:   p.now,
				StartedAt:   &started,
			}
			if status == providers.Succeeded {
				r.Outputs = p.outputs[a.Address]
				if r.Outputs == "" {
					r.Outputs = planner.EmptyOutputs
				}
			}
			if status.Done() {
				r.FinishedAt = &finished
				code := 0
				if status == providers.Failed {
					code = 3
				}
				r.ExitCode = &code
			}
			runs = append(runs, r)
			latest[a.Address] = r
		case planner.Restore:
			src, err := st.Get(a.CachedFrom)
			if err != nil {
				p.t.Fatalf("%s: restore from %s, which is not recorded", a.Address, a.CachedFrom)
			}
			p.now = p.now.Add(time.Second)
			r := &state.Run{
				ID: state.NewRunID(), Address: a.Address, Experiment: a.Instance.Experiment,
				Fingerprint: a.Fingerprint, Inputs: a.Inputs, Compute: a.Instance.Compute,
				Params: a.Inputs.Params, Settings: a.Settings, Status: providers.Succeeded,
				CreatedAt: p.now, Outputs: src.Outputs, CachedFrom: src.ID,
			}
			runs = append(runs, r)
			latest[a.Address] = r
		case planner.Update:
			r := a.Prior.Clone()
			r.Settings = a.Settings
			runs = append(runs, r)
			latest[a.Address] = r
		}
	}
	if err := st.Put(runs...); err != nil {
		p.t.Fatal(err)
	}
}

// apply plans and records every change as succeeded: the state after a
// successful apply.
func (p *project) apply() *planner.Plan {
	p.t.Helper()
	pl := p.plan(planner.Options{})
	p.record(pl, providers.Succeeded, "")
	return pl
}

// action returns the action for addr, failing when there is none.
func action(t testing.TB, pl *planner.Plan, addr string) *planner.Action {
	t.Helper()
	for _, a := range pl.Actions {
		if a.Address == addr {
			return a
		}
	}
	var have []string
	for _, a := range pl.Actions {
		have = append(have, a.Address)
	}
	t.Fatalf("no action for %s; the plan has %q", addr, have)
	return nil
}

// addresses lists the plan's action addresses in order.
func addresses(pl *planner.Plan) []string {
	out := make([]string, 0, len(pl.Actions))
	for _, a := range pl.Actions {
		out = append(out, a.Address)
	}
	return out
}
