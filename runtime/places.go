package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/trainrun/trainrun/state"
)

// Places of a compute shared by applies of other processes
//
// The scheduler bounds the runs of one process. A compute's max_runs and
// GPUs are shared by every apply of the project, in any process (and, with
// a shared backend, on any machine): each run also holds a place claimed
// from the state (state.Claimer), one of "compute.NAME slot I" for I below
// max_runs, and "compute.NAME gpu I" for each GPU it is given. A claim ends
// with its process, so a killed apply's places are free at once.

// places gives out the places of computes that other processes share.
type places interface {
	// slot takes one of the compute's slots (of n), or reports false when
	// other processes hold them all.
	slot(compute string, n int) (release func(), ok bool)
	// gpu takes the compute's GPU i, or reports false when another
	// process holds it.
	gpu(compute string, i int) (release func(), ok bool)
}

// claimPlaces are places claimed from the state.
type claimPlaces struct {
	st     state.Claimer
	holder state.Holder
}

func (p claimPlaces) take(key string) (func(), bool) {
	now, cancel := context.WithCancel(context.Background())
	cancel() // try once
	c, err := p.st.Claim(now, key, p.holder)
	if err != nil {
		return nil, false
	}
	return func() { _ = c.Release() }, true
}

func (p claimPlaces) slot(compute string, n int) (func(), bool) {
	for i := range n {
		if release, ok := p.take(fmt.Sprintf("compute.%s slot %d", compute, i)); ok {
			return release, true
		}
	}
	return nil, false
}

func (p claimPlaces) gpu(compute string, i int) (func(), bool) {
	return p.take(fmt.Sprintf("compute.%s gpu %d", compute, i))
}

// placePoll is how often a run that waits for a place other processes
// hold looks again, at most.
const placePoll = 100 * time.Millisecond
