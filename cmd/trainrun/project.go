package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/envs"
	"github.com/trainrun/trainrun/providers/local"
	"github.com/trainrun/trainrun/providers/slurm"
	"github.com/trainrun/trainrun/providers/ssh"
	"github.com/trainrun/trainrun/remote"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
	"github.com/trainrun/trainrun/state/pgstate"
)

// registry lists every compute and environment kind this build knows.
func registry() *providers.Registry {
	return &providers.Registry{
		Computes: map[string]providers.ComputeKind{
			"local": local.Kind(),
			"slurm": slurm.Kind(),
			"ssh":   ssh.Kind(),
		},
		Environments: envs.Kinds(),
	}
}

// dataDir is the project's .trainrun directory.
func (c *cli) dataDir() string { return filepath.Join(c.dir, ".trainrun") }

func (c *cli) providerEnv() providers.Env {
	store := sync.OnceValues(c.contentStore)
	// The content store's blob of hash, or "" when it lacks it.
	blob := func(hash string) string {
		s, err := store()
		if err != nil || !s.Has(hash) {
			return ""
		}
		return s.BlobPath(hash)
	}
	return providers.Env{Dir: c.dir, DataDir: c.dataDir(), Blob: blob}
}

// load reads the configuration, printing its diagnostics. It returns nil
// when there are errors.
func (c *cli) load(v *arguments.Vars) *lang.Config {
	var opts lang.Options
	if v != nil {
		opts.Vars, opts.VarFiles = v.Vars, v.Files
	}
	opts.Getenv, opts.LookupEnv, opts.Registry = c.getenv, c.lookupEnv, registry()
	cfg, diags := lang.Load(c.dir, opts)
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	if len(diags) > 0 {
		if files == nil {
			files = map[string]*hcl.File{}
		}
		_ = lang.WriteDiagnostics(c.stderr, files, diags, c.color)
	}
	if diags.HasErrors() {
		return nil
	}
	return cfg
}

// errConfig is the error of a command whose configuration has errors,
// already printed as diagnostics.
var errConfig = errors.New("the configuration has errors")

// sharedState opens the backend the trainrun block names, when it is not
// the local one (nil then).
func (c *cli) sharedState() (state.Backend, error) {
	b, files, diags := lang.LoadBackend(c.dir)
	if len(diags) > 0 {
		_ = lang.WriteDiagnostics(c.stderr, files, diags, c.color)
	}
	if diags.HasErrors() {
		return nil, errConfig
	}
	if b.Kind != "postgres" {
		return nil, nil
	}
	project := b.Project
	if project == "" {
		project = filepath.Base(c.dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := pgstate.Open(ctx, b.ConnStr, project)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// openState opens the recorded state for reading.
func (c *cli) openState() (state.Backend, error) {
	if st, err := c.sharedState(); st != nil || err != nil {
		return st, err
	}
	st, err := state.Open(c.dataDir())
	if err != nil {
		return nil, stateError(fmt.Errorf("open state: %w", err))
	}
	return st, nil
}

// writeState opens the state for a command that writes it in short
// transactions (apply, watch, cancel): each write waits for the lock at most
// timeout (-lock-timeout). It creates .trainrun/ (0700).
func (c *cli) writeState(timeout time.Duration) (state.Backend, error) {
	if err := c.ensureDataDir(); err != nil {
		return nil, err
	}
	if st, err := c.sharedState(); st != nil || err != nil {
		if err != nil {
			return nil, err
		}
		pg := st.(*pgstate.Backend)
		pg.SetLockTimeout(timeout)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := pg.Update(ctx, func(state.Tx) error { return nil }); err != nil {
			pg.Close()
			return nil, err
		}
		return pg, nil
	}
	st, err := state.Open(c.dataDir())
	if err != nil {
		return nil, stateError(fmt.Errorf("open state: %w", err))
	}
	st.SetLockTimeout(timeout)
	// An empty transaction: a lock held for longer than timeout (destroy
	// asking for confirmation) refuses the command before it does anything.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := st.Update(ctx, func(state.Tx) error { return nil }); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// lockState opens the state for a command that is its only writer while it
// runs (destroy, rerun): it creates .trainrun/ (0700) and takes the lock,
// waiting at most timeout (-lock-timeout) while another process holds it,
// and naming who holds it when it gives up.
func (c *cli) lockState(command string, timeout time.Duration) (state.Backend, error) {
	if err := c.ensureDataDir(); err != nil {
		return nil, err
	}
	st, err := c.openState()
	if err != nil {
		return nil, err
	}
	if err := state.LockWithin(context.Background(), st, state.Holder{Command: command}, timeout); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func (c *cli) ensureDataDir() error {
	if err := os.MkdirAll(c.dataDir(), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", c.dataDir(), err)
	}
	return nil
}

// contentStore opens the checkout's content store, with the remote the
// trainrun block names, if any: what the store lacks is fetched from it,
// and apply pushes each run's content to it.
func (c *cli) contentStore() (*snapshot.Store, error) {
	s, err := snapshot.OpenStore(filepath.Join(c.dataDir(), "store"))
	if err != nil {
		return nil, err
	}
	rb, files, diags := lang.LoadRemote(c.dir)
	if len(diags) > 0 {
		_ = lang.WriteDiagnostics(c.stderr, files, diags, c.color)
	}
	if diags.HasErrors() {
		return nil, errConfig
	}
	if rb != nil {
		r, err := remote.Open(rb, c.dir)
		if err != nil {
			return nil, err
		}
		s.SetRemote(r)
	}
	return s, nil
}

// planOptions are the planner's options for a selection.
func (c *cli) planOptions(s *arguments.Selection) planner.Options {
	o := planner.Options{Targets: s.Targets, Excludes: s.Excludes, Replace: s.Replace, NoCache: s.NoCache, DataDir: c.dataDir()}
	if rb, _, _ := lang.LoadRemote(c.dir); rb != nil {
		// The run cache looks on the remote too: the store must exist.
		if st, err := c.contentStore(); err == nil {
			o.Store = st
		}
	}
	return o
}
