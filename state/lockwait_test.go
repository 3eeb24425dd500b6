package state

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// goneHolder names a process of this host that has ended and been reaped.
func goneHolder(t *testing.T) Holder {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	return Holder{PID: cmd.Process.Pid, Host: host, Command: "trainrun apply"}
}

func TestHolderGone(t *testing.T) {
	host, _ := os.Hostname()
	gone := goneHolder(t)
	for _, tc := range []struct {
		name string
		h    Holder
		want bool
	}{
		{"this process", Holder{PID: os.Getpid(), Host: host}, false},
		{"ended process", gone, true},
		{"ended process of another host", Holder{PID: gone.PID, Host: host + ".elsewhere"}, false},
		{"unsaid", Holder{}, false},
	} {
		if got := tc.h.Gone(); got != tc.want {
			t.Errorf("%s: Gone() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// lockedFor is a Locker held by holder for its first n tries.
type lockedFor struct {
	n, tries int
	holder   Holder
}

func (l *lockedFor) Lock(Holder) error {
	l.tries++
	if l.tries <= l.n {
		return &LockedError{Holder: l.holder}
	}
	return nil
}

func (l *lockedFor) Unlock() error { return nil }

func TestLockWithin(t *testing.T) {
	host, _ := os.Hostname()
	live := Holder{PID: os.Getpid(), Host: host, Command: "trainrun apply"}
	for _, tc := range []struct {
		name    string
		holder  Holder
		n       int
		timeout time.Duration
		ok      bool
	}{
		{"free", live, 0, 0, true},
		{"live holder, no timeout", live, 3, 0, false},
		{"live holder within timeout", live, 3, time.Minute, true},
		{"gone holder, no timeout", goneHolder(t), 3, 0, true},
		{"gone holder for ever", goneHolder(t), 1 << 30, 0, false},
	} {
		l := &lockedFor{n: tc.n, holder: tc.holder}
		start := time.Now()
		err := LockWithin(context.Background(), l, Holder{Command: "trainrun destroy"}, tc.timeout)
		var le *LockedError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v after %d tries", tc.name, err, l.tries)
		case !tc.ok && !errors.As(err, &le):
			t.Errorf("%s: %v, want a *LockedError", tc.name, err)
		case !tc.ok && le.Holder != tc.holder:
			t.Errorf("%s: the error names %+v, want %+v", tc.name, le.Holder, tc.holder)
		}
		if d := time.Since(start); !tc.ok && tc.holder == live && d > time.Second {
			t.Errorf("%s: refused after %v; a live holder is refused at once", tc.name, d)
		}
	}
}

// A held lock is waited for, as long as ctx allows.
func TestLockWithinContext(t *testing.T) {
	host, _ := os.Hostname()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	l := &lockedFor{n: 1 << 30, holder: Holder{PID: os.Getpid(), Host: host}}
	var le *LockedError
	if err := LockWithin(ctx, l, Holder{}, time.Hour); !errors.As(err, &le) {
		t.Fatalf("LockWithin with a done context: %v, want a *LockedError", err)
	}
}

// Between processes: a lock released by its holder while LockWithin waits
// is taken.
func TestLockWithinProcesses(t *testing.T) {
	dir := t.TempDir()
	_, stdin, out := helper(t, "hold", dir)
	if line, err := out.ReadString('\n'); line != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	s := mustOpen(t, dir)
	var le *LockedError
	if err := LockWithin(context.Background(), s, Holder{Command: "trainrun destroy"}, 0); !errors.As(err, &le) {
		t.Fatalf("LockWithin(0) while another process holds the lock: %v", err)
	}
	time.AfterFunc(100*time.Millisecond, func() { stdin.Close() })
	if err := LockWithin(context.Background(), s, Holder{Command: "trainrun destroy"}, time.Minute); err != nil {
		t.Fatalf("LockWithin while the holder ends: %v", err)
	}
}
