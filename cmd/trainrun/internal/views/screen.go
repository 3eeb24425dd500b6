package views

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/trainrun/trainrun/internal/runtext"
	"github.com/trainrun/trainrun/runtime"
)

// This file is watch's full-screen view on a terminal.
//
// composeScreen makes a frame from a screenView: a pure function of the
// view and the terminal's size, so that what the screen shows is tested
// without a terminal. A screen keeps a view up to date from watch's events
// and draws it, in the alternate screen buffer: the user's scrollback is
// left as it was, and the lines printed once watch stops land in it.

// What a screen keeps is bounded, so that a chatty run or a long session
// does not grow watch's memory.
const (
	screenLogLines  = 500  // log lines kept per run: more than a terminal is tall
	screenLineRunes = 1000 // runes kept of one log line
	screenFinished  = 50   // finished runs kept
	screenEvents    = 100  // Event lines kept
	screenDiagLines = 200  // diagnostic lines kept
)

// screenView is what the screen shows.
type screenView struct {
	Now         time.Time
	Watching    string // what is watched
	Change      string // the last change and its files; "" before the first
	Broken      bool   // the configuration on disk has errors
	GoodConfig  bool   // a last good configuration is in force
	Diagnostics []string
	PlanTitle   string
	Plan        []string // as renderPlan prints it
	Pending     bool     // the plan waits for Enter
	Runs        []*screenRun
	Events      []string // the latest last, each with its time
	Focus       int      // the Seq of the run the user picked; 0: automatic
	Stopping    bool
}

// screenRun is one run seen during the session.
type screenRun struct {
	Seq     int // numbered as seen, from 1: what the user types to focus it
	Address string
	RunID   string
	Compute string
	Attempt int
	State   string // running, retrying, a final state, or "left running"
	Live    bool
	Started time.Time
	Ended   time.Time // when not Live
	Reason  string
	Metrics string   // the latest value of each metric, as status writes them
	Log     []string // the log's last lines
}

// composeScreen lays v out in height lines (fewer only when the header
// alone fills them) of at most width columns: a header (what is watched,
// the last change, the configuration's errors), then sections for the
// plan, the runs, the latest events and the focused run's log, and a line
// saying which keys do what.
func composeScreen(v *screenView, width, height int) []string {
	if width <= 0 || height <= 0 {
		return nil
	}
	head := v.header(width, height)
	if len(head) >= height {
		return clipAll(head[:height], width)
	}
	avail := height - len(head) - 1 // the hint line
	focus := v.focused()

	// Sections in the order they are given rows; order says where they
	// appear.
	var shown []*section
	if len(v.Runs) > 0 {
		shown = append(shown, v.runsSection(focus, width))
	}
	if focus != nil {
		shown = append(shown, logSection(focus, v.Focus == focus.Seq))
	}
	shown = append(shown, v.planSection())
	if len(v.Events) > 0 {
		shown = append(shown, eventsSection(v.Events))
	}
	// A title and at least one row each, or the least needed go.
	for len(shown) > 0 && avail < 2*len(shown) {
		least := leastNeeded(shown)
		shown = slices.DeleteFunc(shown, func(s *section) bool { return s == least })
	}
	rows := avail - len(shown)
	for _, s := range shown {
		if s.cap == 0 { // the plan and the runs: a third of the rows each
			s.cap = max(2, rows/3)
		}
	}
	allocate(shown, rows)

	lines := clipAll(head, width)
	slices.SortStableFunc(shown, func(a, b *section) int { return a.order - b.order })
	for _, s := range shown {
		lines = append(lines, rule(s.title, width))
		lines = append(lines, clipAll(s.fit(s.rows), width)...)
	}
	// The hint stays on the last line, above the prompt.
	for len(lines) < height-1 {
		lines = append(lines, "")
	}
	return append(lines, clip(v.hint(), width))
}

// section is one titled part of the screen.
type section struct {
	title string
	order int // on screen, top to bottom
	rank  int // the higher, the sooner it goes when space is short
	want  int // rows that show all of it
	cap   int // rows it gets before the others have theirs; 0: a third
	rows  int // rows it gets
	fit   func(n int) []string
}

func leastNeeded(ss []*section) *section {
	var least *section
	for _, s := range ss {
		if least == nil || s.rank > least.rank {
			least = s
		}
	}
	return least
}

// allocate shares rows among ss: one at a time, in turn, first up to
// each section's cap, then up to what each wants. The log's cap is none,
// so it takes what the others leave, and gives back what it does not use.
func allocate(ss []*section, rows int) {
	for _, capped := range []bool{true, false} {
		for more := true; more && rows > 0; {
			more = false
			for _, s := range ss {
				limit := s.want
				if capped && s.cap < limit {
					limit = s.cap
				}
				if s.rows < limit && rows > 0 {
					s.rows++
					rows--
					more = true
				}
			}
		}
	}
}

func (v *screenView) header(width, height int) []string {
	title := "trainrun watch: " + v.Watching
	if !v.Now.IsZero() {
		clock := v.Now.Format("15:04:05")
		if pad := width - runesWidth(title) - len(clock); pad >= 2 {
			title += strings.Repeat(" ", pad) + clock
		}
	}
	change := v.Change
	if change == "" {
		change = "No change yet: save a file to plan again."
	}
	lines := []string{title, change}
	if !v.Broken {
		return lines
	}
	if v.GoodConfig {
		lines = append(lines, "The configuration has errors; the last good configuration stays in force until a save fixes them:")
	} else {
		lines = append(lines, "The configuration has errors; nothing runs until a save fixes them:")
	}
	// The diagnostics may take a third of the screen.
	diags := v.Diagnostics
	if len(diags) == 0 {
		diags = []string{"(no details)"}
	}
	return append(lines, indent(trimMiddle(diags, max(1, height/3)))...)
}

func (v *screenView) hint() string {
	switch {
	case v.Stopping:
		return "Stopping: waiting for the applies under way to return."
	case v.Pending:
		return "Enter: apply the plan · n Enter: skip it · NUMBER Enter: show that run's log · Ctrl-C: stop"
	}
	return "NUMBER Enter: show that run's log (0: the latest run's) · Ctrl-C: stop watching"
}

func (v *screenView) planSection() *section {
	title := v.PlanTitle
	if title == "" {
		title = "Plan"
	}
	if v.Pending {
		title += ": waiting for Enter"
	}
	var body []string
	for _, l := range v.Plan {
		if strings.TrimSpace(l) != "" { // blank lines are a luxury here
			body = append(body, l)
		}
	}
	if len(body) == 0 {
		body = []string{"No plan yet."}
	}
	return &section{title: title, order: 0, rank: 2, want: len(body),
		fit: func(n int) []string { return trimMiddle(body, n) }}
}

func (v *screenView) runsSection(focus *screenRun, width int) *section {
	var live, done []*screenRun
	for _, r := range v.Runs {
		if r.Live {
			live = append(live, r)
		} else {
			done = append(done, r)
		}
	}
	// The newest first: live by start, the others by end.
	slices.SortStableFunc(live, func(a, b *screenRun) int { return b.Started.Compare(a.Started) })
	slices.SortStableFunc(done, func(a, b *screenRun) int { return b.Ended.Compare(a.Ended) })
	rows := append(live, done...)
	addrW, stateW, seqW := 0, 0, 0
	for _, r := range rows {
		addrW = max(addrW, runesWidth(r.Address))
		stateW = max(stateW, len(r.State))
		seqW = max(seqW, len(strconv.Itoa(r.Seq)))
	}
	addrW = min(addrW, max(8, width/3))
	title := fmt.Sprintf("Runs: %d live, %d finished", len(live), len(done))
	return &section{title: title, order: 1, rank: 0, want: len(rows),
		fit: func(n int) []string {
			var lines []string
			for i, r := range rows[:min(n, len(rows))] {
				if i == n-1 && n > 1 && len(rows) > n {
					lines = append(lines, fmt.Sprintf("  … %d more", len(rows)-i))
					break
				}
				lines = append(lines, runRow(r, v.Now, r == focus, seqW, addrW, stateW))
			}
			return lines
		}}
}

// runRow is a run's line: its number, instance, state, elapsed time and
// id, or why it ended.
func runRow(r *screenRun, now time.Time, focused bool, seqW, addrW, stateW int) string {
	mark := "  "
	if focused {
		mark = "> "
	}
	var elapsed string
	detail := "run " + r.RunID
	if r.Live {
		elapsed = runtext.Ticking(now.Sub(r.Started), false)
		if r.Compute != "" {
			detail += " on " + r.Compute
		}
	} else {
		elapsed = runtext.Ticking(r.Ended.Sub(r.Started), true)
	}
	if r.Attempt > 1 {
		detail += fmt.Sprintf(", attempt %d", r.Attempt)
	}
	if r.Reason != "" && r.State != "succeeded" {
		detail += ": " + r.Reason
	}
	if r.Metrics != "" {
		detail += " · " + r.Metrics
	}
	addr := padRight(clip(r.Address, addrW), addrW)
	return fmt.Sprintf("%s#%-*d %s  %-*s %7s  %s", mark, seqW, r.Seq, addr, stateW, r.State, elapsed, detail)
}

func logSection(r *screenRun, pinned bool) *section {
	title := fmt.Sprintf("Log of #%d %s (run %s)", r.Seq, r.Address, r.RunID)
	if pinned {
		title += ", picked"
	}
	body := r.Log
	if len(body) == 0 {
		if r.Live {
			body = []string{"(no output yet)"}
		} else {
			body = []string{"(no output)"}
		}
	}
	return &section{title: title, order: 3, rank: 1, want: len(body), cap: len(body), // what is left
		fit: func(n int) []string { return body[max(0, len(body)-n):] }}
}

func eventsSection(events []string) *section {
	// Three lines, more when the log leaves rows.
	return &section{title: "Events", order: 2, rank: 3, want: min(10, len(events)), cap: min(3, len(events)),
		fit: func(n int) []string { return events[max(0, len(events)-n):] }}
}

// focused is the run whose log is shown: the one the user picked while it
// is on screen; else the live run that started last; else the run that
// ended last.
func (v *screenView) focused() *screenRun {
	var live, done *screenRun
	for _, r := range v.Runs {
		switch {
		case v.Focus != 0 && r.Seq == v.Focus:
			return r
		case r.Live && (live == nil || !r.Started.Before(live.Started)):
			live = r
		case !r.Live && (done == nil || !r.Ended.Before(done.Ended)):
			done = r
		}
	}
	if live != nil {
		return live
	}
	return done
}

// trimMiddle fits lines in n rows: the first ones, a line saying how many
// are left out, and the last one (a plan's summary, a diagnostic's end).
// In one or two rows, the first line and the last.
func trimMiddle(lines []string, n int) []string {
	switch {
	case len(lines) <= n:
		return lines
	case n <= 0:
		return nil
	case n == 1:
		return lines[:1]
	case n == 2:
		return []string{lines[0], lines[len(lines)-1]}
	}
	out := slices.Clone(lines[:n-2])
	out = append(out, fmt.Sprintf("  … %d more lines", len(lines)-(n-1)))
	return append(out, lines[len(lines)-1])
}

func indent(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if l != "" {
			out[i] = "  " + l
		}
	}
	return out
}

// rule is a section's title across the screen.
func rule(title string, width int) string {
	s := clip("── "+title+" ", width)
	return s + strings.Repeat("─", max(0, width-runesWidth(s)))
}

func clipAll(lines []string, width int) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = clip(l, width)
	}
	return out
}

// clip makes s one line of at most width columns, cut with an ellipsis.
func clip(s string, width int) string {
	s = sanitize(s)
	if runesWidth(s) <= width {
		return s
	}
	if width <= 0 {
		return ""
	}
	var b strings.Builder
	w := 0
	for _, r := range s {
		rw := runeWidth(r)
		if w+rw > width-1 {
			break
		}
		b.WriteRune(r)
		w += rw
	}
	b.WriteString("…")
	return b.String()
}

func padRight(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-runesWidth(s)))
}

// sanitize makes s safe to print at a place of the screen: what a run
// writes may move the cursor or recolour the terminal. A carriage return
// (a progress bar) keeps what was written after the last one, escape
// sequences and other control characters go, tabs become spaces.
func sanitize(s string) string {
	if i := strings.LastIndexByte(strings.TrimRight(s, "\r\n"), '\r'); i >= 0 {
		s = s[i+1:]
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	col := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\x1b':
			i += escapeLen(s[i:])
		case r == '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		default:
			b.WriteRune(r)
			col += runeWidth(r)
		}
	}
	return b.String()
}

// escapeLen is the length of the escape sequence whose ESC came before s.
func escapeLen(s string) int {
	if s == "" {
		return 0
	}
	switch s[0] {
	case '[': // CSI: parameters, then a final byte in @–~
		for i := 1; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return len(s)
	case ']', 'P', '_', '^': // strings, ended by BEL or ESC \
		for i := 1; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	return 1
}

func runesWidth(s string) int {
	w := 0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

// runeWidth is the number of columns r takes: none for combining marks,
// two for the wide and fullwidth characters of Unicode's East Asian Width
// (golang.org/x/text/width: East Asian scripts, emoji), else one.
// A wrong guess wraps a line and shifts the screen until the next frame.
func runeWidth(r rune) int {
	if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || r == 0x200b {
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// Screen keeps a screenView up to date and draws it on the terminal.
type Screen struct {
	desc *Events // says what an event is, as apply's lines do

	mu    sync.Mutex
	v     screenView
	byID  map[string]*screenRun
	seq   int
	final []string // lines since watching began to stop: printed after the screen is left

	out   io.Writer
	size  func() (width, height int)
	winch chan os.Signal // the size changed
	tstp  chan os.Signal // Ctrl-Z
	cont  chan os.Signal // continued after a stop
	kick  chan struct{}  // something changed
	full  chan struct{}  // redraw everything, the prompt line too
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func NewScreen() *Screen {
	return &Screen{
		desc: &Events{batchFailed: make(map[string]bool)},
		byID: make(map[string]*screenRun),
		kick: make(chan struct{}, 1),
		full: make(chan struct{}, 1),
	}
}

// Start switches out to the alternate screen buffer and draws there until
// close: on each change (at most 25 times a second), each second (the
// elapsed times), and in full when the terminal is resized. Ctrl-Z leaves
// the screen before watch stops, so that the shell is on the normal one.
//
// The last line is the prompt, where the terminal echoes what the user
// types: the frames drawn in between save and restore the cursor, so that
// the echo stays where the user left it.
func (s *Screen) Start(out io.Writer, size func() (int, int)) {
	s.out, s.size = out, size
	s.quit, s.done = make(chan struct{}), make(chan struct{})
	s.winch, s.tstp, s.cont = make(chan os.Signal, 1), make(chan os.Signal, 1), make(chan os.Signal, 1)
	signal.Notify(s.winch, syscall.SIGWINCH)
	signal.Notify(s.tstp, syscall.SIGTSTP)
	signal.Notify(s.cont, syscall.SIGCONT)
	_, _ = io.WriteString(out, screenEnter)
	s.draw(true)
	go s.loop()
}

func (s *Screen) loop() {
	defer close(s.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-s.winch:
			s.draw(true)
		case <-s.tstp:
			s.suspend()
		case <-s.cont: // stopped by another signal: the screen may be another program's
			s.draw(true)
		case <-s.full:
			s.draw(true)
		case <-tick.C:
			s.draw(false)
		case <-s.kick:
			s.draw(false)
			// A chatty log changes the view all the time: let a
			// frame be seen before the next.
			select {
			case <-s.quit:
				return
			case <-time.After(40 * time.Millisecond):
			}
		}
	}
}

// draw writes a frame over the last: every line cleared and written again
// (no flicker of a whole-screen clear), the prompt line only when full.
func (s *Screen) draw(full bool) {
	width, height := s.size()
	s.mu.Lock()
	s.v.Now = time.Now()
	lines := composeScreen(&s.v, width, height-1)
	s.mu.Unlock()
	var b strings.Builder
	b.WriteString("\x1b[?25l")
	if !full {
		b.WriteString("\x1b7")
	}
	b.WriteString("\x1b[H")
	for i := range height - 1 {
		b.WriteString("\x1b[2K")
		if i < len(lines) {
			b.WriteString(lines[i])
		}
		b.WriteString("\r\n")
	}
	if full {
		b.WriteString("\x1b[2K> ")
	} else {
		b.WriteString("\x1b8")
	}
	b.WriteString("\x1b[?25h")
	_, _ = io.WriteString(s.out, b.String())
}

// suspend does what Ctrl-Z does to a program that does not catch it, the
// screen left meanwhile. SIGSTOP, unlike SIGTSTP, stops the process even
// when nothing would continue it (an orphaned process group).
func (s *Screen) suspend() {
	_, _ = io.WriteString(s.out, screenLeave)
	select {
	case <-s.cont:
	default:
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
	// The stop may take effect after Kill returns: the screen comes
	// back once SIGCONT says watch goes on.
	select {
	case <-s.cont:
	case <-s.quit:
		return
	}
	_, _ = io.WriteString(s.out, screenEnter)
	s.draw(true)
}

// The alternate screen buffer, as xterm names it (smcup/rmcup): entering
// it saves the cursor, leaving restores it and the screen as it was.
const (
	screenEnter = "\x1b[?1049h\x1b[2J"
	screenLeave = "\x1b[?25h\x1b[?1049l" // the cursor shown, too
)

// Close leaves the alternate screen, the cursor shown, and returns the
// lines to print on the normal screen: those since watching began to stop.
// Safe to call more than once.
func (s *Screen) Close() []string {
	s.once.Do(func() {
		if s.out == nil {
			return
		}
		close(s.quit)
		<-s.done
		signal.Stop(s.winch)
		signal.Stop(s.tstp)
		signal.Stop(s.cont)
		_, _ = io.WriteString(s.out, screenLeave)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.final)
}

// changed asks for a frame soon.
func (s *Screen) changed() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// RedrawAll asks for a full frame: after the user pressed Enter, the
// terminal's echo moved the cursor off the prompt line.
func (s *Screen) RedrawAll() {
	select {
	case s.full <- struct{}{}:
	default:
	}
}

// Event is the runtime's sink in screen mode.
func (s *Screen) Event(ev runtime.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed()
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	r := s.byID[ev.RunID]
	switch ev.Type {
	case runtime.RunStarted, runtime.RunReattached:
		if r == nil {
			r = s.add(ev)
		} else if ev.Attempt > r.Attempt {
			r.appendLog(fmt.Sprintf("(attempt %d)", ev.Attempt))
		}
		r.Live, r.State, r.Ended, r.Reason = true, "running", time.Time{}, ""
		r.Started = derefTime(ev.Started, ev.Time)
		r.Compute, r.Attempt = ev.Compute, ev.Attempt
	case runtime.RunOutput:
		if r != nil {
			r.appendLog(ev.Line)
		}
		return // the log section shows it
	case runtime.RunMetrics:
		if r != nil {
			r.Metrics = sanitize(runtext.Metrics(ev.Metrics, ""))
		}
		return // the runs section shows them
	case runtime.RunStopping:
		if r != nil {
			r.State, r.Reason = "stopping", ev.Reason
		}
	case runtime.RunRetrying:
		if r != nil {
			r.State, r.Reason = "retrying", ev.Reason
		}
	case runtime.RunWaitingOn:
		if r != nil {
			r.State, r.Reason = "waiting", ev.Reason
		}
	case runtime.RunRequeued:
		if r != nil {
			r.State, r.Reason, r.Attempt = "requeued", "", ev.Attempt
			r.appendLog(fmt.Sprintf("(requeued: attempt %d)", ev.Attempt))
		}
	case runtime.RunResumed:
		if r != nil {
			r.State, r.Reason = "running", ""
			if ev.Started != nil {
				r.Started = *ev.Started
			}
		}
	case runtime.RunFinished, runtime.RunDetached:
		if r == nil && ev.RunID != "" { // it never started
			r = s.add(ev)
			r.Started = derefTime(ev.Started, ev.Time)
		}
		if r != nil {
			r.Live, r.Ended, r.Reason = false, ev.Time, ev.Reason
			r.State = string(ev.Status)
			if ev.Type == runtime.RunDetached {
				r.State = "left running"
			}
			if len(r.Log) == 0 {
				for _, l := range ev.Tail {
					r.appendLog(l)
				}
			}
			s.forgetFinished()
		}
	case runtime.Interrupted:
		s.stopping()
	}
	text := s.desc.describe(ev)
	short := text
	if ev.Type == runtime.RunFinished {
		ev.Tail = nil // the log section shows it
		short = s.desc.describe(ev)
	}
	s.record(ev.Time, short, text)
}

func (s *Screen) add(ev runtime.Event) *screenRun {
	s.seq++
	r := &screenRun{Seq: s.seq, Address: ev.Address, RunID: ev.RunID, Compute: ev.Compute, Attempt: ev.Attempt}
	s.v.Runs = append(s.v.Runs, r)
	s.byID[r.RunID] = r
	return r
}

// forgetFinished drops the finished runs that ended first beyond
// screenFinished.
func (s *Screen) forgetFinished() {
	for {
		n, first := 0, -1
		for i, r := range s.v.Runs {
			if !r.Live {
				n++
				if first < 0 || r.Ended.Before(s.v.Runs[first].Ended) {
					first = i
				}
			}
		}
		if n <= screenFinished {
			return
		}
		delete(s.byID, s.v.Runs[first].RunID)
		s.v.Runs = slices.Delete(s.v.Runs, first, first+1)
	}
}

// appendLog keeps line among the last screenLogLines of the log.
func (r *screenRun) appendLog(line string) {
	line = sanitize(line)
	if utf8.RuneCountInString(line) > screenLineRunes {
		line = string([]rune(line)[:screenLineRunes])
	}
	if len(r.Log) >= 2*screenLogLines { // copy once every screenLogLines lines
		r.Log = append(r.Log[:0], r.Log[len(r.Log)-screenLogLines+1:]...)
	}
	r.Log = append(r.Log, line)
}

// record adds an event line: short on screen, text (with a failed run's
// last lines) after it is left, once watching began to stop.
func (s *Screen) record(t time.Time, short, text string) {
	if short == "" {
		return
	}
	for l := range strings.SplitSeq(short, "\n") {
		s.v.Events = append(s.v.Events, t.Format("15:04:05")+" "+l)
	}
	if n := len(s.v.Events) - screenEvents; n > 0 {
		s.v.Events = slices.Delete(s.v.Events, 0, n)
	}
	if s.v.Stopping && text != "" && len(s.final) < screenEvents {
		s.final = append(s.final, text)
	}
}

// Say shows a line of watch's own.
func (s *Screen) Say(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed()
	s.record(time.Now(), line, line)
}

// Stop says that watching stops: the lines from now on are printed again
// after the screen is left.
func (s *Screen) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed()
	s.stopping()
}

func (s *Screen) stopping() {
	s.v.Stopping = true
	s.v.Pending = false
}

func (s *Screen) SetWatching(what string) {
	s.update(func(v *screenView) { v.Watching = what })
}

func (s *Screen) SetChange(what string) {
	s.update(func(v *screenView) { v.Change = what })
}

// SetConfig shows what loading the configuration said: its errors in the
// header, or its warnings among the events.
func (s *Screen) SetConfig(broken, good bool, diagnostics string) {
	lines := strings.Split(strings.TrimRight(diagnostics, "\n"), "\n")
	if diagnostics == "" {
		lines = nil
	}
	if len(lines) > screenDiagLines {
		lines = append(lines[:screenDiagLines-1], "…")
	}
	s.update(func(v *screenView) {
		v.Broken, v.GoodConfig = broken, good
		v.Diagnostics = nil
		if broken {
			v.Diagnostics = lines
		}
	})
	if !broken {
		for _, l := range lines {
			if strings.TrimSpace(l) != "" {
				s.Say(l)
			}
		}
	}
}

func (s *Screen) SetPlan(title string, lines []string, pending bool) {
	s.update(func(v *screenView) { v.PlanTitle, v.Plan, v.Pending = title, lines, pending })
}

// PlanDecided notes what became of the plan that waited for Enter.
func (s *Screen) PlanDecided(what string) {
	s.update(func(v *screenView) {
		v.Pending = false
		v.PlanTitle += " (" + what + ")"
	})
}

func (s *Screen) update(f func(*screenView)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.v)
	s.changed()
}

// Pick handles a line the user typed that is a run's number: its log is
// shown from now on; 0 goes back to the latest run's. It reports whether
// line was one.
func (s *Screen) Pick(line string) bool {
	line = strings.TrimSpace(line)
	n, err := strconv.Atoi(line)
	if err != nil || n < 0 || line[0] == '+' {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed()
	if n == 0 {
		s.v.Focus = 0
		return true
	}
	for _, r := range s.v.Runs {
		if r.Seq == n {
			s.v.Focus = n
			return true
		}
	}
	s.record(time.Now(), fmt.Sprintf("No run #%d on the screen.", n), "")
	return true
}
