package state

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// goneGrace is how long LockWithin goes on trying past its timeout while
// the holder it names is gone.
const goneGrace = 2 * time.Second

// LockWithin takes l's lock for h, trying again while another process
// holds it, for at most timeout (-lock-timeout); it then returns the
// *LockedError naming the holder. Locker.Lock itself tries once.
//
// A holder killed a moment ago can hold the lock a few milliseconds more
// (the kernel may release a dead process's flock after its parent has
// reaped it, or a child it was starting holds it until exec): while the
// holder named is gone (Holder.Gone), LockWithin tries for a little while
// (2s) even past timeout, so that -lock-timeout=0s does not refuse a lock
// that nobody holds any more.
func LockWithin(ctx context.Context, l Locker, h Holder, timeout time.Duration) error {
	err := l.Lock(h)
	start := time.Now()
	deadline, gone := start.Add(timeout), start.Add(goneGrace)
	for wait := time.Millisecond; err != nil; wait = min(2*wait, 50*time.Millisecond) {
		var locked *LockedError
		if !errors.As(err, &locked) {
			return err
		}
		now := time.Now()
		if now.After(deadline) && !(locked.Holder.Gone() && now.Before(gone)) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = l.Lock(h)
	}
	return nil
}

// Gone reports whether h names a process of this host that no longer
// exists. A holder of another host, or one that has not said who it is,
// is never known to be gone.
func (h Holder) Gone() bool {
	if h.PID <= 0 {
		return false
	}
	if host, _ := os.Hostname(); host == "" || host != h.Host {
		return false
	}
	return errors.Is(unix.Kill(h.PID, 0), unix.ESRCH)
}
