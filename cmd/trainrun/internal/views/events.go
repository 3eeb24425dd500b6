package views

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/internal/runtext"
	"github.com/trainrun/trainrun/internal/termtext"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/runtime"
)

// Events turns runtime events into output: JSON lines, or lines for a
// person — timestamped off a terminal; on a terminal, with a status line
// that shows the live runs and their elapsed time.
type Events struct {
	w     io.Writer
	json  *json.Encoder
	tty   bool
	color bool

	mu      sync.Mutex
	live    map[string]time.Time // address → started
	liveRun map[string]string    // address → the live run's id
	// streamed holds the runs whose log was shown as it was written: their
	// end does not repeat its last lines.
	streamed map[string]bool
	// batchFailed holds the reasons of runs whose batch was refused: said
	// once for the batch, not again for each run.
	batchFailed map[string]bool
	done        int
	ticker      *time.Ticker
	stopped     chan struct{}
	status      bool // a status line is on screen
}

// NewEvents returns the view of a command's events written to w: JSON
// lines with asJSON, else lines for a person, with a status line when tty
// (w is a terminal), coloured when color.
func NewEvents(w io.Writer, tty, color, asJSON bool) *Events {
	r := &Events{w: w, tty: tty, color: color, live: make(map[string]time.Time), liveRun: make(map[string]string), streamed: make(map[string]bool), batchFailed: make(map[string]bool)}
	if asJSON {
		r.json = json.NewEncoder(w)
		return r
	}
	if r.tty {
		r.ticker = time.NewTicker(time.Second)
		r.stopped = make(chan struct{})
		go func() {
			for {
				select {
				case <-r.ticker.C:
					r.mu.Lock()
					r.drawStatus()
					r.mu.Unlock()
				case <-r.stopped:
					return
				}
			}
		}()
	}
	return r
}

// Close stops the status line and clears it.
func (r *Events) Close() {
	if r.ticker != nil {
		r.ticker.Stop()
		close(r.stopped)
		r.mu.Lock()
		r.clearStatus()
		r.mu.Unlock()
	}
}

// Event shows ev: the runtime's sink.
func (r *Events) Event(ev runtime.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if r.json != nil {
		_ = r.json.Encode(ev)
		return
	}
	switch ev.Type {
	case runtime.RunStarted, runtime.RunReattached:
		r.live[ev.Address] = derefTime(ev.Started, ev.Time)
		r.liveRun[ev.Address] = ev.RunID
	case runtime.RunOutput:
		r.streamed[ev.RunID] = true
	case runtime.RunFinished, runtime.RunSkipped, runtime.RunDetached:
		// A superseded run may end after its successor started (watch).
		if id := r.liveRun[ev.Address]; id == "" || ev.RunID == "" || id == ev.RunID {
			delete(r.live, ev.Address)
			delete(r.liveRun, ev.Address)
		}
		r.done++
	}
	line := r.describe(escapeEvent(ev))
	if line == "" {
		return
	}
	r.clearStatus()
	if !r.tty {
		line = ev.Time.Format("15:04:05") + " " + line
	}
	fmt.Fprintln(r.w, line)
	r.drawStatus()
}

// escapeEvent escapes what an event carries from runs and computes
// (termtext) before the renderer adds its own colours: a log line, a
// reason, a metric name may hold escape sequences, or be 100 KB long.
func escapeEvent(ev runtime.Event) runtime.Event {
	ev.Address, ev.Compute, ev.RunID = termtext.Escape(ev.Address), termtext.Escape(ev.Compute), termtext.Escape(ev.RunID)
	ev.Line, ev.Message = termtext.Escape(ev.Line), termtext.EscapeLines(ev.Message)
	ev.Reason = termtext.EscapeLines(ev.Reason)
	if len(ev.Tail) > 0 {
		tail := make([]string, len(ev.Tail))
		for i, l := range ev.Tail {
			tail[i] = termtext.Escape(l)
		}
		ev.Tail = tail
	}
	return ev
}

func (r *Events) describe(ev runtime.Event) string {
	who := ev.Address
	switch ev.Type {
	case runtime.RunStarted:
		attempt := ""
		if ev.Attempt > 1 {
			attempt = fmt.Sprintf(", attempt %d", ev.Attempt)
		}
		return fmt.Sprintf("%s: started on %s (run %s%s)", who, ev.Compute, ev.RunID, attempt)
	case runtime.RunReattached:
		return fmt.Sprintf("%s: re-attached to run %s on %s", who, ev.RunID, ev.Compute)
	case runtime.RunOutput:
		return fmt.Sprintf("%s | %s", who, ev.Line)
	case runtime.RunRetrying:
		if ev.Backoff != "" {
			return fmt.Sprintf("%s: attempt %d failed (%s); retrying in %s", who, ev.Attempt, oneLine(ev.Reason), ev.Backoff)
		}
		return fmt.Sprintf("%s: attempt %d failed (%s); retrying", who, ev.Attempt, oneLine(ev.Reason))
	case runtime.RunFinished:
		if r.batchFailed[ev.Reason] && ev.Status == providers.Failed {
			return "" // said once for its batch
		}
		s := fmt.Sprintf("%s: %s%s (run %s)", who, r.paintState(ev.Status), elapsedText(ev), ev.RunID)
		if ev.Status != providers.Succeeded && ev.Reason != "" && ev.Reason != string(ev.Status) {
			s += ": " + oneLine(ev.Reason) // not "cancelled: cancelled"
		}
		if len(ev.Tail) == 0 {
			return s
		}
		if !r.streamed[ev.RunID] {
			for _, l := range ev.Tail {
				s += "\n    " + l
			}
		}
		return s + fmt.Sprintf("\n    (full log: trainrun logs %s)", ev.RunID)
	case runtime.RunWaiting:
		return fmt.Sprintf("%s: waits on another apply, %s, which claimed it: its result is used, it is not started again", who, ev.Message)
	case runtime.RunByOther:
		return fmt.Sprintf("%s: %s by another apply (run %s); nothing ran here", who, ev.Status, ev.RunID)
	case runtime.RunWaitingOn:
		return fmt.Sprintf("%s: waiting: %s", who, oneLine(ev.Reason))
	case runtime.RunResumed:
		what := strings.TrimSuffix(oneLine(ev.Reason), " (retrying)")
		if what == "" {
			what = "requeued"
		}
		if ev.Started != nil {
			return fmt.Sprintf("%s: running since %s, after waiting %s (%s)", who, ev.Started.Local().Format("15:04:05"), seconds(ev.Waited), what)
		}
		return fmt.Sprintf("%s: done waiting after %s (%s)", who, seconds(ev.Waited), what)
	case runtime.RunRequeued:
		return fmt.Sprintf("%s: requeued (attempt %d)", who, ev.Attempt)
	case runtime.BatchFailed:
		r.batchFailed["submit: "+ev.Reason] = true
		return fmt.Sprintf("%s: %s not submitted: %s", who, plural.Count(ev.Counts["runs"], "run"), oneLine(ev.Reason))
	case runtime.RunRestored:
		return fmt.Sprintf("%s: restored: %s; nothing ran (run %s)", who, ev.Reason, ev.RunID)
	case runtime.RunSkipped:
		return fmt.Sprintf("%s: skipped: %s", who, ev.Reason)
	case runtime.RunStopping:
		return fmt.Sprintf("%s: stopping run %s: %s", who, ev.RunID, oneLine(ev.Reason))
	case runtime.RunSuperseded:
		what := "queued run superseded"
		if ev.RunID != "" {
			what = "run " + ev.RunID + " superseded"
		}
		if ev.Reason != "" {
			what += " (" + ev.Reason + ")"
		}
		return fmt.Sprintf("%s: %s; %s", who, what, ev.Message)
	case runtime.RunDecided:
		switch ev.Action {
		case planner.NoOp:
			if ev.RunID == "" { // it never ran: not promoted
				return fmt.Sprintf("%s: %s", who, ev.Reason)
			}
			return fmt.Sprintf("%s: not run again: %s (run %s stays current)", who, ev.Reason, ev.RunID)
		case planner.Submit:
			return fmt.Sprintf("%s: will run: %s", who, ev.Reason)
		case planner.Restore:
			return fmt.Sprintf("%s: will be restored: %s", who, ev.Reason)
		}
		return fmt.Sprintf("%s: no re-run needed: %s", who, ev.Reason)
	case runtime.RunDetached:
		return fmt.Sprintf("%s: left running (run %s on %s): 'trainrun apply' re-attaches, 'trainrun cancel %s' stops it", who, ev.RunID, ev.Compute, ev.RunID)
	case runtime.InstanceSaved:
		return fmt.Sprintf("%s: updated: %s", who, ev.Reason)
	case runtime.EnvPreparing:
		return fmt.Sprintf("%s: %s on %s", who, ev.Message, ev.Compute)
	case runtime.EnvReady:
		return fmt.Sprintf("%s: ready on %s (%s)", who, ev.Compute, ev.Message)
	case runtime.EnvFailed:
		return fmt.Sprintf("%s: %s on %s:\n    %s", who, r.paintState(providers.Failed), ev.Compute, strings.ReplaceAll(ev.Reason, "\n", "\n    "))
	case runtime.ComputeAttached:
		return fmt.Sprintf("%s: %s", who, ev.Message)
	case runtime.Interrupted:
		return ev.Message
	case runtime.Warning:
		if who != "" {
			return fmt.Sprintf("Warning: %s: %s", who, ev.Message)
		}
		return "Warning: " + ev.Message
	}
	return ""
}

// elapsedText is a finished run's own running time, and the time it was
// queued when that was a second or more: " after 8.12s", " after 23.1s,
// queued 2m13s".
func elapsedText(ev runtime.Event) string {
	switch {
	case ev.Ran != nil:
		s := " after " + seconds(*ev.Ran)
		if ev.Queued >= 1 {
			s += ", queued " + seconds(ev.Queued)
		}
		return s
	case ev.Started != nil:
		end := ev.Time
		if ev.Finished != nil {
			end = *ev.Finished
		}
		return " after " + runtext.Elapsed(end.Sub(*ev.Started))
	}
	return ""
}

// seconds is a duration in seconds as trainrun shows durations.
func seconds(s float64) string {
	return runtext.Elapsed(time.Duration(s * float64(time.Second)))
}

// oneLine keeps a run's reason on its line, where the lines below are its
// log's: the several errors of a reason (errors.Join) are joined with "; ".
func oneLine(reason string) string {
	return strings.Join(strings.FieldsFunc(reason, func(r rune) bool { return r == '\n' }), "; ")
}

// StateColor is the colour of each state of a run, wherever it is shown.
var StateColor = map[providers.State]string{
	providers.Succeeded: "32", providers.Failed: "31", providers.Cancelled: "33", providers.Stopped: "36",
	providers.Running: "34", providers.Pending: "34",
}

func (r *Events) paintState(s providers.State) string {
	return Paint(r.color, StateColor[s], string(s))
}

// drawStatus shows the live runs on one line; only on a terminal.
func (r *Events) drawStatus() {
	if !r.tty || len(r.live) == 0 {
		return
	}
	var parts []string
	now := time.Now()
	for _, addr := range slices.Sorted(maps.Keys(r.live)) {
		parts = append(parts, fmt.Sprintf("%s %s", addr, now.Sub(r.live[addr]).Round(time.Second)))
	}
	s := fmt.Sprintf("%d running, %d done: %s", len(r.live), r.done, strings.Join(parts, ", "))
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	fmt.Fprintf(r.w, "\r\x1b[K%s", Paint(r.color, "2", s))
	r.status = true
}

func (r *Events) clearStatus() {
	if r.status {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.status = false
	}
}

func derefTime(t *time.Time, def time.Time) time.Time {
	if t != nil {
		return *t
	}
	return def
}

// Print writes to the terminal between event lines, under the view's
// lock, with the status line out of the way.
func (r *Events) Print(f func(io.Writer)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearStatus()
	f(r.w)
	r.drawStatus()
}

// TTY reports whether the view writes to a terminal.
func (r *Events) TTY() bool { return r.tty }
