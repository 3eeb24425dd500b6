package executor

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"
)

// Follow describes how to follow a growing log on a machine.
type Follow struct {
	// Open opens the log at offset off; readers may stop at the end of
	// what is there.
	Open func(ctx context.Context, off int64) (io.ReadCloser, error)
	// Done reports whether the run is final: what is there is then all.
	Done func(ctx context.Context) (bool, error)
	// Reopen, if set, says that a read error is passing (a dropped
	// connection): the log is opened again where it was.
	Reopen func(err error) bool
	// Wake, if not nil, is ready when the run may have ended: no need to
	// sleep the whole delay.
	Wake <-chan struct{}
	// MinDelay and MaxDelay bound the wait between polls while nothing
	// comes; it doubles from one to the other.
	MinDelay, MaxDelay time.Duration
}

// OrEmpty returns open, except that a file that does not exist reads as
// empty: a run creates its metrics file when it writes its first metric.
func OrEmpty(open func(ctx context.Context, off int64) (io.ReadCloser, error)) func(ctx context.Context, off int64) (io.ReadCloser, error) {
	return func(ctx context.Context, off int64) (io.ReadCloser, error) {
		rc, err := open(ctx, off)
		if errors.Is(err, fs.ErrNotExist) {
			return io.NopCloser(strings.NewReader("")), nil
		}
		return rc, err
	}
}

// Follower returns a reader of the log that blocks for new output until the
// run is final and the log is drained (then io.EOF), or ctx is done (then
// ctx's error). rc, if not nil, is the log already open at offset 0.
func (f Follow) Follower(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	return f.FollowerAt(ctx, rc, 0)
}

// FollowerAt is Follower for a log read from byte offset off: rc, if not
// nil, is the log already open there.
func (f Follow) FollowerAt(ctx context.Context, rc io.ReadCloser, off int64) io.ReadCloser {
	fl := &follower{Follow: f, ctx: ctx, rc: rc, off: off}
	// A read blocked on a connection that went away ends with ctx.
	fl.stop = context.AfterFunc(ctx, func() { fl.setReader(nil) })
	return fl
}

type follower struct {
	Follow
	ctx   context.Context
	stop  func() bool
	off   int64
	final bool // the run was final before the last reopen
	delay time.Duration

	mu sync.Mutex
	rc io.ReadCloser // nil between polls
}

// setReader closes the open reader, if any, and makes rc the open one.
func (f *follower) setReader(rc io.ReadCloser) {
	f.mu.Lock()
	old := f.rc
	f.rc = rc
	f.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (f *follower) reader() io.ReadCloser {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rc
}

func (f *follower) Read(b []byte) (int, error) {
	for {
		rc := f.reader()
		if rc == nil {
			if err := f.ctx.Err(); err != nil {
				return 0, err
			}
			var err error
			if rc, err = f.Open(f.ctx, f.off); err != nil {
				return 0, err
			}
			f.setReader(rc)
		}
		n, err := rc.Read(b)
		f.off += int64(n)
		if n > 0 {
			f.delay = 0
			return n, nil
		}
		if err == nil {
			continue
		}
		if _, file := rc.(*os.File); !file || !errors.Is(err, io.EOF) {
			// A stream over a network ends where the file did: open it
			// again from there next time. A local file is read on from
			// where it is, without opening it again.
			f.setReader(nil)
		}
		if err := f.ctx.Err(); err != nil {
			return 0, err
		}
		if !errors.Is(err, io.EOF) {
			if f.Reopen != nil && f.Reopen(err) && f.ctx.Err() == nil {
				continue
			}
			return 0, err
		}
		if f.final {
			return 0, io.EOF
		}
		// A run whose end is notified (Wake) is not asked about before.
		done := f.Wake != nil && isClosed(f.Wake)
		if f.Wake == nil {
			var err error
			if done, err = f.Done(f.ctx); err != nil {
				return 0, err
			}
		}
		if done {
			f.final = true // read once more: the run may have written before it ended
			continue
		}
		if err := f.sleep(); err != nil {
			return 0, err
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (f *follower) sleep() error {
	f.delay = min(max(f.delay*2, f.MinDelay), f.MaxDelay)
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.Wake: // a nil channel is never ready
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
	return nil
}

func (f *follower) Close() error {
	f.stop()
	f.mu.Lock()
	rc := f.rc
	f.rc = nil
	f.mu.Unlock()
	if rc == nil {
		return nil
	}
	return rc.Close()
}
