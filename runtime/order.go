package runtime

import (
	"context"
	"sync"
)

// A run gives its slots back as soon as its process is over, so that the
// next run starts while its results are collected; but its end is said
// before the start of a run those slots let through, or the lines would
// show more runs live than max_runs allows. A run about to free its slots
// registers its end as unsaid (ending); a run granted slots takes the
// unsaid ends of that moment (unsaid) and waits for them before it says
// it started (awaitSaid).

// endings are the ends of runs that freed their slots, not yet said.
type endings struct {
	mu     sync.Mutex
	unsaid map[chan struct{}]struct{}
}

// ending registers an end about to be freed; said, called once its end is
// emitted (or never will be), lets the runs waiting for it say they
// started.
func (r *Runtime) ending() (said func()) {
	e := &r.shared().ends
	ch := make(chan struct{})
	e.mu.Lock()
	if e.unsaid == nil {
		e.unsaid = make(map[chan struct{}]struct{})
	}
	e.unsaid[ch] = struct{}{}
	e.mu.Unlock()
	return sync.OnceFunc(func() {
		e.mu.Lock()
		delete(e.unsaid, ch)
		e.mu.Unlock()
		close(ch)
	})
}

// unsaid returns the ends registered and not said yet.
func (r *Runtime) unsaid() []chan struct{} {
	e := &r.shared().ends
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]chan struct{}, 0, len(e.unsaid))
	for ch := range e.unsaid {
		out = append(out, ch)
	}
	return out
}

// awaitSaid waits until the ends are said, or ctx is done.
func awaitSaid(ctx context.Context, ends []chan struct{}) {
	for _, ch := range ends {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}
