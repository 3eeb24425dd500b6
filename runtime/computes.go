package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/sourcegraph/conc"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
)

// Computes opens the configuration's computes on first use and keeps them
// open for the rest of the command.
type Computes struct {
	// The configuration, loaded by load on first use when load is set;
	// nil: then only handles' kinds are known.
	cfgOnce sync.Once
	load    func() *lang.Config
	cfg     *lang.Config
	reg     *providers.Registry
	env     providers.Env

	mu   sync.Mutex
	open map[string]providers.Compute
}

// NewComputes returns the computes of cfg (nil when the configuration
// could not be loaded: runs are then reached through their handles).
func NewComputes(cfg *lang.Config, reg *providers.Registry, env providers.Env) *Computes {
	c := &Computes{cfg: cfg, reg: reg, env: env, open: make(map[string]providers.Compute)}
	if c.env.OpenCompute == nil {
		c.env.OpenCompute = c.Get // a Slurm login node reached through another compute
	}
	return c
}

// NewComputesLoading is NewComputes with the configuration loaded by load
// when a compute is first asked for: a command that may reach none (show
// of a run that has ended) does not pay for loading a large sweep's
// configuration.
func NewComputesLoading(load func() *lang.Config, reg *providers.Registry, env providers.Env) *Computes {
	c := NewComputes(nil, reg, env)
	c.load = load
	return c
}

// config returns the configuration, loading it the first time.
func (c *Computes) config() *lang.Config {
	c.cfgOnce.Do(func() {
		if c.load != nil {
			c.cfg = c.load()
		}
	})
	return c.cfg
}

// Get returns the compute named name in the configuration.
func (c *Computes) Get(name string) (providers.Compute, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if comp, ok := c.open[name]; ok {
		return comp, nil
	}
	cfg := c.config()
	if cfg == nil || cfg.Computes[name] == nil {
		return nil, fmt.Errorf("compute %q is not in the configuration", name)
	}
	b := cfg.Computes[name]
	return c.openLocked(name, b.Kind, b.Values)
}

// ForHandle returns the compute a recorded run lives on. A compute that has
// left the configuration is opened with its kind's defaults, so that its
// runs can still be followed, cancelled and cleaned up.
func (c *Computes) ForHandle(h *providers.Handle) (providers.Compute, error) {
	if h == nil {
		return nil, fmt.Errorf("the run was never submitted")
	}
	if cfg := c.config(); cfg != nil {
		if b := cfg.Computes[h.Compute]; b != nil && b.Kind == h.Kind {
			return c.Get(h.Compute)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := h.Kind + ":" + h.Compute
	if comp, ok := c.open[key]; ok {
		return comp, nil
	}
	comp, err := c.openLocked(key, h.Kind, providers.Values{})
	if err != nil {
		return nil, fmt.Errorf("compute %s (no longer configured): %w", h.Compute, err)
	}
	return comp, nil
}

func (c *Computes) openLocked(key, kind string, v providers.Values) (providers.Compute, error) {
	k := c.reg.Computes[kind]
	if k == nil {
		return nil, fmt.Errorf("unknown compute kind %q", kind)
	}
	name := key
	if i := len(kind) + 1; len(key) > i && key[:i] == kind+":" {
		name = key[i:]
	}
	comp, err := k.Open(name, v, c.env)
	if err != nil {
		return nil, fmt.Errorf("open compute %s: %w", name, err)
	}
	c.open[key] = comp
	return comp, nil
}

// Close closes every opened compute.
func (c *Computes) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for _, comp := range c.open {
		if err := comp.Close(); err != nil && first == nil {
			first = err
		}
	}
	c.open = map[string]providers.Compute{}
	return first
}

// Warm gets the named computes ready in the background (an SSH compute
// dials its machines: a tenth of a second that planning or storing
// snapshots can hide); wait for it before Close. Cancelling ctx stops it.
func (c *Computes) Warm(ctx context.Context, names []string) *conc.WaitGroup {
	var wg conc.WaitGroup
	seen := make(map[string]bool)
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		comp, err := c.Get(name)
		if w, ok := comp.(providers.Warmer); ok && err == nil {
			wg.Go(func() { w.Warm(ctx) })
		}
	}
	return &wg
}

// Ping asks each compute p submits runs to and that depends on a service
// that may be down (providers.Pinger: a Slurm controller) whether it
// answers, all at once. The error names each compute that does not.
func (c *Computes) Ping(ctx context.Context, p *planner.Plan) error {
	seen := map[string]bool{}
	var names []string
	for _, a := range p.Actions {
		if (a.Action == planner.Submit || a.Action == planner.Pending) && a.Instance != nil && !seen[a.Instance.Compute] {
			seen[a.Instance.Compute] = true
			names = append(names, a.Instance.Compute)
		}
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	var wg conc.WaitGroup
	for i, name := range names {
		comp, err := c.Get(name)
		if err != nil {
			continue // said where it is used
		}
		if pg, ok := comp.(providers.Pinger); ok {
			wg.Go(func() { errs[i] = pg.Ping(ctx) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: nothing was submitted", err)
	}
	return nil
}
