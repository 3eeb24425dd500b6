package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/runner"
)

// Compute is an ssh compute: one machine, or a pool of machines sharing
// one configuration. Each machine runs runs as providers/runner does, over
// an Executor; runs of a pool go to the machine with a free slot (and
// enough free GPUs) that has the fewest live runs this process placed.
// Its methods may be called from several goroutines at once.
type Compute struct {
	name    string
	kind    *kind
	s       settings
	r       *resolver
	blob    func(hash string) string // providers.Env.Blob
	members []*member

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a placement is freed
	placed  map[string]*placement
	adhoc   map[string]*member // machines known only from handles
	closed  bool
}

var (
	_ providers.Compute  = (*Compute)(nil)
	_ providers.Finder   = (*Compute)(nil)
	_ providers.Attacher = (*Compute)(nil)
	_ providers.Recycler = (*Compute)(nil)
	_ providers.Warmer   = (*Compute)(nil)
)

// member is one machine of the compute.
type member struct {
	c      *Compute
	host   string  // as handles record it: USER@HOST:PORT, HOST as configured
	target *Target // resolved, but for a jump compute (see finishJump)

	setupMu sync.Mutex
	exec    *Executor
	inner   *runner.Compute

	// Placement, under c.mu.
	live    int
	gpus    int // -1 until known
	gpuFree []bool
}

// placement is where one run this process submitted went.
type placement struct {
	m    *member
	gpus []int
}

func (c *Compute) newMember(entry string) (*member, error) {
	t, err := c.r.target(entry, c.s, 0)
	if err != nil {
		return nil, err
	}
	return &member{c: c, target: t, host: t.User + "@" + net.JoinHostPort(t.Alias, strconv.Itoa(t.port())), gpus: -1}, nil
}

// executor returns the member's executor, connecting lazily.
func (m *member) executor() (*Executor, error) {
	m.setupMu.Lock()
	defer m.setupMu.Unlock()
	return m.executorLocked()
}

func (m *member) executorLocked() (*Executor, error) {
	if m.exec != nil {
		return m.exec, nil
	}
	m.c.mu.Lock()
	closed := m.c.closed
	m.c.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if err := m.c.r.finishJump(m.target, 0); err != nil {
		return nil, err
	}
	conn := m.c.kind.pool.get(m.target, ConnOptions{})
	m.exec = NewExecutor(conn, ExecutorOptions{BlobCache: m.c.workdir() + "/blobs", LocalBlob: m.c.blob})
	return m.exec, nil
}

// compute returns the local logic over the member's executor, made once
// the workdir is resolved on the machine (which needs a connection).
func (m *member) compute(ctx context.Context) (*runner.Compute, error) {
	m.setupMu.Lock()
	defer m.setupMu.Unlock()
	if m.inner != nil {
		return m.inner, nil
	}
	e, err := m.executorLocked()
	if err != nil {
		return nil, err
	}
	wd, err := e.Resolve(ctx, m.c.workdir())
	if err != nil {
		return nil, err
	}
	m.inner = runner.New(runner.Options{
		Name:    m.c.name,
		Kind:    "ssh",
		Host:    m.host,
		Exec:    e,
		Workdir: wd,
		MaxRuns: m.c.s.maxRuns,
		GPUs:    m.c.s.gpus,
	})
	return m.inner, nil
}

func (c *Compute) workdir() string {
	if c.s.workdir != "" {
		return c.s.workdir
	}
	return "~/.trainrun"
}

// Slots is max_runs on each machine.
func (c *Compute) Slots() int { return max(1, len(c.members)) * c.s.maxRuns }

// GPUs is the sum over the machines: gpus each, or what nvidia-smi lists
// on each (asked once; a machine that cannot be reached counts none).
func (c *Compute) GPUs(ctx context.Context) int {
	n := 0
	for _, m := range c.members {
		n += c.memberGPUs(ctx, m)
	}
	return n
}

func (c *Compute) memberGPUs(ctx context.Context, m *member) int {
	c.mu.Lock()
	g := m.gpus
	c.mu.Unlock()
	if g >= 0 {
		return g
	}
	if c.s.gpus >= 0 {
		g = c.s.gpus
	} else {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		inner, err := m.compute(tctx)
		cancel()
		if err != nil {
			return 0 // not cached: the next call asks again
		}
		if g = inner.GPUs(ctx); ctx.Err() != nil {
			return 0 // stopped: not cached either
		}
	}
	c.mu.Lock()
	if m.gpus < 0 {
		m.gpus = g
		m.gpuFree = make([]bool, g)
		for i := range m.gpuFree {
			m.gpuFree[i] = true
		}
	}
	c.mu.Unlock()
	return g
}

// place picks a machine for a run that needs n GPUs, waiting while every
// machine is full: the fewest live runs first, in configuration order.
func (c *Compute) place(ctx context.Context, n int) (*member, []int, error) {
	if len(c.members) == 0 {
		return nil, nil, fmt.Errorf("compute %q has no host", c.name)
	}
	if n > 0 {
		most := 0
		for _, m := range c.members {
			most = max(most, c.memberGPUs(ctx, m))
		}
		if n > most {
			return nil, nil, fmt.Errorf("needs %s; no machine of compute %s has that many", plural.Count(n, "GPU"), c.name)
		}
	}
	for {
		c.mu.Lock()
		var best *member
		for _, m := range c.members {
			if m.live >= c.s.maxRuns || (n > 0 && free(m.gpuFree) < n) {
				continue
			}
			if best == nil || m.live < best.live {
				best = m
			}
		}
		if best != nil {
			best.live++
			var got []int
			for i, f := range best.gpuFree {
				if f && len(got) < n {
					best.gpuFree[i] = false
					got = append(got, i)
				}
			}
			c.mu.Unlock()
			return best, got, nil
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

func free(fs []bool) int {
	n := 0
	for _, f := range fs {
		if f {
			n++
		}
	}
	return n
}

// unplace gives back what place took.
func (c *Compute) unplace(m *member, gpus []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.live--
	for _, g := range gpus {
		if g < len(m.gpuFree) {
			m.gpuFree[g] = true
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// released frees the placement of a run that is final.
func (c *Compute) released(h providers.Handle) {
	c.mu.Lock()
	p := c.placed[h.Host+"\x00"+h.Dir]
	delete(c.placed, h.Host+"\x00"+h.Dir)
	c.mu.Unlock()
	if p != nil {
		c.unplace(p.m, p.gpus)
	}
}

// Submit places the run, uploads what the machine lacks of its snapshot
// and starts it. The run's GPUs are the machine's own indices.
func (c *Compute) Submit(ctx context.Context, spec *providers.RunSpec) (providers.Handle, error) {
	m, gpus, err := c.place(ctx, len(spec.GPUs))
	if err != nil {
		return providers.Handle{}, err
	}
	inner, err := m.compute(ctx)
	if err != nil {
		c.unplace(m, gpus)
		return providers.Handle{}, err
	}
	s := *spec
	s.GPUs = gpus
	h, err := inner.Submit(ctx, &s)
	if err != nil {
		c.unplace(m, gpus)
		return providers.Handle{}, err
	}
	c.mu.Lock()
	if c.placed == nil {
		c.placed = make(map[string]*placement)
	}
	c.placed[h.Host+"\x00"+h.Dir] = &placement{m: m, gpus: gpus}
	c.mu.Unlock()
	return h, nil
}

// memberFor finds the machine a handle names: a configured one, or one
// reached with this compute's settings (a host that left the pool).
func (c *Compute) memberFor(h providers.Handle) (*member, error) {
	for _, m := range c.members {
		if m.host == h.Host || h.Host == "" {
			return m, nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.adhoc[h.Host]; m != nil {
		return m, nil
	}
	m, err := c.newMember(h.Host)
	if err != nil {
		return nil, fmt.Errorf("run on %s: %w", h.Host, err)
	}
	if c.adhoc == nil {
		c.adhoc = make(map[string]*member)
	}
	c.adhoc[h.Host] = m
	return m, nil
}

func (c *Compute) innerFor(ctx context.Context, h providers.Handle) (*runner.Compute, error) {
	m, err := c.memberFor(h)
	if err != nil {
		return nil, err
	}
	return m.compute(ctx)
}

func (c *Compute) Wait(ctx context.Context, h providers.Handle) (providers.Status, error) {
	inner, err := c.innerFor(ctx, h)
	if err != nil {
		return providers.Status{}, err
	}
	st, err := inner.Wait(ctx, h)
	if err == nil && st.State.Done() {
		c.released(h)
	}
	return st, err
}

func (c *Compute) Poll(ctx context.Context, h providers.Handle) (providers.Status, error) {
	inner, err := c.innerFor(ctx, h)
	if err != nil {
		return providers.Status{}, err
	}
	st, err := inner.Poll(ctx, h)
	if err == nil && st.State.Done() {
		c.released(h)
	}
	return st, err
}

func (c *Compute) Cancel(ctx context.Context, h providers.Handle) error {
	inner, err := c.innerFor(ctx, h)
	if err != nil {
		return err
	}
	return inner.Cancel(ctx, h)
}

func (c *Compute) Collect(ctx context.Context, h providers.Handle, spec *providers.RunSpec, dst string, outputs bool) error {
	inner, err := c.innerFor(ctx, h)
	if err != nil {
		return err
	}
	return inner.Collect(ctx, h, spec, dst, outputs)
}

// CopiesInputs reports that runs get copies of their inputs on the
// machine, in their directories.
func (c *Compute) CopiesInputs() bool { return true }

// InputFiles hashes the copies of run h's inputs on its machine; see
// providers.InputCopier.
func (c *Compute) InputFiles(ctx context.Context, h providers.Handle) (map[string][]providers.File, error) {
	inner, err := c.innerFor(ctx, h)
	if err != nil {
		return nil, err
	}
	return inner.InputFiles(ctx, h)
}

func (c *Compute) Remove(ctx context.Context, h providers.Handle) error {
	inner, err := c.innerFor(ctx, h)
	if err != nil {
		return err
	}
	if err := inner.Remove(ctx, h); err != nil {
		return err
	}
	c.released(h)
	return nil
}

// Warm connects to every machine of the compute at once.
func (c *Compute) Warm(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = m.compute(ctx)
		}()
	}
	wg.Wait()
}

// Recycle lets the run's machine reuse its source tree for later runs.
func (c *Compute) Recycle(ctx context.Context, h providers.Handle) error {
	inner, err := c.innerFor(ctx, h)
	if err != nil {
		return err
	}
	return inner.Recycle(ctx, h)
}

// ClearRecycled removes the trees kept for reuse on the machines this
// value has reached (destroy reaches those of the runs it removes): an
// unreachable machine that no run of it needed is no error.
func (c *Compute) ClearRecycled(ctx context.Context) error {
	c.mu.Lock()
	ms := slices.Clone(c.members)
	for _, m := range c.adhoc {
		ms = append(ms, m)
	}
	c.mu.Unlock()
	var errs []error
	for _, m := range ms {
		m.setupMu.Lock()
		inner := m.inner
		m.setupMu.Unlock()
		if inner == nil {
			continue
		}
		if err := inner.ClearRecycled(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.host, err))
		}
	}
	return errors.Join(errs...)
}

// Lookup asks every machine for the run (providers.Finder). An error from
// any machine, with the run found on none, is an error: the run may be
// there, and must not be started twice.
func (c *Compute) Lookup(ctx context.Context, runID string) (providers.Handle, bool, error) {
	var errs []error
	for _, m := range c.members {
		inner, err := m.compute(ctx)
		if err == nil {
			var h providers.Handle
			var found bool
			if h, found, err = inner.Lookup(ctx, runID); err == nil && found {
				return h, true, nil
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.host, err))
		}
	}
	return providers.Handle{}, false, errors.Join(errs...)
}

// Hosts are the machines, as handles record them.
func (c *Compute) Hosts() []string {
	hosts := make([]string, len(c.members))
	for i, m := range c.members {
		hosts[i] = m.host
	}
	return hosts
}

// Facts asks each machine, at once, what it is.
func (c *Compute) Facts(ctx context.Context) ([]providers.HostFacts, error) {
	out := make([]providers.HostFacts, len(c.members))
	errs := make([]error, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := m.executor()
			if err == nil {
				out[i], err = e.Facts(ctx)
			}
			out[i].Host = m.host
			errs[i] = err
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// EnvironmentMachine is where environments live: WORKDIR/envs on the
// machine (providers.EnvironmentHost). It connects, within the connect
// timeout, to learn the workdir's absolute path. A pool cannot hold
// environments yet: each machine would need its own.
func (c *Compute) EnvironmentMachine(ctx context.Context) (providers.Machine, string) {
	if len(c.members) != 1 {
		return errMachine{fmt.Errorf("compute %q is a pool of %d hosts; environments other than the host's own are supported on one-host ssh computes only", c.name, len(c.members))}, ""
	}
	ctx, cancel := context.WithTimeout(ctx, 2*c.members[0].target.timeout())
	defer cancel()
	inner, err := c.members[0].compute(ctx)
	if err != nil {
		return errMachine{err}, ""
	}
	return inner.EnvironmentMachine(ctx)
}

// Close gives the connections back; the last user of one closes it.
func (c *Compute) Close() error {
	c.mu.Lock()
	c.closed = true
	members := append([]*member(nil), c.members...)
	for _, m := range c.adhoc {
		members = append(members, m)
	}
	c.mu.Unlock()
	for _, m := range members {
		m.setupMu.Lock()
		if m.exec != nil {
			c.kind.pool.put(m.exec.conn)
			m.exec, m.inner = nil, nil
		}
		m.setupMu.Unlock()
	}
	return nil
}

// errMachine is a machine that cannot be used, saying why.
type errMachine struct{ err error }

func (e errMachine) Run(context.Context, []string, io.Reader) ([]byte, error) { return nil, e.err }
func (e errMachine) ReadFile(context.Context, string) ([]byte, error)         { return nil, e.err }
func (e errMachine) WriteFile(context.Context, string, []byte, os.FileMode) error {
	return e.err
}
func (e errMachine) Mkdir(context.Context, string, os.FileMode) error { return e.err }
func (e errMachine) RemoveAll(context.Context, string) error          { return e.err }
func (e errMachine) Put(context.Context, string, []providers.File) error {
	return e.err
}

// Checkpoints lists the checkpoint directories of every machine
// (providers.Checkpointer), each key once.
func (c *Compute) Checkpoints(ctx context.Context) ([]string, error) {
	var keys []string
	var errs []error
	for _, m := range c.members {
		inner, err := m.compute(ctx)
		if err == nil {
			var ks []string
			ks, err = inner.Checkpoints(ctx)
			keys = append(keys, ks...)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.host, err))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), errors.Join(errs...)
}

// RemoveCheckpoint removes the checkpoint directory of key from every
// machine (providers.Checkpointer): a run's attempts may have run on
// several.
func (c *Compute) RemoveCheckpoint(ctx context.Context, key string) error {
	var errs []error
	for _, m := range c.members {
		inner, err := m.compute(ctx)
		if err == nil {
			err = inner.RemoveCheckpoint(ctx, key)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.host, err))
		}
	}
	return errors.Join(errs...)
}
