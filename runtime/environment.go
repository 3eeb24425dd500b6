package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// PathPrependVar names directories that the compute puts first on the
// run's PATH (it owns PATH, which differs from one machine to another).
const PathPrependVar = providers.PathPrependVar

// Events of environments, emitted by an apply before the runs that use
// them start. Address is environment.NAME, Compute where it is made.
const (
	EnvPreparing EventType = "environment_preparing" // Message: "building", "checking"
	EnvReady     EventType = "environment_ready"     // Message: what was done ("built in 4.2s", "up to date")
	EnvFailed    EventType = "environment_failed"    // Reason: the build tool's own error
)

// envKey is one environment on one compute.
type envKey struct{ env, compute string }

// Environments makes the configuration's environments ready on computes.
// It resolves what they are for the planner (planner.EnvironmentResolver),
// prepares each one once per compute for the runs of an apply (runs that
// need one wait for it; other trainrun processes are kept apart by a lock
// on the compute), and records what it prepared. Its methods may be called
// from several goroutines at once.
type Environments struct {
	cfg   *lang.Config
	reg   *providers.Registry
	env   providers.Env
	comps *Computes
	recs  state.EnvironmentRecords
	// Offline asks no compute (plan -refresh=false): an environment whose
	// kind must look at the compute (host) is taken as last recorded.
	Offline bool

	mu       sync.Mutex
	opened   map[string]providers.Environment
	specs    map[envKey]providers.EnvSpec
	prepared map[envKey]*preparation
}

// preparation is one environment made ready on one compute, or being made.
type preparation struct {
	done     chan struct{}
	p        *providers.Prepared
	spec     providers.EnvSpec
	lockHash string
	err      error
}

var _ planner.EnvironmentResolver = (*Environments)(nil)

// NewEnvironments returns the environments of cfg, prepared on comps and
// recorded in recs.
func NewEnvironments(cfg *lang.Config, reg *providers.Registry, env providers.Env, comps *Computes, recs state.EnvironmentRecords) *Environments {
	return &Environments{cfg: cfg, reg: reg, env: env, comps: comps, recs: recs,
		opened: map[string]providers.Environment{}, specs: map[envKey]providers.EnvSpec{}, prepared: map[envKey]*preparation{}}
}

// Records are the environments recorded as prepared.
func (e *Environments) Records() state.EnvironmentRecords { return e.recs }

// open returns the environment block name, opened with its kind.
func (e *Environments) open(name string) (providers.Environment, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if env, ok := e.opened[name]; ok {
		return env, nil
	}
	var b *lang.Block
	if e.cfg != nil {
		b = e.cfg.Environments[name]
	}
	if b == nil {
		return nil, fmt.Errorf("environment %q is not in the configuration", name)
	}
	kind := e.reg.Environments[b.Kind]
	if kind == nil {
		return nil, fmt.Errorf("unknown environment kind %q", b.Kind)
	}
	env, err := kind.Open(name, b.Values, e.env)
	if err != nil {
		return nil, err
	}
	e.opened[name] = env
	return env, nil
}

// machine returns the machine of compute and where environments live on
// it.
func (e *Environments) machine(ctx context.Context, compute string) (providers.Machine, string, error) {
	comp, err := e.comps.Get(compute)
	if err != nil {
		return nil, "", err
	}
	return machineOf(ctx, comp, compute)
}

func machineOf(ctx context.Context, comp providers.Compute, name string) (providers.Machine, string, error) {
	host, ok := comp.(providers.EnvironmentHost)
	if !ok {
		return nil, "", fmt.Errorf("compute %s cannot hold environments", name)
	}
	m, dir := host.EnvironmentMachine(ctx)
	return m, dir, nil
}

// lazyMachine opens its machine on first use. Opening stops with the
// context of the call that opens it; a call stopped so leaves it to the
// next.
type lazyMachine struct {
	get  func(context.Context) (providers.Machine, error)
	mu   sync.Mutex
	done bool
	m    providers.Machine
	err  error
}

func (l *lazyMachine) machine(ctx context.Context) (providers.Machine, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.m, l.err = l.get(ctx)
		l.done = ctx.Err() == nil
		if !l.done && l.err == nil {
			l.err = ctx.Err()
		}
	}
	return l.m, l.err
}

func (l *lazyMachine) Run(ctx context.Context, argv []string, stdin io.Reader) ([]byte, error) {
	m, err := l.machine(ctx)
	if err != nil {
		return nil, err
	}
	return m.Run(ctx, argv, stdin)
}

func (l *lazyMachine) ReadFile(ctx context.Context, path string) ([]byte, error) {
	m, err := l.machine(ctx)
	if err != nil {
		return nil, err
	}
	return m.ReadFile(ctx, path)
}

func (l *lazyMachine) WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	m, err := l.machine(ctx)
	if err != nil {
		return err
	}
	return m.WriteFile(ctx, path, data, mode)
}

func (l *lazyMachine) Mkdir(ctx context.Context, path string, mode os.FileMode) error {
	m, err := l.machine(ctx)
	if err != nil {
		return err
	}
	return m.Mkdir(ctx, path, mode)
}

func (l *lazyMachine) RemoveAll(ctx context.Context, path string) error {
	m, err := l.machine(ctx)
	if err != nil {
		return err
	}
	return m.RemoveAll(ctx, path)
}

func (l *lazyMachine) Put(ctx context.Context, dir string, files []providers.File) error {
	m, err := l.machine(ctx)
	if err != nil {
		return err
	}
	return m.Put(ctx, dir, files)
}

// specTimeout bounds asking a compute what an environment is there.
const specTimeout = 2 * time.Minute

// Spec says what environment name is on compute. A compute that cannot hold
// environments is not contacted: kinds that need to look (host) say so.
func (e *Environments) Spec(ctx context.Context, name, compute string) (providers.EnvSpec, error) {
	env, err := e.open(name)
	if err != nil {
		return providers.EnvSpec{}, err
	}
	var m providers.Machine
	if !e.Offline {
		// Reached only if the kind looks (host): a venv's spec costs no
		// connection.
		m = &lazyMachine{get: func(ctx context.Context) (providers.Machine, error) {
			m, _, err := e.machine(ctx, compute)
			return m, err
		}}
	}
	ctx, cancel := context.WithTimeout(ctx, specTimeout)
	defer cancel()
	spec, err := env.Spec(ctx, m)
	if err != nil && e.Offline && e.recs != nil {
		if last := e.recs.Last(name, compute); last != nil {
			return last.Spec, nil
		}
		return providers.EnvSpec{}, fmt.Errorf("%w; with -refresh=false it is taken as last recorded, and it was never recorded", err)
	}
	if err != nil {
		return providers.EnvSpec{}, errors.New(e.redact(err.Error()))
	}
	spec = e.redactSpec(spec)
	e.mu.Lock()
	e.specs[envKey{name, compute}] = spec
	e.mu.Unlock()
	return spec, nil
}

// redact replaces the configuration's secrets in s: a requirement or
// pip_args may hold a token, and specs are printed in plans and recorded.
func (e *Environments) redact(s string) string {
	if e.cfg == nil {
		return s
	}
	return lang.Redact(s, e.cfg.Secrets)
}

// redactSpec redacts what a spec shows. Its ID, a hash of the clear
// values, stays: a changed secret still rebuilds.
func (e *Environments) redactSpec(s providers.EnvSpec) providers.EnvSpec {
	if e.cfg == nil || len(e.cfg.Secrets) == 0 {
		return s
	}
	reqs := make([]string, len(s.Requirements))
	for i, r := range s.Requirements {
		reqs[i] = e.redact(r)
	}
	s.Requirements = reqs
	attrs := make(map[string]string, len(s.Attrs))
	for k, v := range s.Attrs {
		attrs[k] = e.redact(v)
	}
	s.Attrs = attrs
	return s
}

// startEnvironments makes the plan's specs the ones prepared, so that runs
// get what their fingerprints hash, and starts preparing the environments
// the plan creates or configures, ahead of the runs that wait for them. The
// function it returns waits for those preparations. Closing stop (the first
// Ctrl-C: start nothing more) stops them too: a build is not a run, and a
// later apply starts it again.
func (r *Runtime) startEnvironments(ctx context.Context, p *planner.Plan, stop <-chan struct{}) (wait func()) {
	e := r.environments()
	if e == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	e.mu.Lock()
	for _, a := range p.Environments {
		e.specs[envKey{a.Name, a.Compute}] = a.Spec
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range p.Environments {
		if a.Action == planner.NoOp {
			continue
		}
		// Claimed now, so that the runs that need it wait for it
		// (awaitEnvironment) before they take a slot.
		if pr, leader := e.claim(a.Name, a.Compute); leader {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.build(ctx, a.Name, a.Compute, pr, true, r.emit)
			}()
		}
	}
	return func() {
		wg.Wait()
		cancel()
	}
}

// awaitsEnvironment reports whether inst's environment is being made on its
// compute: its run waits for it before it takes a slot.
func (r *Runtime) awaitsEnvironment(inst *lang.Instance) bool {
	return inst.Environment != "" && r.Environments != nil && r.Environments.preparing(inst.Environment, inst.Compute) != nil
}

// awaitEnvironment waits until inst's environment is made (or failed), so
// that a run does not hold a slot while its environment builds. Stopping
// the apply stops the wait.
func (r *Runtime) awaitEnvironment(ctx context.Context, stop <-chan struct{}, inst *lang.Instance) {
	if inst.Environment == "" || r.Environments == nil {
		return
	}
	if pr := r.Environments.preparing(inst.Environment, inst.Compute); pr != nil {
		select {
		case <-pr.done:
		case <-stop:
		case <-ctx.Done():
		}
	}
}

// prepare makes environment name ready on compute, once: later and
// concurrent callers get the same result.
func (e *Environments) prepare(ctx context.Context, name, compute string, emit func(Event)) *preparation {
	pr, leader := e.claim(name, compute)
	if leader {
		e.build(ctx, name, compute, pr, false, emit)
		return pr
	}
	select {
	case <-pr.done:
		return pr
	case <-ctx.Done():
		return &preparation{err: ctx.Err()}
	}
}

// claim returns the preparation of environment name on compute, and
// whether the caller is the one to carry it out (it was not claimed yet).
func (e *Environments) claim(name, compute string) (*preparation, bool) {
	k := envKey{name, compute}
	e.mu.Lock()
	defer e.mu.Unlock()
	if pr, ok := e.prepared[k]; ok {
		return pr, false
	}
	pr := &preparation{done: make(chan struct{})}
	e.prepared[k] = pr
	return pr, true
}

// preparing returns the preparation of environment name on compute when
// one was claimed and is not done yet, else nil.
func (e *Environments) preparing(name, compute string) *preparation {
	e.mu.Lock()
	pr := e.prepared[envKey{name, compute}]
	e.mu.Unlock()
	if pr == nil || isClosed(pr.done) {
		return nil
	}
	return pr
}

// build carries out a claimed preparation. planned says the plan makes the
// environment: it is announced; one expected to be there already is
// announced only when it was built after all (it had gone missing).
func (e *Environments) build(ctx context.Context, name, compute string, pr *preparation, planned bool, emit func(Event)) {
	defer close(pr.done)
	e.mu.Lock()
	spec, known := e.specs[envKey{name, compute}]
	e.mu.Unlock()

	addr := "environment." + name
	fail := func(err error) {
		pr.err = errors.New(e.redact(err.Error())) // a build tool may print a token
		emit(Event{Type: EnvFailed, Address: addr, Compute: compute, Reason: pr.err.Error()})
	}
	if !known {
		var err error
		if spec, err = e.Spec(ctx, name, compute); err != nil {
			fail(err)
			return
		}
	}
	env, err := e.open(name)
	if err != nil {
		fail(err)
		return
	}
	m, dir, err := e.machine(ctx, compute)
	if err != nil {
		fail(err)
		return
	}
	start := time.Now()
	if spec.Builds && planned {
		emit(Event{Type: EnvPreparing, Address: addr, Compute: compute, Message: "preparing " + spec.ID})
	}
	p, err := env.Prepare(ctx, m, dir, spec)
	if err != nil {
		fail(err)
		return
	}
	pr.p, pr.spec = p, spec
	if err := e.record(name, compute, spec, pr); err != nil {
		fail(err)
		return
	}
	switch {
	case p.Built && !planned:
		emit(Event{Type: EnvReady, Address: addr, Compute: compute,
			Message: "it was missing: built again in " + time.Since(start).Round(100*time.Millisecond).String()})
	case p.Built:
		emit(Event{Type: EnvReady, Address: addr, Compute: compute, Message: "built in " + time.Since(start).Round(100*time.Millisecond).String()})
	case spec.Builds && planned:
		emit(Event{Type: EnvReady, Address: addr, Compute: compute, Message: "up to date"})
	}
}

// record keeps the environment's lock and a record of where it is, when
// something changed.
func (e *Environments) record(name, compute string, spec providers.EnvSpec, pr *preparation) error {
	if e.recs == nil {
		return nil
	}
	p := pr.p
	if p.Lock != "" {
		h, err := e.recs.PutLock(e.redact(p.Lock))
		if err != nil {
			return err
		}
		pr.lockHash = h
	}
	old := e.recs.Find(compute, spec.ID, p.Location)
	if old != nil && !old.Removed && !p.Built && old.Lock == pr.lockHash && old.Digest == p.Digest {
		return nil // as recorded: a cached environment costs no write
	}
	kind := ""
	if b := e.cfg.Computes[compute]; b != nil {
		kind = b.Kind
	}
	return e.recs.Put(&state.Environment{
		Name: name, Compute: compute, ComputeKind: kind, Spec: spec, Location: p.Location,
		Lock: pr.lockHash, Digest: p.Digest, Created: p.Created, PreparedAt: time.Now().UTC(),
	})
}

// environments returns r.Environments, made on first use over r.Computes
// and the records in r.DataDir when the caller gave none; nil when there
// are no computes to prepare them on.
func (r *Runtime) environments() *Environments {
	r.envOnce.Do(func() {
		if r.Environments != nil || r.Computes == nil || r.Computes.reg == nil {
			return
		}
		recs, err := r.State.Environments()
		if err != nil {
			r.emit(Event{Type: Warning, Message: err.Error() + "; environments are prepared but not recorded"})
			recs = nil
		}
		r.Environments = NewEnvironments(r.Config, r.Computes.reg, r.Computes.env, r.Computes, recs)
	})
	return r.Environments
}

// useEnvironment prepares the run's environment on its compute (once per
// apply) and gives the run what it needs of it: variables (the run's own
// env wins), PATH entries, a launcher, and the record of what it was.
func (r *Runtime) useEnvironment(ctx context.Context, run *state.Run, inst *lang.Instance, spec *providers.RunSpec) error {
	if inst.Environment == "" {
		return nil
	}
	if r.environments() == nil {
		hostEnv(r.Config, inst, spec.Env)
		return nil
	}
	pr := r.Environments.prepare(ctx, inst.Environment, inst.Compute, r.emit)
	if pr.err != nil {
		return fmt.Errorf("environment %s on compute %s: %w", inst.Environment, inst.Compute, pr.err)
	}
	for k, v := range pr.p.Env {
		if k == PathPrependVar {
			if mine := spec.Env[k]; mine != "" {
				v = mine + ":" + v
			}
			spec.Env[k] = v
			continue
		}
		if _, set := inst.Env[k]; !set {
			spec.Env[k] = v
		}
	}
	spec.Launcher = pr.p.Launcher
	run.Env = &state.RunEnvironment{ID: pr.spec.ID, Location: pr.p.Location, Lock: pr.lockHash, Digest: pr.p.Digest}
	return nil
}

// hostEnv gives a run its host environment's interpreter as declared,
// where no Environments value resolves it.
func hostEnv(cfg *lang.Config, inst *lang.Instance, env map[string]string) {
	b := cfg.Environments[inst.Environment]
	if b == nil || b.Kind != "host" {
		return
	}
	if py, ok := b.Values["python"]; ok && !py.IsNull() && py.Type() == cty.String {
		env["TRAINRUN_PYTHON"] = py.AsString()
		if filepath.IsAbs(py.AsString()) {
			env[PathPrependVar] = filepath.Dir(py.AsString())
		}
	}
}

// EnvironmentTargets lists what destroy removes: the environments trainrun
// created that are still there, except those live runs use (returned
// apart).
func (r *Runtime) EnvironmentTargets() (targets, inUse []*state.Environment) {
	if r.environments() == nil || r.Environments.recs == nil {
		return nil, nil
	}
	used := map[[2]string]bool{}
	for _, run := range r.State.Live() {
		if run.Env != nil {
			used[[2]string{run.Compute, run.Env.ID}] = true
		}
	}
	for _, rec := range r.Environments.recs.All() {
		switch {
		case !rec.Created || rec.Removed:
		case used[[2]string{rec.Compute, rec.Spec.ID}]:
			inUse = append(inUse, rec)
		default:
			targets = append(targets, rec)
		}
	}
	return targets, inUse
}

// DestroyEnvironments removes environments from their computes (even
// computes and environments no longer configured) and records that they
// are gone. It returns how many it removed.
func (r *Runtime) DestroyEnvironments(ctx context.Context, recs []*state.Environment) (int, error) {
	var errs []string
	n := 0
	for _, rec := range recs {
		if err := r.destroyEnvironment(ctx, rec); err != nil {
			errs = append(errs, fmt.Sprintf("environment %s on %s: %v", rec.Name, rec.Compute, err))
			continue
		}
		n++
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return n, nil
}

func (r *Runtime) destroyEnvironment(ctx context.Context, rec *state.Environment) error {
	kind := r.Environments.reg.Environments[rec.Spec.Kind]
	remover, ok := kind.(providers.EnvRemover)
	if !ok {
		return fmt.Errorf("kind %q cannot remove what it made", rec.Spec.Kind)
	}
	comp, err := r.Computes.ForHandle(&providers.Handle{Compute: rec.Compute, Kind: rec.ComputeKind})
	if err != nil {
		return err
	}
	m, dir, err := machineOf(ctx, comp, rec.Compute)
	if err != nil {
		return err
	}
	if err := remover.Remove(ctx, m, dir, rec.Location); err != nil {
		return err
	}
	rec.Removed = true
	return r.Environments.recs.Put(rec)
}
