package ssh

import (
	"context"
	"errors"
	"io"
	"path"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// Log returns the run's log. Following, it reads as providers/runner does
// (to the end of what is there, then asks whether the run is final and
// opens the log again where it left off) and, beyond that, picks up where
// it was when the connection drops in the middle of a read.
func (c *Compute) Log(ctx context.Context, h providers.Handle, follow bool) (io.ReadCloser, error) {
	m, err := c.memberFor(h)
	if err != nil {
		return nil, err
	}
	inner, err := m.compute(ctx)
	if err != nil {
		return nil, err
	}
	if !follow {
		return inner.Log(ctx, h, false)
	}
	e, err := m.executor()
	if err != nil {
		return nil, err
	}
	p := path.Join(h.Dir, executor.LogFile)
	rc, err := e.Open(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	return executor.Follow{
		Open: func(ctx context.Context, off int64) (io.ReadCloser, error) { return e.Open(ctx, p, off) },
		Done: func(ctx context.Context) (bool, error) {
			st, err := inner.Poll(ctx, h)
			return st.State.Done(), err
		},
		// A connection dropped mid-read: open again from there (Open
		// waits for the machine to be reachable again).
		Reopen:   func(err error) bool { var ne *netError; return errors.As(err, &ne) },
		MinDelay: 20 * time.Millisecond,
		MaxDelay: 250 * time.Millisecond,
	}.Follower(ctx, rc), nil
}
