package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/envs"
	"github.com/trainrun/trainrun/providers/local"
	"github.com/trainrun/trainrun/providers/runner"
	"github.com/trainrun/trainrun/state"
)

// countingKind is the local compute kind whose computes count how often
// their machine is asked for (for ssh, that connects).
type countingKind struct {
	providers.ComputeKind
	asked *atomic.Int32
}

func (k countingKind) Open(name string, v providers.Values, env providers.Env) (providers.Compute, error) {
	c, err := k.ComputeKind.Open(name, v, env)
	if err != nil {
		return nil, err
	}
	return countingCompute{c.(*runner.Compute), k.asked}, nil
}

type countingCompute struct {
	*runner.Compute
	asked *atomic.Int32
}

func (c countingCompute) EnvironmentMachine(ctx context.Context) (providers.Machine, string) {
	c.asked.Add(1)
	return c.Compute.EnvironmentMachine(ctx)
}

// TestSpecContactsOnlyWhenNeeded: a venv's spec is its declaration, read
// here; a host environment's is looked at on the compute.
func TestSpecContactsOnlyWhenNeeded(t *testing.T) {
	dir := t.TempDir()
	config := `
compute "local" "here" {}
environment "venv" "v" {
  requirements = ["numpy"]
}
environment "host" "h" {
  python = "/bin/sh"
}
`
	if err := os.WriteFile(filepath.Join(dir, "trainrun.hcl"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	asked := new(atomic.Int32)
	reg := &providers.Registry{
		Computes:     map[string]providers.ComputeKind{"local": countingKind{local.Kind(), asked}},
		Environments: envs.Kinds(),
	}
	cfg, diags := lang.Load(dir, lang.Options{Registry: reg, Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	env := providers.Env{Dir: dir, DataDir: filepath.Join(dir, ".trainrun")}
	comps := NewComputes(cfg, reg, env)
	defer comps.Close()
	recs, err := state.OpenEnvironments(env.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEnvironments(cfg, reg, env, comps, recs)
	ctx := context.Background()
	if s, err := e.Spec(ctx, "v", "here"); err != nil || s.Kind != "venv" {
		t.Fatalf("venv spec %+v, %v", s, err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("a venv's spec asked for the machine %d times", n)
	}
	// /bin/sh is no python: the host environment says what it found.
	if _, err := e.Spec(ctx, "h", "here"); err == nil {
		t.Error("sh taken for a python")
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("a host environment's spec asked for the machine %d times, want once", n)
	}
	// Offline (plan -refresh=false), a host environment never recorded is
	// an error that says so, and nothing is asked.
	e = NewEnvironments(cfg, reg, env, comps, recs)
	e.Offline = true
	if _, err := e.Spec(ctx, "h", "here"); err == nil {
		t.Error("offline: no error")
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("offline: the machine was asked for")
	}
}

// TestSpecRedactsSecrets: a token in pip_args is neither shown nor
// recorded, yet a new token makes a new environment.
func TestSpecRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	config := `
variable "token" {
  sensitive = true
}
compute "local" "here" {}
environment "venv" "v" {
  requirements = ["numpy"]
  pip_args     = ["--index-url", "https://ci:${var.token}@pypi.example.org/simple"]
}
`
	if err := os.WriteFile(filepath.Join(dir, "trainrun.hcl"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := &providers.Registry{Computes: map[string]providers.ComputeKind{"local": local.Kind()}, Environments: envs.Kinds()}
	spec := func(token string) providers.EnvSpec {
		cfg, diags := lang.Load(dir, lang.Options{Registry: reg, Getenv: func(k string) string {
			if k == "TRAINRUN_VAR_token" {
				return token
			}
			return ""
		}})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		env := providers.Env{Dir: dir, DataDir: filepath.Join(dir, ".trainrun")}
		comps := NewComputes(cfg, reg, env)
		defer comps.Close()
		s, err := NewEnvironments(cfg, reg, env, comps, nil).Spec(context.Background(), "v", "here")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := spec("s3cr3t-a"), spec("s3cr3t-b")
	if got := a.Attrs["pip_args"]; strings.Contains(got, "s3cr3t") || !strings.Contains(got, "(sensitive)") {
		t.Errorf("pip_args shown as %s", got)
	}
	if a.ID == b.ID {
		t.Error("a new token did not make a new environment")
	}
}
