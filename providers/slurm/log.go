package slurm

import (
	"context"
	"io"
	"path"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// Log returns the run's log: the job's output file, which the run's own
// output is appended to (each requeued start appends to it too). With
// follow, reading blocks for new output until the run is final and the log
// is drained (then io.EOF), or ctx is done.
func (c *Compute) Log(ctx context.Context, h providers.Handle, follow bool) (io.ReadCloser, error) {
	e, err := c.executor(ctx)
	if err != nil {
		return nil, err
	}
	p := path.Join(h.Dir, executor.LogFile)
	rc, err := e.Open(ctx, p, 0)
	if err != nil || !follow {
		return rc, err
	}
	// Poll's squeue answers are shared for a second, so many followers
	// cost little.
	return executor.Follow{
		Open: func(ctx context.Context, off int64) (io.ReadCloser, error) { return e.Open(ctx, p, off) },
		Done: func(ctx context.Context) (bool, error) {
			st, err := c.Poll(ctx, h)
			return st.State.Done(), err
		},
		MinDelay: 50 * time.Millisecond,
		MaxDelay: time.Second,
	}.Follower(ctx, rc), nil
}
