package runner

import (
	"context"
	"io"
	"path"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// MetricsFile is the name of a run's metrics file in its directory.
const MetricsFile = metricsFile

// Metrics returns the run's metrics file from byte offset off (see
// providers.MetricsReader). Following, it reads as Log does, and a file
// the run has not created yet reads as empty.
func (c *Compute) Metrics(ctx context.Context, h providers.Handle, off int64, follow bool) (io.ReadCloser, error) {
	open := executor.OrEmpty(func(ctx context.Context, off int64) (io.ReadCloser, error) {
		return c.o.Exec.Open(ctx, path.Join(h.Dir, metricsFile), off)
	})
	if !follow {
		return open(ctx, off)
	}
	rc, err := open(ctx, off)
	if err != nil {
		return nil, err
	}
	return executor.Follow{
		Open: open,
		Done: func(ctx context.Context) (bool, error) {
			st, err := c.Poll(ctx, h)
			return st.State.Done(), err
		},
		Wake: c.done(h),
		// A training loop writes a metric a second or so; a policy needs
		// no more than a few reads a second.
		MinDelay: 100 * time.Millisecond,
		MaxDelay: 250 * time.Millisecond,
	}.FollowerAt(ctx, rc, off), nil
}
