// Package interrupt is how a command that applies answers Ctrl-C, in two
// steps. The first Ctrl-C stops starting runs (Stop closes) and leaves the
// live ones running, for a later apply to re-attach to; Detach closes
// after a short grace. A second Ctrl-C within the grace cancels the
// context, which cancels the live runs. SIGTERM and SIGHUP detach at once.
// Stop and Detach are what runtime.Options takes.
package interrupt

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/trainrun/trainrun/runtime"
)

// Grace is how long, after a first Ctrl-C, a second one cancels the live
// runs.
const Grace = 3 * time.Second

// Handler is the state of the two steps.
type Handler struct {
	// Ctx is cancelled by a second Ctrl-C, or by Release.
	Ctx context.Context
	// Stop closes at the first signal: start nothing more.
	Stop <-chan struct{}
	// Detach closes at SIGTERM or SIGHUP, or Grace after a first Ctrl-C:
	// runs still live are left running.
	Detach <-chan struct{}

	cancel context.CancelFunc
	sigs   chan os.Signal
}

// Notify handles the process's SIGINT, SIGTERM and SIGHUP until Release.
// It tells what it does through emit, as an Interrupted event; live says
// whether runs are live (Live.Any), which the first message depends on.
func Notify(emit func(runtime.Event), live func() bool) *Handler {
	h := Start(make(chan os.Signal, 2), Grace, emit, live)
	signal.Notify(h.sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	return h
}

// Start handles the signals delivered on sigs, with grace between a first
// Ctrl-C and detaching: Notify with the signals of a test.
func Start(sigs chan os.Signal, grace time.Duration, emit func(runtime.Event), live func() bool) *Handler {
	ctx, cancel := context.WithCancel(context.Background())
	stop, detach := make(chan struct{}), make(chan struct{})
	h := &Handler{Ctx: ctx, Stop: stop, Detach: detach, cancel: cancel, sigs: sigs}
	go func() {
		n := 0
		for sig := range sigs {
			n++
			switch {
			case n == 1 && sig != os.Interrupt:
				close(stop)
				close(detach)
			case n == 1:
				msg := "Interrupt received: no new runs will start, and none is running."
				if live() {
					msg = fmt.Sprintf("Interrupt received: no new runs will start. Live runs keep running: "+
						"'trainrun apply' re-attaches to them, 'trainrun cancel RUN_ID' stops them. Press Ctrl-C again within %s to cancel them now.", grace)
				}
				emit(runtime.Event{Type: runtime.Interrupted, Message: msg})
				close(stop)
				// A run being started now is left running too, or cancelled
				// by a second Ctrl-C.
				time.AfterFunc(grace, func() { close(detach) })
			case n == 2 && sig == os.Interrupt:
				emit(runtime.Event{Type: runtime.Interrupted, Message: "Second interrupt: cancelling the live runs."})
				cancel()
			}
		}
	}()
	return h
}

// Release stops handling signals and cancels Ctx.
func (h *Handler) Release() {
	signal.Stop(h.sigs)
	h.cancel()
}

// Live follows from a command's events which runs are live.
type Live struct {
	mu  sync.Mutex
	ids map[string]bool
}

// Track returns a sink that notes what is live and passes events to next.
func (l *Live) Track(next func(runtime.Event)) func(runtime.Event) {
	return func(ev runtime.Event) {
		l.mu.Lock()
		switch ev.Type {
		case runtime.RunStarted, runtime.RunReattached:
			if l.ids == nil {
				l.ids = make(map[string]bool)
			}
			l.ids[ev.RunID] = true
		case runtime.RunFinished, runtime.RunDetached:
			delete(l.ids, ev.RunID)
		}
		l.mu.Unlock()
		next(ev)
	}
}

// Any reports whether a run is live.
func (l *Live) Any() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids) > 0
}
