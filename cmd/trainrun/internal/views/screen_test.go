package views

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

var screenNow = time.Date(2026, 3, 4, 15, 4, 5, 0, time.UTC)

func ago(d time.Duration) time.Time { return screenNow.Add(-d) }

// editView is the screen after an edit superseded the first run.
func editView() *screenView {
	return &screenView{
		Now:       screenNow,
		Watching:  "the configuration files and src/ (2 directories)",
		Change:    "Change 1 at 15:03:58: src/v.txt",
		PlanTitle: "Plan for change 1",
		Plan: []string{ // as watch gives it: renderPlan's, less its first line
			"",
			"  + submit experiment.a",
			"        source changed: v.txt modified",
			"        supersedes live run 1111aaaa1111",
			"",
			"Plan: 1 to submit, 0 to update, 0 to destroy, 0 unchanged.",
			"",
		},
		Runs: []*screenRun{
			{Seq: 1, Address: "experiment.a", RunID: "1111aaaa1111", Compute: "here", State: "cancelled",
				Started: ago(20 * time.Second), Ended: ago(6 * time.Second), Reason: "superseded by a newer run (source changed: v.txt modified)",
				Log: []string{"version 1", "tick 0 of version 1"}},
			{Seq: 2, Address: "experiment.a", RunID: "2222bbbb2222", Compute: "here", State: "running", Live: true,
				Started: ago(6 * time.Second), Log: []string{"version 2", "tick 0 of version 2", "tick 1 of version 2"}},
		},
		Events: []string{
			"15:03:58 Change 1: src/v.txt",
			"15:03:59 experiment.a: run 1111aaaa1111 superseded (source changed: v.txt modified); cancelling it",
			"15:03:59 experiment.a: started on here (run 2222bbbb2222)",
			"15:03:59 experiment.a: cancelled after 14s (run 1111aaaa1111): superseded by a newer run (source changed: v.txt modified)",
		},
	}
}

// manyRuns are n runs of distinct instances, the first live of them
// live, each with a log of logLines lines.
func manyRuns(n, live, logLines int) []*screenRun {
	var runs []*screenRun
	for i := range n {
		r := &screenRun{Seq: i + 1, Address: fmt.Sprintf("experiment.sweep[%d]", i), RunID: fmt.Sprintf("%012x", i+1),
			Compute: "here", Started: ago(time.Duration(100-i) * time.Second)}
		if i < live {
			r.Live, r.State = true, "running"
		} else {
			r.State, r.Ended = "succeeded", ago(time.Duration(50-i)*time.Second)
		}
		for j := range logLines {
			r.Log = append(r.Log, fmt.Sprintf("run %d line %d", i+1, j))
		}
		runs = append(runs, r)
	}
	return runs
}

func TestComposeScreen(t *testing.T) {
	tests := []struct {
		name          string
		view          func() *screenView
		width, height int
		want          []string // the whole frame, when given
		match         []string // each matches a line
		noMatch       []string // none matches a line
	}{{
		name: "after an edit", view: editView, width: 80, height: 22,
		want: []string{
			"trainrun watch: the configuration files and src/ (2 directories)        15:04:05",
			"Change 1 at 15:03:58: src/v.txt",
			"── Plan for change 1 ───────────────────────────────────────────────────────────",
			"  + submit experiment.a",
			"        source changed: v.txt modified",
			"        supersedes live run 1111aaaa1111",
			"Plan: 1 to submit, 0 to update, 0 to destroy, 0 unchanged.",
			"── Runs: 1 live, 1 finished ────────────────────────────────────────────────────",
			"> #2 experiment.a  running        6s  run 2222bbbb2222 on here",
			"  #1 experiment.a  cancelled     14s  run 1111aaaa1111: superseded by a newer r…",
			"── Events ──────────────────────────────────────────────────────────────────────",
			"15:03:58 Change 1: src/v.txt",
			"15:03:59 experiment.a: run 1111aaaa1111 superseded (source changed: v.txt modif…",
			"15:03:59 experiment.a: started on here (run 2222bbbb2222)",
			"15:03:59 experiment.a: cancelled after 14s (run 1111aaaa1111): superseded by a …",
			"── Log of #2 experiment.a (run 2222bbbb2222) ───────────────────────────────────",
			"version 2",
			"tick 0 of version 2",
			"tick 1 of version 2",
			"",
			"",
			"NUMBER Enter: show that run's log (0: the latest run's) · Ctrl-C: stop watching",
		},
	}, {
		name: "before anything", view: func() *screenView { return &screenView{Now: screenNow, Watching: "the configuration files"} },
		width: 60, height: 7,
		want: []string{
			"trainrun watch: the configuration files             15:04:05",
			"No change yet: save a file to plan again.",
			"── Plan ────────────────────────────────────────────────────",
			"No plan yet.",
			"",
			"",
			"NUMBER Enter: show that run's log (0: the latest run's) · C…",
		},
	}, {
		name: "focus: the live run that started last",
		view: func() *screenView {
			v := editView()
			v.Runs = manyRuns(4, 2, 3) // #1 and #2 live, #2 started last; #4 ended last
			return v
		},
		width: 80, height: 30,
		match:   []string{`^> #2 experiment\.sweep\[1\] +running +1m39s  run 000000000002 on here$`, `^── Log of #2 experiment\.sweep\[1\] \(run 000000000002\) ─+$`, `^run 2 line 2$`},
		noMatch: []string{`^run [134] line`, `picked`},
	}, {
		name: "focus: the run that ended last, none live",
		view: func() *screenView {
			v := editView()
			v.Runs = manyRuns(4, 0, 3)
			return v
		},
		width: 80, height: 30,
		match: []string{`^── Runs: 0 live, 4 finished`, `^> #4 experiment\.sweep\[3\] +succeeded +50s  run 000000000004$`, `^── Log of #4 `, `^run 4 line 0$`},
	}, {
		name: "focus: a picked run",
		view: func() *screenView {
			v := editView()
			v.Focus = 1
			return v
		},
		width: 80, height: 24,
		match:   []string{`^> #1 experiment\.a  cancelled`, `^  #2 experiment\.a  running`, `^── Log of #1 experiment\.a \(run 1111aaaa1111\), picked ─+$`, `^tick 0 of version 1$`},
		noMatch: []string{`of version 2$`},
	}, {
		name: "focus: a picked run no longer kept",
		view: func() *screenView {
			v := editView()
			v.Focus = 9
			return v
		},
		width: 80, height: 24,
		match:   []string{`^> #2 `, `^── Log of #2 experiment\.a \(run 2222bbbb2222\) ─+$`},
		noMatch: []string{`picked`},
	}, {
		name: "a new run without output yet",
		view: func() *screenView {
			v := editView()
			v.Runs[1].Log = nil
			return v
		},
		width: 80, height: 24,
		match: []string{`^\(no output yet\)$`},
	}, {
		name: "a broken configuration, the last good one in force",
		view: func() *screenView {
			v := editView()
			v.Broken, v.GoodConfig = true, true
			for i := range 30 {
				v.Diagnostics = append(v.Diagnostics, fmt.Sprintf("diagnostic line %d", i))
			}
			return v
		},
		width: 100, height: 24,
		want: nil,
		match: []string{
			`^The configuration has errors; the last good configuration stays in force until a save fixes them:$`,
			`^  diagnostic line 0$`, `^  diagnostic line 5$`, `^    … 23 more lines$`, `^  diagnostic line 29$`,
			`^── Plan for change 1`, `^── Log of #2`,
		},
		noMatch: []string{`^  diagnostic line 6$`},
	}, {
		name: "a broken configuration from the start",
		view: func() *screenView {
			return &screenView{Now: screenNow, Watching: "the configuration files", Broken: true,
				Diagnostics: []string{"Error: Unsupported argument", "", "  on trainrun.hcl line 3:", `   3:   comand = ["sh"]`}}
		},
		width: 80, height: 11,
		want: []string{
			"trainrun watch: the configuration files                                 15:04:05",
			"No change yet: save a file to plan again.",
			"The configuration has errors; nothing runs until a save fixes them:",
			"  Error: Unsupported argument",
			"    … 2 more lines",
			`     3:   comand = ["sh"]`,
			"── Plan ────────────────────────────────────────────────────────────────────────",
			"No plan yet.",
			"",
			"",
			"NUMBER Enter: show that run's log (0: the latest run's) · Ctrl-C: stop watching",
		},
	}, {
		name: "many runs",
		view: func() *screenView {
			v := editView()
			v.Runs = manyRuns(40, 3, 100)
			return v
		},
		width: 80, height: 24,
		match: []string{
			`^── Runs: 3 live, 37 finished ─+$`,
			`^> #3  experiment\.sweep\[2\] +running +1m38s`, // the newest live first
			`^  #2  experiment\.sweep\[1\] +running`,
			`^  #1  experiment\.sweep\[0\] +running`,
			`^  #40 experiment\.sweep\[39\] +succeeded`, // then the newest finished
			`^  … 3[0-9] more$`,
			`^run 3 line 99$`,
			`^run 3 line 9[4-8]$`, // the log has rows too
		},
	}, {
		name: "a long plan",
		view: func() *screenView {
			v := editView()
			v.Plan = []string{""}
			for i := range 40 {
				v.Plan = append(v.Plan, fmt.Sprintf("  + submit experiment.sweep[%d]", i))
			}
			v.Plan = append(v.Plan, "", "Plan: 40 to submit, 0 to update, 0 to destroy, 0 unchanged.")
			return v
		},
		width: 80, height: 30,
		match: []string{
			`^  \+ submit experiment\.sweep\[0\]$`,
			`^  … \d+ more lines$`, `^Plan: 40 to submit`, `^tick 1 of version 2$`,
		},
		noMatch: []string{`sweep\[39\]`},
	}, {
		name: "long lines are cut",
		view: func() *screenView {
			v := editView()
			v.Runs[1].Address = "experiment.a_very_long_instance_name_indeed[\"lr=0.001,batch=256\"]"
			v.Runs[1].Log = append(v.Runs[1].Log, strings.Repeat("loss=0.25 ", 30))
			return v
		},
		width: 40, height: 24,
		match: []string{
			`^> #2 experiment\.a…  running +6s  …$`,
			`^(loss=0\.25 ){3}loss=0\.25…$`,
			`^── Log of #2 experiment\.a_very_long_ins…$`,
		},
	}, {
		name: "output that would move the cursor",
		view: func() *screenView {
			v := editView()
			v.Runs[1].Log = []string{"\x1b[31mred\x1b[0m text", "10%\r50%\r100%\r", "a\tb", "\x1b]0;a title\x07after", "\x1b[2J\x1b[Hhome", "bell\a"}
			return v
		},
		width: 80, height: 24,
		match: []string{`^red text$`, `^100%$`, `^a       b$`, `^after$`, `^home$`, `^bell$`},
	}, {
		name: "wide characters",
		view: func() *screenView {
			v := editView()
			v.Runs[1].Log = []string{strings.Repeat("損失", 20), "e\u0301poque 1"}
			return v
		},
		width: 21, height: 24,
		match: []string{`^(損失){5}…$`, "^e\u0301poque 1$"},
	}, {
		name: "a wide terminal",
		view: func() *screenView {
			v := editView()
			v.Runs = manyRuns(6, 2, 40)
			return v
		},
		width: 200, height: 70,
		match: []string{
			`^trainrun watch: the configuration files and src/ \(2 directories\) {128}15:04:05$`,
			`^── Runs: 2 live, 4 finished ─{172}$`,
			`^  #1 experiment\.sweep\[0\] +running`, `^  #6 experiment\.sweep\[5\] +succeeded`,
			`^run 2 line 0$`, `^run 2 line 39$`, // the whole log
			`^15:03:58 Change 1: src/v\.txt$`, // the whole plan, three events
			`^Plan: 1 to submit`,
		},
	}, {
		name: "a narrow terminal",
		view: editView, width: 12, height: 9,
		want: []string{
			"trainrun wa…",
			"Change 1 at…",
			"── Plan for…",
			"  + submit …",
			"── Runs: 1 …",
			"> #2 experi…",
			"── Log of #…",
			"tick 1 of v…",
			"NUMBER Ente…",
		},
	}, {
		name: "a terminal the header fills",
		view: editView, width: 30, height: 2,
		want: []string{"trainrun watch: the configura…", "Change 1 at 15:03:58: src/v.t…"},
	}, {
		name: "a plan waiting for Enter",
		view: func() *screenView {
			v := editView()
			v.Pending = true
			return v
		},
		width: 100, height: 24,
		match: []string{`^── Plan for change 1: waiting for Enter ─+$`, `^Enter: apply the plan · n Enter: skip it · NUMBER Enter: show that run's log · Ctrl-C: stop$`},
	}, {
		name: "stopping",
		view: func() *screenView {
			v := editView()
			v.Stopping = true
			return v
		},
		width: 80, height: 24,
		match: []string{`^Stopping: waiting for the applies under way to return\.$`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := composeScreen(tt.view(), tt.width, tt.height)
			frame := strings.Join(lines, "\n")
			checkFrame(t, lines, tt.width, tt.height)
			if tt.want != nil && frame != strings.Join(tt.want, "\n") {
				t.Errorf("frame:\n%s\nwant:\n%s", frame, strings.Join(tt.want, "\n"))
			}
			for _, p := range tt.match {
				if !slices.ContainsFunc(lines, regexp.MustCompile(p).MatchString) {
					t.Errorf("no line matches %s in:\n%s", p, frame)
				}
			}
			for _, p := range tt.noMatch {
				if slices.ContainsFunc(lines, regexp.MustCompile(p).MatchString) {
					t.Errorf("a line matches %s in:\n%s", p, frame)
				}
			}
		})
	}
}

// checkFrame checks what every frame must be: height lines of at most
// width columns, nothing in them that moves the cursor.
func checkFrame(t *testing.T, lines []string, width, height int) {
	t.Helper()
	if len(lines) != height {
		t.Errorf("%d lines for a terminal %d lines tall", len(lines), height)
	}
	for i, l := range lines {
		if w := runesWidth(l); w > width {
			t.Errorf("line %d is %d columns wide, the terminal %d: %q", i+1, w, width, l)
		}
		if strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("line %d holds a control character: %q", i+1, l)
		}
	}
}

// Every size, however small, gets a frame that fits.
func TestComposeScreenFits(t *testing.T) {
	views := map[string]func() *screenView{
		"edit": editView,
		"many": func() *screenView {
			v := editView()
			v.Runs, v.Focus = manyRuns(60, 10, 600), 7
			v.Broken, v.Pending = true, true
			v.Diagnostics = strings.Split(strings.Repeat("a diagnostic that goes on and on and on\n", 20), "\n")
			return v
		},
		"empty": func() *screenView { return &screenView{} },
	}
	for name, view := range views {
		v := view() // composeScreen leaves it as it is
		for width := 1; width <= 130; width += 3 {
			for height := 1; height <= 60; height++ {
				lines := composeScreen(v, width, height)
				if height > 2 || name == "empty" {
					checkFrame(t, lines, width, height)
				} else if len(lines) > height {
					t.Errorf("%s at %d×%d: %d lines", name, width, height, len(lines))
				}
				if t.Failed() {
					t.Fatalf("%s at %d×%d:\n%s", name, width, height, strings.Join(lines, "\n"))
				}
			}
		}
	}
}

// The screen's view follows the runtime's events.
func TestScreenEvents(t *testing.T) {
	s := NewScreen()
	t0 := screenNow
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	started := at(0)
	s.Event(runtime.Event{Time: at(0), Type: runtime.RunStarted, Address: "experiment.a", RunID: "r1", Compute: "here", Attempt: 1, Started: &started})
	for i := range 2*screenLogLines + 7 {
		s.Event(runtime.Event{Time: at(time.Second), Type: runtime.RunOutput, Address: "experiment.a", RunID: "r1", Line: fmt.Sprintf("line %d", i)})
	}
	s.Event(runtime.Event{Time: at(time.Second), Type: runtime.RunOutput, Address: "experiment.a", RunID: "r1", Line: strings.Repeat("x", 3*screenLineRunes)})
	s.Event(runtime.Event{Time: at(2 * time.Second), Type: runtime.RunRetrying, Address: "experiment.a", RunID: "r1", Attempt: 1, Reason: "exit code 1"})
	if r := s.v.Runs[0]; r.State != "retrying" || r.Reason != "exit code 1" || !r.Live {
		t.Errorf("after run_retrying: %+v", r)
	}
	s.Event(runtime.Event{Time: at(3 * time.Second), Type: runtime.RunStarted, Address: "experiment.a", RunID: "r1", Compute: "here", Attempt: 2, Started: &started})
	s.Event(runtime.Event{Time: at(4 * time.Second), Type: runtime.RunOutput, Address: "experiment.a", RunID: "r1", Line: "attempt two"})
	r := s.v.Runs[0]
	if len(s.v.Runs) != 1 || r.Seq != 1 || r.State != "running" || r.Attempt != 2 {
		t.Fatalf("a retried run: %d runs, %+v", len(s.v.Runs), r)
	}
	if n := len(r.Log); n > 2*screenLogLines || n < screenLogLines {
		t.Errorf("%d log lines kept, want between %d and %d", n, screenLogLines, 2*screenLogLines)
	}
	if tail := r.Log[len(r.Log)-4:]; tail[0] != fmt.Sprintf("line %d", 2*screenLogLines+6) || len([]rune(tail[1])) != screenLineRunes || tail[2] != "(attempt 2)" || tail[3] != "attempt two" {
		t.Errorf("the log ends %q", tail)
	}

	// A run that fails before it starts, and one that ends with its
	// last lines.
	code := 1
	s.Event(runtime.Event{Time: at(5 * time.Second), Type: runtime.RunFinished, Address: "experiment.b", RunID: "r2", Status: providers.Failed, Reason: "submit: no such image"})
	s.Event(runtime.Event{Time: at(6 * time.Second), Type: runtime.RunFinished, Address: "experiment.a", RunID: "r1", Status: providers.Failed, ExitCode: &code, Reason: "exit code 1", Started: &started, Tail: []string{"Traceback", "Error"}})
	if b := s.v.Runs[1]; b.Seq != 2 || b.Live || b.State != "failed" || b.Reason != "submit: no such image" || !b.Started.Equal(at(5*time.Second)) {
		t.Errorf("a run that never started: %+v", b)
	}
	if r.Live || r.State != "failed" || !r.Ended.Equal(at(6*time.Second)) || r.Log[len(r.Log)-1] != "attempt two" {
		t.Errorf("a run whose log was streamed keeps it, not the tail: %+v", r.Log[len(r.Log)-2:])
	}
	if last := s.v.Events[len(s.v.Events)-1]; last != "15:04:11 experiment.a: failed after 6s (run r1): exit code 1" {
		t.Errorf("the last event line is %q", last)
	}

	// A run's number picks it; 0 goes back to the latest; other lines
	// are answers, not picks.
	for _, tt := range []struct {
		line  string
		picks bool
		focus int
	}{
		{"2", true, 2}, {" 1 ", true, 1}, {"0", true, 0}, {"7", true, 0},
		{"", false, 0}, {"n", false, 0}, {"yes", false, 0}, {"+1", false, 0}, {"-1", false, 0},
	} {
		s.v.Focus = 0
		if got := s.Pick(tt.line); got != tt.picks || s.v.Focus != tt.focus {
			t.Errorf("pick(%q) = %v, focus %d; want %v, focus %d", tt.line, got, s.v.Focus, tt.picks, tt.focus)
		}
	}
	if last := s.v.Events[len(s.v.Events)-1]; !strings.HasSuffix(last, "No run #7 on the screen.") {
		t.Errorf("after picking a run that is not there, the last event line is %q", last)
	}

	// Finished runs beyond the bound are forgotten, the oldest first;
	// live ones stay.
	s.Event(runtime.Event{Time: at(7 * time.Second), Type: runtime.RunStarted, Address: "experiment.c", RunID: "live", Compute: "here", Attempt: 1})
	for i := range screenFinished + 5 {
		id := fmt.Sprintf("done%d", i)
		s.Event(runtime.Event{Time: at(8 * time.Second), Type: runtime.RunStarted, Address: "experiment.d", RunID: id, Attempt: 1})
		s.Event(runtime.Event{Time: at(9 * time.Second), Type: runtime.RunFinished, Address: "experiment.d", RunID: id, Status: providers.Succeeded})
	}
	if n := len(s.v.Runs); n != screenFinished+1 || s.v.Runs[0].RunID != "live" || s.v.Runs[1].RunID != "done5" || len(s.byID) != n {
		t.Errorf("%d runs kept (%d by id), the first %s, %s", n, len(s.byID), s.v.Runs[0].RunID, s.v.Runs[1].RunID)
	}
	if n := len(s.v.Events); n != screenEvents {
		t.Errorf("%d event lines kept, want %d", n, screenEvents)
	}

	// From the interrupt on, lines are kept for the normal screen, a
	// failed run's with its last lines.
	if got := s.Close(); len(got) != 0 {
		t.Errorf("lines to print before any interrupt: %q", got)
	}
	s.Event(runtime.Event{Time: at(10 * time.Second), Type: runtime.Interrupted, Message: "Interrupt received: no new runs will start."})
	s.Event(runtime.Event{Time: at(11 * time.Second), Type: runtime.RunDetached, Address: "experiment.c", RunID: "live", Compute: "here"})
	if r := s.byID["live"]; !s.v.Stopping || r.State != "left running" || r.Live || s.v.Pending {
		t.Errorf("after the interrupt: stopping %v, %+v", s.v.Stopping, r)
	}
	s.Say("Change 3 done: 0 succeeded, 0 failed, 0 cancelled, 1 left running.")
	s.Event(runtime.Event{Time: at(6 * time.Second), Type: runtime.RunFinished, Address: "experiment.e", RunID: "r9", Status: providers.Failed, Reason: "exit code 1", Tail: []string{"Traceback"}})
	want := []string{
		"Interrupt received: no new runs will start.",
		"experiment.c: left running (run live on here): 'trainrun apply' re-attaches, 'trainrun cancel live' stops it",
		"Change 3 done: 0 succeeded, 0 failed, 0 cancelled, 1 left running.",
		"experiment.e: failed (run r9): exit code 1\n    Traceback\n    (full log: trainrun logs r9)",
	}
	if got := s.Close(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines to print after the screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestScreenLiveMetrics: a live run's latest metrics show on its row, and
// a run the sweep's policy stops says so and why.
func TestScreenLiveMetrics(t *testing.T) {
	s := NewScreen()
	started := screenNow
	s.Event(runtime.Event{Time: started, Type: runtime.RunStarted, Address: `experiment.t["q=1"]`, RunID: "r1", Compute: "here", Attempt: 1, Started: &started})
	step := 3.0
	s.Event(runtime.Event{Time: started, Type: runtime.RunMetrics, Address: `experiment.t["q=1"]`, RunID: "r1",
		Metrics: map[string]state.Metric{"val_loss": {Value: 0.91, Step: &step}, "acc": {Value: 0.5}}})
	n := len(s.v.Events)
	row := runRow(s.v.Runs[0], started.Add(time.Second), false, 1, 20, 9)
	if !strings.HasSuffix(row, "run r1 on here · acc=0.5 val_loss=0.91") {
		t.Errorf("row %q does not end with the metrics", row)
	}
	s.Event(runtime.Event{Time: started, Type: runtime.RunStopping, Address: `experiment.t["q=1"]`, RunID: "r1", Reason: "median stopping at step 3: val_loss 0.91 worse than median 0.5 of 4 runs"})
	if r := s.v.Runs[0]; r.State != "stopping" || !strings.HasPrefix(r.Reason, "median stopping at step 3") {
		t.Errorf("after run_stopping: %+v", r)
	}
	if len(s.v.Events) != n+1 || !strings.Contains(s.v.Events[n], "stopping run r1: median stopping at step 3") {
		t.Errorf("events %q: want the metrics left out and the stop in", s.v.Events)
	}
}

// A Slurm job requeued behind trainrun's back, held, then running again:
// the run's row says requeued, then waiting with the hold, then running
// since its new start; its log marks the attempt; the events say each.
func TestScreenRequeueAndHold(t *testing.T) {
	s := NewScreen()
	at := func(d time.Duration) time.Time { return screenNow.Add(d) }
	started, again := at(0), at(2*time.Minute)
	s.Event(runtime.Event{Time: at(0), Type: runtime.RunStarted, Address: "experiment.a", RunID: "r1", Compute: "cluster", Attempt: 1, Started: &started})
	s.Event(runtime.Event{Time: at(time.Second), Type: runtime.RunRequeued, Address: "experiment.a", RunID: "r1", Attempt: 2})
	if r := s.v.Runs[0]; r.State != "requeued" || r.Attempt != 2 || !r.Live || r.Log[len(r.Log)-1] != "(requeued: attempt 2)" {
		t.Errorf("after run_requeued: %+v", r)
	}
	held := "held (BeginTime 2026-12-07T15:06:02)"
	s.Event(runtime.Event{Time: at(2 * time.Second), Type: runtime.RunWaitingOn, Address: "experiment.a", RunID: "r1", Reason: held})
	if r := s.v.Runs[0]; r.State != "waiting" || r.Reason != held {
		t.Errorf("after run_waiting_on: %+v", r)
	}
	s.Event(runtime.Event{Time: again, Type: runtime.RunResumed, Address: "experiment.a", RunID: "r1", Reason: held, Waited: 118, Started: &again})
	if r := s.v.Runs[0]; r.State != "running" || r.Reason != "" || !r.Started.Equal(again) || r.Attempt != 2 {
		t.Errorf("after run_resumed: %+v", r)
	}
	want := []string{
		"experiment.a: requeued (attempt 2)",
		"experiment.a: waiting: " + held,
		"experiment.a: running since " + again.Local().Format("15:04:05") + ", after waiting 1m58s (" + held + ")",
	}
	events := strings.Join(s.v.Events, "\n")
	for _, w := range want {
		if !strings.Contains(events, w) {
			t.Errorf("events lack %q:\n%s", w, events)
		}
	}
}

func TestRuneWidth(t *testing.T) {
	for r, want := range map[rune]int{
		'a': 1, 'é': 1, '─': 1, '\u0301': 0, '\u200b': 0,
		'中': 2, '한': 2, 'Ａ': 2, '。': 2, '\u303f': 1,
		'😀': 2, '🤖': 2, '🌍': 2,
	} {
		if got := runeWidth(r); got != want {
			t.Errorf("runeWidth(%U) = %d, want %d", r, got, want)
		}
	}
}
