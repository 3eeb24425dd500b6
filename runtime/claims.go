package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/state"
)

// Applies of other processes
//
// Applies of different processes (two terminals, two teammates) run side by
// side: the state is written in short transactions, and an apply claims an
// instance (state.Claimer) before it starts, restores or re-attaches to a
// run of it, and keeps the claim until the run's end is recorded. An apply
// that finds the instance claimed says whose claim it waits on, waits, and
// then reads the instance's latest run again: when another apply ran it
// with the planned fingerprint since the plan was made, its result is
// used, and nothing is started again. A claim ends with the process that
// holds it, however it ends, so a killed apply's instances are free at
// once, and its live runs are re-attached by whoever claims them next.
//
// Within one process (watch's applies), the tracker (tracker.go) says
// who runs what; claims are shared by the process's applies, counted.

// heldClaim is a claim of this process, shared by its applies.
type heldClaim struct {
	claim    state.Claim
	users    int
	ready    chan struct{} // closed when claim or err is set
	err      error
	lostOnce sync.Once // says the claim was lost
}

// claim claims the instance at address for this process, waiting while
// another process holds it (it says so, once, and calls waiting first)
// until ctx is done or stop closes. release gives it up.
func (r *Runtime) claim(ctx context.Context, stop <-chan struct{}, address string, opts Options, waiting func()) (release func(), err error) {
	sh := r.shared()
	sh.mu.Lock()
	if sh.claims == nil {
		sh.claims = make(map[string]*heldClaim)
	}
	h := sh.claims[address]
	mine := h == nil
	if mine {
		h = &heldClaim{ready: make(chan struct{})}
		sh.claims[address] = h
	}
	h.users++
	sh.mu.Unlock()
	release = func() {
		sh.mu.Lock()
		h.users--
		last := h.users == 0
		if last && sh.claims[address] == h {
			delete(sh.claims, address)
		}
		sh.mu.Unlock()
		if last && h.claim != nil {
			if err := h.claim.Release(); err != nil {
				r.emit(Event{Type: Warning, Address: address, Message: err.Error()})
			}
		}
	}
	if mine {
		h.claim, h.err = r.claimFor(ctx, stop, address, opts, waiting)
		close(h.ready)
	} else {
		select {
		case <-h.ready:
		default:
			waiting()
		}
		select {
		case <-h.ready:
		case <-ctx.Done():
			release()
			return nil, errStopped
		}
	}
	if h.err != nil {
		release()
		return nil, h.err
	}
	return release, nil
}

// claimFor asks the state for the claim on address.
func (r *Runtime) claimFor(ctx context.Context, stop <-chan struct{}, address string, opts Options, waiting func()) (state.Claim, error) {
	now, cancel := context.WithCancel(ctx)
	cancel() // tries once
	c, err := r.State.Claim(now, address, opts.Holder)
	var held *state.ClaimedError
	if !errors.As(err, &held) {
		return c, err
	}
	waiting()
	r.emit(Event{Type: RunWaiting, Address: address, Message: holderName(held.Holder)})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-wctx.Done():
		}
	}()
	c, err = r.State.Claim(wctx, address, opts.Holder)
	if errors.As(err, &held) {
		return nil, errStopped
	}
	return c, err
}

// claimLost reports whether this process's claim on address ended without
// being released: the database's session ended and another apply took the
// instance before this one could take it back. It then starts nothing more
// of the instance (it says so, once): the other apply carries it out.
func (r *Runtime) claimLost(address string) bool {
	sh := r.shared()
	sh.mu.Lock()
	h := sh.claims[address]
	sh.mu.Unlock()
	if h == nil {
		return false
	}
	select {
	case <-h.ready:
	default:
		return false
	}
	if h.claim == nil {
		return false
	}
	select {
	case <-h.claim.Lost():
	default:
		return false
	}
	h.lostOnce.Do(func() {
		r.emit(Event{Type: Warning, Address: address, Message: "its claim ended with the database session and another apply holds it now: this apply starts nothing more of it"})
	})
	return true
}

// holderName says who a claim's holder is: "trainrun apply (pid 4553 on
// gpu-1)".
func holderName(h state.Holder) string {
	if h.PID == 0 {
		return "another trainrun (it has not said who it is yet)"
	}
	cmd, host := h.Command, h.Host
	if cmd == "" {
		cmd = "another trainrun"
	}
	if host == "" {
		host = "an unknown host"
	}
	return fmt.Sprintf("%s (pid %d on %s)", cmd, h.PID, host)
}

// claims reports whether a, in its role b, runs something: it claims its
// instance first.
func claims(a *planner.Action, b *role) bool {
	switch {
	case b.join != nil || b.ended != nil:
		return false
	case b.restart, a.Action == planner.Submit, a.Action == planner.Restore:
		return true
	}
	return a.Action == planner.NoOp && a.Prior != nil && a.Prior.Live()
}

// claimedRun reads the instance of a again once it is claimed, and returns
// the run another process carried out since a was planned, which a uses
// instead of starting one: the plan's live run, or a newer run with the
// fingerprint a plans. It returns nil when a is still to be carried out as
// planned.
func (r *Runtime) claimedRun(a *planner.Action, b *role) *state.Run {
	if err := r.State.Reload(); err != nil {
		r.emit(Event{Type: Warning, Address: a.Address, Message: err.Error()})
	}
	if a.Action == planner.NoOp && a.Prior != nil && a.Prior.Live() && !b.restart {
		rec, err := r.State.Get(a.Prior.ID)
		if err != nil || rec.Status == a.Prior.Status && rec.Attempts == a.Prior.Attempts && handleOf(rec) == handleOf(a.Prior) {
			return nil // as planned: re-attach
		}
		return rec
	}
	latest := r.State.Latest(a.Address)
	switch {
	case latest == nil || a.Fingerprint == "" || latest.Fingerprint != a.Fingerprint:
		return nil
	case a.Prior != nil && latest.ID == a.Prior.ID:
		return nil
	}
	return latest
}

func handleOf(r *state.Run) string {
	if r.Handle == nil {
		return ""
	}
	return r.Handle.Compute + "/" + r.Handle.ID
}
