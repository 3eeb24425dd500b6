package slurm

import (
	"context"
	"io"
	"path"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// Metrics returns the run's metrics file from byte offset off (see
// providers.MetricsReader): the compute nodes write it to the shared
// workdir, where trainrun reads it (through the login node when there is
// one) while the job runs.
func (c *Compute) Metrics(ctx context.Context, h providers.Handle, off int64, follow bool) (io.ReadCloser, error) {
	e, err := c.executor(ctx)
	if err != nil {
		return nil, err
	}
	open := executor.OrEmpty(func(ctx context.Context, off int64) (io.ReadCloser, error) {
		return e.Open(ctx, path.Join(h.Dir, metricsFile), off)
	})
	rc, err := open(ctx, off)
	if err != nil || !follow {
		return rc, err
	}
	// Poll's squeue answers are shared for a second, so many followers
	// cost little.
	return executor.Follow{
		Open: open,
		Done: func(ctx context.Context) (bool, error) {
			st, err := c.Poll(ctx, h)
			return st.State.Done(), err
		},
		MinDelay: 100 * time.Millisecond,
		MaxDelay: time.Second,
	}.FollowerAt(ctx, rc, off), nil
}
