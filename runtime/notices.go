package runtime

import (
	"context"
	"sync"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// The events of a run that waits on something other than itself.
const (
	// RunWaitingOn: the run waits, Reason says for what ("ssh
	// 127.0.0.1:2222 unreachable (retrying)", "slurm controller
	// unreachable", "pending in queue (reason Resources)", "held
	// (BeginTime …)"). Emitted when that changes, not at every poll.
	RunWaitingOn EventType = "run_waiting_on"
	// RunResumed: the wait in Reason is over after Waited; Started, when
	// set, is when the run's process started (a job that left the queue).
	RunResumed EventType = "run_resumed"
	// RunRequeued: the compute started the run again by itself (a
	// requeued Slurm job); Attempt is the attempt that follows.
	RunRequeued EventType = "run_requeued"
)

// waitNotices turns the notices of a run's compute into events, each once
// per change.
type waitNotices struct {
	r        *Runtime
	addr, id string
	attempt  int // the runtime's attempt, before the compute's requeues

	mu       sync.Mutex
	waiting  string    // what it waits for, as last said
	since    time.Time // when it began to wait; zero: it does not
	requeues int
	requeued bool // requeued, and not seen running since
}

// withNotices returns ctx carrying run's notice handler.
func (r *Runtime) withNotices(ctx context.Context, run *state.Run) context.Context {
	w := &waitNotices{r: r, addr: run.Address, id: run.ID, attempt: run.Attempts}
	return providers.WithNotices(ctx, w.notice)
}

func (w *waitNotices) notice(n providers.Notice) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if n.Requeues > w.requeues {
		w.requeues, w.requeued = n.Requeues, true
		if w.since.IsZero() {
			w.since = now
		}
		w.r.emit(Event{Type: RunRequeued, Address: w.addr, RunID: w.id, Attempt: w.attempt + n.Requeues})
	}
	switch {
	case n.Waiting != "" && n.Waiting != w.waiting:
		if w.since.IsZero() {
			w.since = now
		}
		w.waiting = n.Waiting
		w.r.emit(Event{Type: RunWaitingOn, Address: w.addr, RunID: w.id, Reason: n.Waiting})
	case n.Waiting == "" && !w.since.IsZero() && (!w.requeued || !n.Running.IsZero()):
		// A requeued job's wait is over when it runs again.
		ev := Event{Type: RunResumed, Address: w.addr, RunID: w.id, Reason: w.waiting, Waited: now.Sub(w.since).Seconds()}
		if !n.Running.IsZero() {
			ev.Started = ptr(n.Running)
		}
		w.waiting, w.since, w.requeued = "", time.Time{}, false
		w.r.emit(ev)
	}
}
