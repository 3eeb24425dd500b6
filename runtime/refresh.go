package runtime

import (
	"context"

	"github.com/trainrun/trainrun/state"
)

// View is the recorded state with live runs' statuses as their computes
// report them now. It changes nothing on disk: plan uses it without the
// lock; apply records what it finds through Reconcile.
type View struct {
	state.Backend
	latest map[string]*state.Run
}

// Latest returns the latest run of address, refreshed.
func (v *View) Latest(address string) *state.Run {
	if r, ok := v.latest[address]; ok {
		return r
	}
	return v.Backend.Latest(address)
}

// Heads returns the latest run of every instance that has one, by
// address, refreshed.
func (v *View) Heads() []*state.Run {
	heads := v.Backend.Heads()
	for i, r := range heads {
		if l, ok := v.latest[r.Address]; ok {
			heads[i] = l
		}
	}
	return heads
}

// Refresh asks the computes how the recorded live runs are doing. A
// compute that cannot answer leaves its runs as recorded.
func Refresh(ctx context.Context, st state.Backend, comps *Computes) *View {
	v := &View{Backend: st, latest: make(map[string]*state.Run)}
	for _, run := range st.Live() {
		if l := st.Latest(run.Address); !run.Live() || run.Handle == nil || l == nil || l.ID != run.ID {
			continue
		}
		comp, err := comps.ForHandle(run.Handle)
		if err != nil {
			continue
		}
		status, err := comp.Poll(ctx, *run.Handle)
		if err != nil || (status.State == run.Status && status.Requeues == 0) {
			continue
		}
		c := run.Clone()
		c.Status, c.ExitCode, c.Reason = status.State, status.ExitCode, status.Reason
		// The attempts its compute started by itself since it was
		// recorded: the live count, not the one recorded at its end.
		c.Attempts += status.Requeues
		c.Requeues += status.Requeues
		v.latest[run.Address] = c
	}
	return v
}
