package runner

import (
	"context"
	"io"
	"path"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// Log returns the run's log. With follow, reading blocks for new output
// until the run is final and the log is drained (then io.EOF), or ctx is
// done (then ctx's error).
func (c *Compute) Log(ctx context.Context, h providers.Handle, follow bool) (io.ReadCloser, error) {
	p := path.Join(h.Dir, executor.LogFile)
	rc, err := c.o.Exec.Open(ctx, p, 0)
	if err != nil || !follow {
		return rc, err
	}
	return executor.Follow{
		Open: func(ctx context.Context, off int64) (io.ReadCloser, error) { return c.o.Exec.Open(ctx, p, off) },
		Done: func(ctx context.Context) (bool, error) {
			st, err := c.Poll(ctx, h)
			return st.State.Done(), err
		},
		Wake:     c.done(h), // nil for runs others started
		MinDelay: 20 * time.Millisecond,
		MaxDelay: 250 * time.Millisecond,
	}.Follower(ctx, rc), nil
}
