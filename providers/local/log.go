package local

import (
	"context"
	"errors"
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
	return &follower{ctx: ctx, c: c, h: h, path: p, rc: rc}, nil
}

// follower reads a growing log. At the end of what is there it asks
// whether the run is final; if not it waits a little (20 ms, growing to
// 250 ms while nothing comes) and opens the log again where it left off,
// which works for executors whose readers stop at the end of the file.
type follower struct {
	ctx   context.Context
	c     *Compute
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
			rc, err := f.c.o.Exec.Open(f.ctx, f.path, f.off)
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
		st, err := f.c.Poll(f.ctx, f.h)
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

// sleep waits before the next poll, less when the run ends meanwhile.
func (f *follower) sleep() error {
	f.delay = min(max(f.delay*2, minFollowDelay), maxFollowDelay)
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.c.done(f.h): // nil for runs others started: never ready
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
