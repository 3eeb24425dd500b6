package runtime

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
)

var errStopped = errors.New("apply stopped before the run started")

// scheduler bounds live runs: by -parallelism overall, by each compute's
// slots and GPUs, and by each experiment's sweep max_concurrent. Runs that
// wait for the same bound are let through in plan order, so that runs
// start in the order the plan lists them.
type scheduler struct {
	all *orderedSem

	mu          sync.Mutex
	computes    map[providers.Compute]*pool
	experiments map[string]*orderedSem
	maxConc     func(experiment string) int
	// places are the computes' places shared with other processes; nil:
	// none (places.go).
	places places
}

func newScheduler(parallelism int, maxConc func(string) int) *scheduler {
	return &scheduler{
		all:         newOrderedSem(parallelism),
		computes:    make(map[providers.Compute]*pool),
		experiments: make(map[string]*orderedSem),
		maxConc:     maxConc,
	}
}

// orderedSem is a counting semaphore whose waiters are served lowest
// position first. A grant is handed to one waiter directly: nothing wakes
// the others, so a thousand waiters cost no more than one. Hand-written
// because golang.org/x/sync/semaphore serves waiters in the order they
// arrive, which is the order goroutines happen to run: runs would not
// start in plan order, nor could a later line be joined at the moment of
// a grant (enqueueThen).
type orderedSem struct {
	mu      sync.Mutex
	free    int
	queue   posHeap
	wake    map[int]chan struct{} // waiting positions; closed on grant
	granted map[int]bool          // granted before their owner asked
	// then holds what a grant to a position does at once: put it in the
	// next line (see scheduler.line), so that lines after the first are
	// joined in plan order too, not in the order goroutines get there.
	then map[int]func()
}

func newOrderedSem(n int) *orderedSem {
	return &orderedSem{free: n, wake: make(map[int]chan struct{}), granted: make(map[int]bool), then: make(map[int]func())}
}

// enqueue puts pos in line (once) and returns the channel its grant closes.
func (s *orderedSem) enqueue(pos int) chan struct{} {
	return s.enqueueThen(pos, nil)
}

// enqueueThen is enqueue; then, if not nil, runs when pos is granted (at
// once if it is already), under s's lock: it may only take the locks of
// later lines.
func (s *orderedSem) enqueueThen(pos int, then func()) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if then != nil {
		if _, queued := s.wake[pos]; queued || !s.granted[pos] {
			s.then[pos] = then
		} else {
			then()
		}
	}
	ch := s.enqueueLocked(pos)
	s.grantLocked()
	return ch
}

// leave takes pos out of line, giving back a grant its owner will not use.
func (s *orderedSem) leave(pos int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.wake, pos) // its heap entry is skipped when popped
	delete(s.then, pos)
	if s.granted[pos] {
		delete(s.granted, pos)
		s.free++
		s.grantLocked()
	}
}

func (s *orderedSem) enqueueLocked(pos int) chan struct{} {
	if ch, ok := s.wake[pos]; ok {
		return ch
	}
	ch := make(chan struct{})
	if s.granted[pos] {
		close(ch)
		return ch
	}
	s.wake[pos] = ch
	heap.Push(&s.queue, pos)
	return ch
}

func (s *orderedSem) grantLocked() {
	for s.free > 0 && s.queue.Len() > 0 {
		pos := heap.Pop(&s.queue).(int)
		ch, ok := s.wake[pos]
		if !ok {
			continue // left the line
		}
		delete(s.wake, pos)
		s.granted[pos] = true
		s.free--
		close(ch)
		if then := s.then[pos]; then != nil {
			delete(s.then, pos)
			then()
		}
	}
}

func (s *orderedSem) acquire(ctx context.Context, stop <-chan struct{}, pos int) error {
	ch := s.enqueue(pos)
	select {
	case <-ch:
	case <-stop:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.granted[pos] {
		delete(s.granted, pos)
		if isClosed(stop) || ctx.Err() != nil {
			s.free++ // stopped: give the grant back
			s.grantLocked()
			return errStopped
		}
		return nil
	}
	delete(s.wake, pos) // its heap entry is skipped when popped
	delete(s.then, pos)
	return errStopped
}

// take takes a place without waiting, even when none is free: free then
// goes below zero, and no waiter is served until releases bring it back.
func (s *orderedSem) take() {
	s.mu.Lock()
	s.free--
	s.mu.Unlock()
}

func (s *orderedSem) release() {
	s.mu.Lock()
	s.free++
	s.grantLocked()
	s.mu.Unlock()
}

// posHeap is a min-heap of plan positions.
type posHeap []int

func (h posHeap) Len() int           { return len(h) }
func (h posHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h posHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *posHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *posHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// pool is one compute's run slots and GPU indices.
type pool struct {
	slots   *orderedSem
	mu      sync.Mutex
	free    []bool // free[i]: GPU i is free
	changed chan struct{}
	places  map[int]func() // GPU i's place among other processes', to give back
}

// grant is what one run holds while it is live.
type grant struct {
	gpus    []int
	release []func()
}

// free gives g's places back; a nil grant holds none.
func (g *grant) free() {
	if g == nil {
		return
	}
	for i := len(g.release) - 1; i >= 0; i-- {
		g.release[i]()
	}
}

func (s *scheduler) poolFor(ctx context.Context, c providers.Compute) *pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.computes[c]
	if p == nil {
		slots := c.Slots()
		if slots <= 0 {
			slots = 1
		}
		p = &pool{slots: newOrderedSem(slots), free: make([]bool, c.GPUs(ctx)), changed: make(chan struct{})}
		for i := range p.free {
			p.free[i] = true
		}
		s.computes[c] = p
	}
	return p
}

func (s *scheduler) experimentSem(name string) *orderedSem {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.maxConc(name)
	if n <= 0 {
		return nil
	}
	sem := s.experiments[name]
	if sem == nil {
		sem = newOrderedSem(n)
		s.experiments[name] = sem
	}
	return sem
}

// enqueue marks the run at position pos as waiting from now on, before its
// goroutine asks: runs that are ready together start in plan order.
func (s *scheduler) enqueue(ctx context.Context, pos int, inst *lang.Instance, c providers.Compute) {
	s.line(pos, s.lines(ctx, inst, c))
}

// lines are the bounds a run of inst on c waits for, in the order it takes
// them.
func (s *scheduler) lines(ctx context.Context, inst *lang.Instance, c providers.Compute) []*orderedSem {
	var out []*orderedSem
	if sem := s.experimentSem(inst.Experiment); sem != nil {
		out = append(out, sem)
	}
	return append(out, s.all, s.poolFor(ctx, c).slots)
}

// line puts pos in the first of sems; each grant puts it in the next line
// at once. Joining a later line only once granted the earlier one keeps a
// place from being held in a line while its run still waits in another;
// joining it at the grant, not when the run's goroutine gets there, keeps
// plan order in every line. Lining up twice is the same as once.
func (s *scheduler) line(pos int, sems []*orderedSem) {
	var join func(i int) func()
	join = func(i int) func() {
		if i+1 >= len(sems) {
			return nil
		}
		return func() { sems[i+1].enqueueThen(pos, join(i+1)) }
	}
	sems[0].enqueueThen(pos, join(0))
}

// leave takes the run at position pos out of every line it waits in,
// giving back the places it was granted and has not taken.
func (s *scheduler) leave(ctx context.Context, pos int, inst *lang.Instance, c providers.Compute) {
	for _, sem := range s.lines(ctx, inst, c) {
		sem.leave(pos)
	}
}

// acquire waits until inst, at position pos of the plan, may start on c. It
// fails with errStopped when stop closes first, and at once when the run
// can never fit.
func (s *scheduler) acquire(ctx context.Context, stop <-chan struct{}, pos int, inst *lang.Instance, c providers.Compute) (*grant, error) {
	p := s.poolFor(ctx, c)
	if need := inst.Resources.GPUs; need > len(p.free) {
		return nil, fmt.Errorf("needs %s; compute %s has %d", plural.Count(need, "GPU"), inst.Compute, len(p.free))
	}
	g := &grant{}
	sems := s.lines(ctx, inst, c)
	s.line(pos, sems)
	for i, sem := range sems {
		if err := sem.acquire(ctx, stop, pos); err != nil {
			g.free()
			for _, later := range sems[i+1:] {
				later.leave(pos)
			}
			return nil, err
		}
		g.release = append(g.release, sem.release)
	}
	if s.places != nil {
		// One of the compute's slots that other processes share.
		release, err := waitPlace(ctx, stop, func() (func(), bool) { return s.places.slot(inst.Compute, max(c.Slots(), 1)) })
		if err != nil {
			g.free()
			return nil, err
		}
		g.release = append(g.release, release)
	}
	if need := inst.Resources.GPUs; need > 0 {
		gpus, err := p.takeGPUs(ctx, stop, need, s.gpuPlace(inst.Compute))
		if err != nil {
			g.free()
			return nil, err
		}
		g.gpus = gpus
		g.release = append(g.release, func() { p.giveGPUs(gpus) })
	}
	return g, nil
}

// gpuPlace takes GPU i of compute among the places shared with other
// processes; nil when there are none.
func (s *scheduler) gpuPlace(compute string) func(i int) (func(), bool) {
	if s.places == nil {
		return nil
	}
	return func(i int) (func(), bool) { return s.places.gpu(compute, i) }
}

// waitPlace takes a place with take, looking again while other processes
// hold them all, until ctx is done or stop closes.
func waitPlace(ctx context.Context, stop <-chan struct{}, take func() (func(), bool)) (func(), error) {
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, placePoll) {
		if release, ok := take(); ok {
			return release, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return nil, errStopped
		case <-ctx.Done():
			t.Stop()
			return nil, errStopped
		}
	}
}

// hold takes inst's places on c at once, for a run that is live already
// (an earlier apply started it): the run is there whatever the bounds say,
// and the runs this apply starts must count it. So are the GPUs it was
// given: no new run gets them while it lives.
func (s *scheduler) hold(ctx context.Context, inst *lang.Instance, c providers.Compute, gpus []int) *grant {
	g := &grant{}
	p := s.poolFor(ctx, c)
	for _, sem := range []*orderedSem{s.experimentSem(inst.Experiment), s.all, p.slots} {
		if sem != nil {
			sem.take()
			g.release = append(g.release, sem.release)
		}
	}
	if held := p.holdGPUs(gpus); len(held) > 0 {
		g.release = append(g.release, func() { p.giveGPUs(held) })
	}
	if s.places != nil {
		// The run's places among those shared with other processes, if
		// its apply is gone and they are free.
		if release, ok := s.places.slot(inst.Compute, max(c.Slots(), 1)); ok {
			g.release = append(g.release, release)
		}
		for _, i := range gpus {
			if release, ok := s.places.gpu(inst.Compute, i); ok {
				g.release = append(g.release, release)
			}
		}
	}
	return g
}

// holdGPUs marks the free ones of gpus taken and returns them.
func (p *pool) holdGPUs(gpus []int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var held []int
	for _, i := range gpus {
		if i >= 0 && i < len(p.free) && p.free[i] {
			p.free[i] = false
			held = append(held, i)
		}
	}
	return held
}

// takeGPUs takes n of p's free GPUs, waiting until there are. With place,
// a GPU is taken only if place takes it too (others processes may hold
// it); the GPUs given then hold their places until given back.
func (p *pool) takeGPUs(ctx context.Context, stop <-chan struct{}, n int, place func(i int) (func(), bool)) ([]int, error) {
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, placePoll) {
		p.mu.Lock()
		var got []int
		var releases []func()
		for i, f := range p.free {
			if !f || len(got) == n {
				continue
			}
			if place != nil {
				release, ok := place(i)
				if !ok {
					continue
				}
				releases = append(releases, release)
			}
			got = append(got, i)
		}
		if len(got) == n {
			for k, i := range got {
				p.free[i] = false
				if releases != nil {
					if p.places == nil {
						p.places = make(map[int]func())
					}
					p.places[i] = releases[k]
				}
			}
			p.mu.Unlock()
			return got, nil
		}
		for _, release := range releases {
			release()
		}
		changed := p.changed
		p.mu.Unlock()
		var poll <-chan time.Time
		var t *time.Timer
		if place != nil {
			// Another process's GPU is given back without a word.
			t = time.NewTimer(wait)
			poll = t.C
		}
		select {
		case <-changed:
		case <-poll:
		case <-stop:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if isClosed(stop) || ctx.Err() != nil {
			return nil, errStopped
		}
	}
}

func (p *pool) giveGPUs(gpus []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, i := range gpus {
		p.free[i] = true
		if release := p.places[i]; release != nil {
			delete(p.places, i)
			release()
		}
	}
	close(p.changed)
	p.changed = make(chan struct{})
}
