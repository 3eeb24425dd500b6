package providers

import (
	"context"
	"time"
)

// Notice is what a compute says about a run it waits on while the run
// itself cannot be seen to go on: the machine is unreachable, the
// scheduler holds or requeued the job. A compute sends one whenever what
// it sees changes (not at every poll), to the function the context of
// Submit, Wait or Poll carries (WithNotices); the runtime turns notices
// into events.
type Notice struct {
	// Waiting says what the run waits for now, as a person reads it:
	// "ssh 127.0.0.1:2222 unreachable (retrying)", "slurm controller
	// unreachable", "pending in queue (reason Resources)", "held
	// (BeginTime 2026-12-07T15:31:02)". "" says it waits no more.
	Waiting string
	// Running, when not zero, is when the run's process started (the
	// compute's clock): it runs now.
	Running time.Time
	// Requeues counts the times the compute started the run again by
	// itself (a requeued Slurm job), as far as it has seen.
	Requeues int
}

type noticesKey struct{}

// WithNotices returns a context whose compute calls send their notices to
// f. f must not block.
func WithNotices(ctx context.Context, f func(Notice)) context.Context {
	return context.WithValue(ctx, noticesKey{}, f)
}

// Notify sends n to the function ctx carries, if any.
func Notify(ctx context.Context, n Notice) {
	if f, ok := ctx.Value(noticesKey{}).(func(Notice)); ok && f != nil {
		f(n)
	}
}

// Notifies reports whether ctx carries a function for notices.
func Notifies(ctx context.Context) bool {
	f, ok := ctx.Value(noticesKey{}).(func(Notice))
	return ok && f != nil
}
