package ssh

import (
	"context"
	"errors"
	"io"
	"path"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/providers/local"
)

// Log returns the run's log. Following, it reads as providers/local does
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
	return &follower{ctx: ctx, e: e, inner: inner, h: h, path: p, rc: rc}, nil
}

// follower reads a growing log on the machine.
type follower struct {
	ctx   context.Context
	e     *Executor
	inner *local.Compute
	h     providers.Handle
	path  string
	rc    io.ReadCloser // nil between polls
	off   int64
	final bool // the run was final before the last reopen: what is there is all
	delay time.Duration
}

const (
	minFollowDelay = 20 * time.Millisecond
	maxFollowDelay = 250 * time.Millisecond
)

func (f *follower) Read(b []byte) (int, error) {
	for {
		if f.rc == nil {
			rc, err := f.e.Open(f.ctx, f.path, f.off)
			if err != nil {
				return 0, err
			}
			f.rc = rc
		}
		n, err := f.rc.Read(b)
		f.off += int64(n)
		if n > 0 {
			f.delay = 0
			return n, nil
		}
		var ne *netError
		if errors.As(err, &ne) && f.ctx.Err() == nil {
			// The connection dropped mid-read: open again from here
			// (Open waits for the machine to be reachable again).
			f.rc.Close()
			f.rc = nil
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if err == nil {
			continue
		}
		f.rc.Close()
		f.rc = nil
		if f.final {
			return 0, io.EOF
		}
		st, err := f.inner.Poll(f.ctx, f.h)
		if err != nil {
			return 0, err
		}
		if st.State.Done() {
			f.final = true // read once more: the run may have written before it ended
			continue
		}
		if err := f.sleep(); err != nil {
			return 0, err
		}
	}
}

func (f *follower) sleep() error {
	f.delay = min(max(f.delay*2, minFollowDelay), maxFollowDelay)
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
	return nil
}

func (f *follower) Close() error {
	if f.rc == nil {
		return nil
	}
	err := f.rc.Close()
	f.rc = nil
	return err
}
