package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
)

var errStopped = errors.New("apply stopped before the run started")

// scheduler bounds live runs: by -parallelism overall, by each compute's
// slots and GPUs, and by each experiment's sweep max_concurrent.
type scheduler struct {
	all chan struct{}

	mu          sync.Mutex
	computes    map[providers.Compute]*pool
	experiments map[string]chan struct{}
	maxConc     func(experiment string) int
}

func newScheduler(parallelism int, maxConc func(string) int) *scheduler {
	return &scheduler{
		all:         make(chan struct{}, parallelism),
		computes:    make(map[providers.Compute]*pool),
		experiments: make(map[string]chan struct{}),
		maxConc:     maxConc,
	}
}

// pool is one compute's run slots and GPU indices.
type pool struct {
	slots   chan struct{}
	mu      sync.Mutex
	free    []bool // free[i]: GPU i is free
	changed chan struct{}
}

// grant is what one run holds while it is live.
type grant struct {
	gpus    []int
	release []func()
}

func (g *grant) free() {
	for i := len(g.release) - 1; i >= 0; i-- {
		g.release[i]()
	}
}

func (s *scheduler) poolFor(c providers.Compute) *pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.computes[c]
	if p == nil {
		slots := c.Slots()
		if slots <= 0 {
			slots = 1
		}
		p = &pool{slots: make(chan struct{}, slots), free: make([]bool, c.GPUs()), changed: make(chan struct{})}
		for i := range p.free {
			p.free[i] = true
		}
		s.computes[c] = p
	}
	return p
}

func (s *scheduler) experimentSem(name string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.maxConc(name)
	if n <= 0 {
		return nil
	}
	sem := s.experiments[name]
	if sem == nil {
		sem = make(chan struct{}, n)
		s.experiments[name] = sem
	}
	return sem
}

// acquire waits until inst may start on c. It fails with errStopped when
// stop closes first, and at once when the run can never fit.
func (s *scheduler) acquire(ctx context.Context, stop <-chan struct{}, inst *lang.Instance, c providers.Compute) (*grant, error) {
	p := s.poolFor(c)
	if need := inst.Resources.GPUs; need > len(p.free) {
		return nil, fmt.Errorf("needs %d GPUs; compute %s has %d", need, inst.Compute, len(p.free))
	}
	g := &grant{}
	take := func(sem chan struct{}) error {
		if sem == nil {
			return nil
		}
		select {
		case sem <- struct{}{}:
			g.release = append(g.release, func() { <-sem })
			return nil
		case <-stop:
			return errStopped
		case <-ctx.Done():
			return errStopped
		}
	}
	for _, sem := range []chan struct{}{s.experimentSem(inst.Experiment), s.all, p.slots} {
		if err := take(sem); err != nil {
			g.free()
			return nil, err
		}
	}
	if need := inst.Resources.GPUs; need > 0 {
		gpus, err := p.takeGPUs(ctx, stop, need)
		if err != nil {
			g.free()
			return nil, err
		}
		g.gpus = gpus
		g.release = append(g.release, func() { p.giveGPUs(gpus) })
	}
	return g, nil
}

func (p *pool) takeGPUs(ctx context.Context, stop <-chan struct{}, n int) ([]int, error) {
	for {
		p.mu.Lock()
		var got []int
		for i, f := range p.free {
			if f && len(got) < n {
				got = append(got, i)
			}
		}
		if len(got) == n {
			for _, i := range got {
				p.free[i] = false
			}
			p.mu.Unlock()
			return got, nil
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-stop:
			return nil, errStopped
		case <-ctx.Done():
			return nil, errStopped
		}
	}
}

func (p *pool) giveGPUs(gpus []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, i := range gpus {
		p.free[i] = true
	}
	close(p.changed)
	p.changed = make(chan struct{})
}
