package slurm

import (
	"context"
	"errors"
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
	e, err := c.executor()
	if err != nil {
		return nil, err
	}
	p := path.Join(h.Dir, executor.LogFile)
	rc, err := e.Open(ctx, p, 0)
	if err != nil || !follow {
		return rc, err
	}
	return &follower{ctx: ctx, c: c, e: e, h: h, path: p, rc: rc}, nil
}

// follower reads a growing log. At its end it asks whether the run is
// final (Poll, whose squeue answers are shared for a second, so many
// followers cost little); if not it waits a little, growing to a second
// while nothing comes, and opens the log again where it left off.
type follower struct {
	ctx   context.Context
	c     *Compute
	e     executor.Executor
	h     providers.Handle
	path  string
	rc    io.ReadCloser // nil between polls
	off   int64
	final bool
	delay time.Duration
}

const (
	minFollowDelay = 50 * time.Millisecond
	maxFollowDelay = time.Second
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
		f.delay = min(max(f.delay*2, minFollowDelay), maxFollowDelay)
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-f.ctx.Done():
			t.Stop()
			return 0, f.ctx.Err()
		}
	}
}

func (f *follower) Close() error {
	if f.rc == nil {
		return nil
	}
	err := f.rc.Close()
	f.rc = nil
	return err
}
