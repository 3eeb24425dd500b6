package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
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
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
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
	opts.Getenv, opts.Registry = c.getenv, registry()
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

// openState opens the recorded state for reading.
func (c *cli) openState() (state.Backend, error) {
	st, err := state.Open(c.dataDir())
	if err != nil {
		return nil, stateError(fmt.Errorf("open state: %w", err))
	}
	return st, nil
}

// lockState opens the state for writing: it creates .trainrun/ (0700) and
// takes the lock, naming who holds it when it cannot.
func (c *cli) lockState(command string) (state.Backend, error) {
	if err := c.ensureDataDir(); err != nil {
		return nil, err
	}
	st, err := c.openState()
	if err != nil {
		return nil, err
	}
	err = st.Lock(state.Holder{Command: command})
	// A holder killed a moment ago can hold the lock a few milliseconds
	// more (the kernel may release a dead process's flock after its parent
	// has reaped it, or a child it was starting holds it until exec): when
	// the holder named is gone, try again for a little while.
	for deadline := time.Now().Add(2 * time.Second); holderGone(err) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		err = st.Lock(state.Holder{Command: command})
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// holderGone reports whether err says the state is locked by a process of
// this host that no longer exists.
func holderGone(err error) bool {
	var locked *state.LockedError
	if !errors.As(err, &locked) || locked.Holder.PID <= 0 {
		return false
	}
	if host, _ := os.Hostname(); host == "" || host != locked.Holder.Host {
		return false
	}
	p, err := os.FindProcess(locked.Holder.PID)
	if err != nil {
		return false
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

func (c *cli) ensureDataDir() error {
	if err := os.MkdirAll(c.dataDir(), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", c.dataDir(), err)
	}
	return nil
}

func (c *cli) contentStore() (*snapshot.Store, error) {
	return snapshot.OpenStore(filepath.Join(c.dataDir(), "store"))
}

// planOptions are the planner's options for a selection.
func (c *cli) planOptions(s *arguments.Selection) planner.Options {
	return planner.Options{Targets: s.Targets, Excludes: s.Excludes, Replace: s.Replace, NoCache: s.NoCache, DataDir: c.dataDir()}
}
