package ssh

import (
	"context"
	"errors"
	"io"
	"path"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/providers/runner"
)

// Metrics returns the run's metrics file from byte offset off (see
// providers.MetricsReader), streamed from the machine while the run goes
// on. Following, it reads as Log does: to the end of what is there, then
// again where it left off, picking up after a dropped connection.
func (c *Compute) Metrics(ctx context.Context, h providers.Handle, off int64, follow bool) (io.ReadCloser, error) {
	m, err := c.memberFor(h)
	if err != nil {
		return nil, err
	}
	inner, err := m.compute(ctx)
	if err != nil {
		return nil, err
	}
	if !follow {
		return inner.Metrics(ctx, h, off, false)
	}
	e, err := m.executor()
	if err != nil {
		return nil, err
	}
	open := executor.OrEmpty(func(ctx context.Context, off int64) (io.ReadCloser, error) {
		return e.Open(ctx, path.Join(h.Dir, runner.MetricsFile), off)
	})
	rc, err := open(ctx, off)
	if err != nil {
		return nil, err
	}
	return executor.Follow{
		Open: open,
		Done: func(ctx context.Context) (bool, error) {
			st, err := inner.Poll(ctx, h)
			return st.State.Done(), err
		},
		Reopen: func(err error) bool { var ne *netError; return errors.As(err, &ne) },
		// Each look is a round trip: a metric a second is what a policy
		// needs, not what a log stream wants.
		MinDelay: 100 * time.Millisecond,
		MaxDelay: time.Second,
	}.FollowerAt(ctx, rc, off), nil
}
