package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/internal/runtext"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/state"
)

// Live pages
//
// A page that changes while runs go on opens an EventSource on
// /events/...: the server sends "swap" events, each a fragment of the page
// rendered again by the same template ({"id": ELEMENT, "html": HTML}), and
// for a run's log, "log" events with the text written since (the script
// appends it as text, never as HTML).

// livePoll is how often a live stream looks for changes.
const livePoll = 250 * time.Millisecond

// logDrain bounds how long a run's stream waits, after the run ended, for
// the end of its log.
const logDrain = 10 * time.Second

// sse writes Server-Sent Events.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) (*sse, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return nil, false
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sse{w, f}, true
}

func (e *sse) send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return err
	}
	e.f.Flush()
	return nil
}

type swap struct {
	ID   string `json:"id"`
	HTML string `json:"html"`
}

// fragment renders the template name with data.
func (s *Server) fragment(name string, data any) string {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		return ""
	}
	return buf.String()
}

// eventsInstances sends the instances table whenever it changes.
func (s *Server) eventsInstances(w http.ResponseWriter, r *http.Request) {
	ev, ok := startSSE(w)
	if !ok {
		return
	}
	last := ""
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		html := s.fragment("instance-rows", s.instances(r))
		if html != last {
			if ev.send("swap", swap{"instance-rows", html}) != nil {
				return
			}
			last = html
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// eventsRun follows one run: its log from byte ?from= on, its charts and
// status, until it ends (and a little after: the collected log).
func (s *Server) eventsRun(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	from, _ := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	ev, ok := startSSE(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	cfg := s.config()
	secrets := secretsOf(cfg)
	logs := make(chan string, 64)
	tailing := false
	startTail := func(run *state.Run) {
		if tailing || s.src.Log == nil || run.Handle == nil {
			return
		}
		if cfg == nil && run.Inputs != nil && run.Inputs.SecretsHash != "" {
			return // cannot redact: the page said so
		}
		tailing = true
		go tail(ctx, s.src.Log, run, from, logs)
	}
	if run.Live() {
		startTail(run)
	}
	var lastCharts, lastStatus string
	var lastSize int64 = -1
	var ended time.Time
	t := time.NewTicker(livePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case text, ok := <-logs:
			if !ok {
				logs = nil
				continue
			}
			if ev.send("log", visible(lang.Redact(text, secrets))) != nil {
				return
			}
			continue
		case <-t.C:
		}
		s.mu.Lock()
		s.reload()
		cur, err := s.src.State.Get(run.ID)
		s.mu.Unlock()
		if err != nil {
			return
		}
		if cur.Live() {
			startTail(cur)
		}
		status := runtext.Status(cur)
		if status != lastStatus {
			lastStatus = status
			html := s.fragment("run-status", runBody{Run: redactRun(cur, secrets), Status: status, Live: cur.Live(), Cancelable: cur.Live() && s.src.Cancel != nil})
			if ev.send("swap", swap{"run-status", html}) != nil {
				return
			}
		}
		if size := fileSize(s.metricsPath(cur)); size != lastSize {
			lastSize = size
			html := s.fragment("run-charts", runBody{Charts: s.runCharts(cur, secrets)})
			if html != lastCharts {
				lastCharts = html
				if ev.send("swap", swap{"run-charts", html}) != nil {
					return
				}
			}
		}
		if !cur.Live() && ended.IsZero() {
			ended = time.Now()
		}
		// Once the run ended, the log follower drains what is left; it
		// is given logDrain at most.
		if !cur.Live() && (logs == nil || !tailing || time.Since(ended) > logDrain) {
			ev.send("end", status)
			return
		}
	}
}

// tail sends the log of run from byte from on, line by line, until it ends
// or ctx is done; then it closes out.
func tail(ctx context.Context, open func(context.Context, *state.Run, bool) (io.ReadCloser, error), run *state.Run, from int64, out chan<- string) {
	defer close(out)
	rc, err := open(ctx, run, true)
	if err != nil {
		return
	}
	defer rc.Close()
	go func() { <-ctx.Done(); rc.Close() }()
	if from > 0 {
		if _, err := io.CopyN(io.Discard, rc, from); err != nil {
			return
		}
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			select {
			case out <- line:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func fileSize(p string) int64 {
	fi, err := lstat(p)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// planEvery is how often the plan page looks whether the state moved (a
// run ended) when no file changed.
const planEvery = 2 * time.Second

// eventsPlan plans again whenever a file the plan depends on changes, or
// the state moves, and sends the plan when it differs.
func (s *Server) eventsPlan(w http.ResponseWriter, r *http.Request) {
	ev, ok := startSSE(w)
	if !ok {
		return
	}
	var changes <-chan fswatch.Batch
	var wt *fswatch.Watcher
	if s.src.PlanTargets != nil {
		var err error
		if wt, err = fswatch.New(fswatch.Options{}); err == nil {
			defer wt.Close()
			if wt.Set(s.src.PlanTargets()) == nil {
				changes = wt.Changes()
			}
		}
	}
	s.mu.Lock()
	serial := s.src.State.Serial()
	s.mu.Unlock()
	t := time.NewTicker(planEvery)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-r.Context().Done():
			return
		case _, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			_ = wt.Set(s.src.PlanTargets()) // the configuration may name other sources now
		case <-t.C:
			s.mu.Lock()
			s.reload()
			now := s.src.State.Serial()
			s.mu.Unlock()
			if now == serial {
				continue
			}
			serial = now
		}
		html := s.fragment("plan-body", s.plan(r.Context()))
		if html != last {
			last = html
			if ev.send("swap", swap{"plan-body", html}) != nil {
				return
			}
		}
	}
}
