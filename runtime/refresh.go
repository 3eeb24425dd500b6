package runtime

import (
	"context"
	"time"

	"github.com/trainrun/trainrun/providers"

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
		if status.State.Done() {
			// Ended, not collected: its end as its compute recorded it,
			// its metrics from its directory there.
			c.Uncollected = true
			if end := endTime(c, status); !end.IsZero() {
				c.FinishedAt = &end
			}
			if s := status.StartedAt; !s.IsZero() && (c.StartedAt == nil || !s.Before(*c.StartedAt)) {
				c.RunningAt = &s
			}
			if q := status.QueuedAt; !q.IsZero() {
				c.QueuedAt = &q
			}
			if m := computeMetrics(ctx, comp, *run.Handle); m != nil {
				c.Metrics = m
			}
		}
		// The attempts its compute started by itself since it was
		// recorded: the live count, not the one recorded at its end.
		c.Attempts += status.Requeues
		c.Requeues += status.Requeues
		v.latest[run.Address] = c
	}
	return v
}

// endTime is when run ended as st says, or zero when st cannot say, or says
// something impossible (before the run started, in the future: a remote
// clock far off).
func endTime(run *state.Run, st providers.Status) time.Time {
	e := st.EndedAt
	if e.IsZero() || e.After(time.Now()) || run.StartedAt != nil && e.Before(*run.StartedAt) {
		return time.Time{}
	}
	return e
}

// computeMetrics are the latest values in the metrics file of run h on
// comp, nil when there are none or comp cannot read them.
func computeMetrics(ctx context.Context, comp providers.Compute, h providers.Handle) map[string]state.Metric {
	mr, ok := comp.(providers.MetricsReader)
	if !ok {
		return nil
	}
	rc, err := mr.Metrics(ctx, h, 0, false)
	if err != nil {
		return nil
	}
	defer rc.Close()
	m, _ := latestMetrics(rc, "")
	if len(m) == 0 {
		return nil
	}
	return m
}
