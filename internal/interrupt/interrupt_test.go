package interrupt

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/runtime"
)

// events collects what a Handler says.
type events struct {
	mu   sync.Mutex
	msgs []string
}

func (e *events) emit(ev runtime.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.Type != runtime.Interrupted {
		panic("not an Interrupted event: " + string(ev.Type))
	}
	e.msgs = append(e.msgs, ev.Message)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.msgs...)
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitClosed waits for ch, failing after a deadline.
func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not close", what)
	}
}

func TestTwoSteps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		live   bool
		sigs   []os.Signal
		cancel bool     // the context is cancelled: the live runs are
		says   []string // what each message contains
	}{
		{"ctrl-c, nothing live", false, []os.Signal{os.Interrupt}, false, []string{"none is running"}},
		{"ctrl-c, runs live", true, []os.Signal{os.Interrupt}, false, []string{"Press Ctrl-C again within 1h0m0s"}},
		{"ctrl-c twice", true, []os.Signal{os.Interrupt, os.Interrupt}, true, []string{"Live runs keep running", "Second interrupt: cancelling the live runs."}},
		{"sigterm", true, []os.Signal{syscall.SIGTERM}, false, nil},
		{"sighup then ctrl-c", true, []os.Signal{syscall.SIGHUP, os.Interrupt}, true, []string{"Second interrupt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ev events
			sigs := make(chan os.Signal)
			h := Start(sigs, time.Hour, ev.emit, func() bool { return tc.live })
			defer h.Release()
			for _, s := range tc.sigs {
				sigs <- s
			}
			waitClosed(t, "Stop", h.Stop)
			if tc.cancel {
				waitClosed(t, "Ctx", h.Ctx.Done())
			}
			// A first Ctrl-C detaches only after the grace (an hour here);
			// SIGTERM and SIGHUP at once.
			if tc.sigs[0] == os.Interrupt {
				if closed(h.Detach) {
					t.Error("Detach closed before the grace ended")
				}
			} else {
				waitClosed(t, "Detach", h.Detach)
			}
			if !tc.cancel && h.Ctx.Err() != nil {
				t.Error("the context is cancelled; the live runs should keep running")
			}
			msgs := ev.all()
			if len(msgs) != len(tc.says) {
				t.Fatalf("messages %q, want %d", msgs, len(tc.says))
			}
			for i, want := range tc.says {
				if !strings.Contains(msgs[i], want) {
					t.Errorf("message %d: %q, want it to say %q", i, msgs[i], want)
				}
			}
		})
	}
}

func TestDetachAfterGrace(t *testing.T) {
	sigs := make(chan os.Signal)
	h := Start(sigs, time.Millisecond, func(runtime.Event) {}, func() bool { return true })
	defer h.Release()
	sigs <- os.Interrupt
	waitClosed(t, "Detach", h.Detach)
	if h.Ctx.Err() != nil {
		t.Error("detaching cancelled the context")
	}
}

func TestLive(t *testing.T) {
	var l Live
	var passed int
	sink := l.Track(func(runtime.Event) { passed++ })
	for _, tc := range []struct {
		ev   runtime.Event
		live bool
	}{
		{runtime.Event{Type: runtime.RunStarted, RunID: "a"}, true},
		{runtime.Event{Type: runtime.RunReattached, RunID: "b"}, true},
		{runtime.Event{Type: runtime.RunFinished, RunID: "a"}, true},
		{runtime.Event{Type: runtime.RunOutput, RunID: "b"}, true},
		{runtime.Event{Type: runtime.RunDetached, RunID: "b"}, false},
	} {
		sink(tc.ev)
		if l.Any() != tc.live {
			t.Errorf("after %s of %s: Any() = %v, want %v", tc.ev.Type, tc.ev.RunID, l.Any(), tc.live)
		}
	}
	if passed != 5 {
		t.Errorf("%d events passed on, want 5", passed)
	}
}
