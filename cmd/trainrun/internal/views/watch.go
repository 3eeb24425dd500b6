package views

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/watch"
)

// WatchLines is watch's view as lines: its own between the runs' event
// lines, with a status line on a terminal, timestamped off one.
type WatchLines struct {
	ev     *Events
	stderr io.Writer
	color  bool
	once   sync.Once
}

var _ watch.View = (*WatchLines)(nil)

// NewWatchLines returns the view that writes to stdout and stderr; tty
// says stdout is a terminal.
func NewWatchLines(stdout, stderr io.Writer, tty, color bool) *WatchLines {
	return &WatchLines{ev: NewEvents(stdout, tty, color, false), stderr: stderr, color: color}
}

func (v *WatchLines) Event(ev runtime.Event) { v.ev.Event(ev) }

func (v *WatchLines) Say(line string) {
	v.ev.Print(func(out io.Writer) {
		if !v.ev.TTY() {
			line = time.Now().Format("15:04:05") + " " + line
		}
		fmt.Fprintln(out, line)
	})
}

func (v *WatchLines) Error(line string) {
	v.ev.Print(func(io.Writer) { fmt.Fprintln(v.stderr, line) })
}

// Load prints the diagnostics on stderr, between the event lines.
func (v *WatchLines) Load(load func(diags io.Writer, color bool) *lang.Config, good bool) *lang.Config {
	var cfg *lang.Config
	v.ev.Print(func(io.Writer) { cfg = load(v.stderr, v.color) })
	return cfg
}

func (v *WatchLines) Broken(good bool) {
	if good {
		v.Say("The configuration has errors (above): nothing changes until a save fixes them; the last good configuration stays in force.")
		return
	}
	v.Say("The configuration has errors (above): fix them and save; watching goes on.")
}

func (v *WatchLines) Watching(string)  {}
func (v *WatchLines) Change(string)    {}
func (v *WatchLines) NoChanges(string) {}
func (v *WatchLines) Decided(string)   {}
func (v *WatchLines) Typed(string) bool {
	return false
}
func (v *WatchLines) FullScreen() bool { return false }
func (v *WatchLines) Stopping()        {}

// Plan prints p between the event lines, its warnings on stderr.
func (v *WatchLines) Plan(title string, p *planner.Plan, ask bool) {
	v.ev.Print(func(out io.Writer) {
		for _, warn := range p.Warnings {
			fmt.Fprintf(v.stderr, "Warning: %s\n", warn)
		}
		Plan(out, p, false, v.color)
	})
	if ask {
		v.ev.Print(func(out io.Writer) {
			fmt.Fprint(out, "Press Enter to apply this plan, or n and Enter to skip it; a newer change replaces it.\n")
		})
	}
}

// Close stops the status line.
func (v *WatchLines) Close() { v.once.Do(v.ev.Close) }

// WatchScreen is watch's full-screen view on a terminal (Screen).
type WatchScreen struct {
	s    *Screen
	out  io.Writer
	once sync.Once
}

var _ watch.View = (*WatchScreen)(nil)

// NewWatchScreen enters the full screen on out, a terminal whose size
// size says.
func NewWatchScreen(out io.Writer, size func() (width, height int)) *WatchScreen {
	s := NewScreen()
	s.Start(out, size)
	return &WatchScreen{s: s, out: out}
}

func (v *WatchScreen) Event(ev runtime.Event) { v.s.Event(ev) }
func (v *WatchScreen) Say(line string)        { v.s.Say(line) }
func (v *WatchScreen) Error(line string)      { v.s.Say(line) }

// Load shows the configuration's errors in the header, its warnings among
// the events.
func (v *WatchScreen) Load(load func(diags io.Writer, color bool) *lang.Config, good bool) *lang.Config {
	var diags strings.Builder
	cfg := load(&diags, false)
	v.s.SetConfig(cfg == nil, good, diags.String())
	return cfg
}

func (v *WatchScreen) Broken(bool)          {} // the header says so
func (v *WatchScreen) Watching(what string) { v.s.SetWatching(what) }
func (v *WatchScreen) Change(what string)   { v.s.SetChange(what) }
func (v *WatchScreen) NoChanges(title string) {
	v.s.SetPlan(title, []string{"No changes."}, false)
}
func (v *WatchScreen) Decided(what string) { v.s.PlanDecided(what) }

// Typed picks the run whose log is shown when line is a run's number.
func (v *WatchScreen) Typed(line string) bool {
	v.s.RedrawAll() // the echo of Enter moved the cursor
	return v.s.Pick(line)
}

func (v *WatchScreen) FullScreen() bool { return true }
func (v *WatchScreen) Stopping()        { v.s.Stop() }

// Plan puts p on the screen, its warnings first.
func (v *WatchScreen) Plan(title string, p *planner.Plan, ask bool) {
	var b strings.Builder
	for _, warn := range p.Warnings {
		fmt.Fprintf(&b, "Warning: %s\n", warn)
	}
	Plan(&b, p, false, false)
	// The section's title says what the plan's first line says.
	text := strings.Replace(b.String(), "trainrun will perform these actions:\n", "", 1)
	v.s.SetPlan(title, strings.Split(text, "\n"), ask)
}

// Close leaves the screen, and prints on the normal screen what happened
// since watching began to stop, where it stays.
func (v *WatchScreen) Close() {
	v.once.Do(func() {
		for _, line := range v.s.Close() {
			fmt.Fprintln(v.out, line)
		}
	})
}
