package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// TestWatchScreen runs trainrun watch -auto-approve under a pseudo-terminal
// and reads its screen as a terminal would show it: the first run, an edit
// that supersedes it, picking a run's log by its number, a resize, and
// Ctrl-C, after which the terminal is as it was and the last lines are on
// the normal screen.
func TestWatchScreen(t *testing.T) {
	p := newProject(t, map[string]string{
		"trainrun.hcl": `compute "local" "here" {}

experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", path.root]
}
`,
		// Runs print a line every 100 ms until told to go (or 60 s).
		"src/run.sh": `v=$(cat v.txt)
echo "version $v"
i=0
while [ ! -f "$1/go" ] && [ $i -lt 600 ]; do echo "tick $i of version $v"; sleep 0.1; i=$((i+1)); done
`,
		"src/v.txt": "1\n",
	})
	term := startInPTY(t, p, 100, 30, "watch", "-auto-approve")
	t.Cleanup(func() {
		// Runs left running end, and are recorded.
		p.write("go", "")
		p.run(nil, "apply", "-auto-approve")
	})

	// The first apply: the plan, the live run with its elapsed time, the
	// last lines of its log.
	term.waitFor(t, "the first run on the screen",
		`^trainrun watch: the configuration files and src/ \(\d+ directories\) +\d\d:\d\d:\d\d$`,
		`^── First plan ─+$`,
		`^  \+ submit experiment\.a$`,
		`^> #1 experiment\.a  running +[1-9]\d*s  run [0-9a-f]{12} on here$`,
		`^── Log of #1 experiment\.a \(run [0-9a-f]{12}\) ─+$`,
		`^version 1$`,
		`^tick \d+ of version 1$`,
		`^NUMBER Enter: show that run's log`,
	)
	if !term.alt() {
		t.Fatalf("the screen is not drawn on the alternate screen buffer:\n%s", term.text())
	}

	// An edit: its plan, the first run superseded and cancelled, the
	// new one live and its log shown.
	p.write("src/v.txt", "2\n")
	term.waitFor(t, "the edit's run on the screen",
		`^Change 1 at \d\d:\d\d:\d\d: src/v\.txt$`,
		`^── Plan for change 1 ─+$`,
		`^        source changed: v\.txt modified$`,
		`^> #2 experiment\.a  running +\d+s  run [0-9a-f]{12} on here$`,
		`^  #1 experiment\.a  cancelled +[\d.]+s  run [0-9a-f]{12}: superseded by a newer run \(source changed`,
		`^── Log of #2 experiment\.a`,
		`^tick \d+ of version 2$`,
	)
	// The elapsed time goes on without events.
	term.waitFor(t, "the elapsed time growing", `^> #2 experiment\.a  running +([2-9]|\d\d)s `)

	// A run's number and Enter show its log.
	term.typeIn(t, "1\n")
	term.waitFor(t, "the picked run's log",
		`^> #1 experiment\.a  cancelled`,
		`^── Log of #1 experiment\.a \(run [0-9a-f]{12}\), picked ─+$`,
		`^tick \d+ of version 1$`,
	)

	// Resized, the screen is drawn anew to the new size.
	term.resize(t, 60, 16)
	term.waitFor(t, "the screen redrawn at 60×16",
		`^trainrun watch: the configuration files and src/ \(\d+ directo…$`,
		`^── Log of #1 experiment\.a \(run [0-9a-f]{12}\), picked ─+$`,
	)
	// The hint on the last line but one, above the prompt.
	if !waitFor(10*time.Second, func() bool {
		lines := term.lines()
		return strings.HasPrefix(lines[14], "NUMBER Enter: show that run's log") && lines[15] == ">"
	}) {
		t.Errorf("at 60×16, the last two lines are not the hint and the prompt:\n%s", term.text())
	}

	// Ctrl-Z: the screen is left while watch is stopped, and back when it
	// is continued.
	term.typeIn(t, "\x1a")
	if !waitFor(10*time.Second, func() bool { return !term.alt() && processState(t, term.cmd.Pid) == 'T' }) {
		t.Fatalf("after Ctrl-Z: alternate screen %v, process state %c", term.alt(), processState(t, term.cmd.Pid))
	}
	if err := term.cmd.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	term.waitFor(t, "the screen back after SIGCONT", `^── Log of #1 experiment\.a`)
	if !term.alt() {
		t.Fatal("continued, watch does not draw on the alternate screen")
	}

	// Ctrl-C: watch stops, exits 0, and leaves the terminal as it was,
	// the last lines printed on the normal screen.
	term.typeIn(t, "\x03")
	if code := term.wait(t); code != 0 {
		t.Fatalf("watch exited %d after Ctrl-C; the terminal shows:\n%s", code, term.text())
	}
	if term.alt() || !term.cursorVisible() {
		t.Errorf("after watch: alternate screen %v, cursor visible %v; want false, true", term.alt(), term.cursorVisible())
	}
	raw := term.raw()
	last := raw[strings.LastIndex(raw, "\x1b[?1049l")+len("\x1b[?1049l"):]
	if !strings.Contains(raw[strings.LastIndex(raw, "\x1b[2K> "):], "\x1b[?25h\x1b[?1049l") {
		t.Errorf("the last frame is not followed by the cursor shown and the alternate screen left")
	}
	for _, want := range []string{
		`(?m)^Interrupt received: no new runs will start`,
		`(?m)^experiment\.a: left running \(run [0-9a-f]{12} on here\)`,
		`(?m)^Stopped watching\.\r?$`,
	} {
		if !regexp.MustCompile(want).MatchString(last) {
			t.Errorf("after leaving the screen, no line matching %s in %q", want, last)
		}
	}
	// What the terminal showed before is still there, the last lines
	// below it.
	if l := term.lines(); l[0] != shellLine || !strings.HasPrefix(l[1], "Interrupt received") {
		t.Errorf("the normal screen shows:\n%s", term.text())
	}
}

// TestWatchScreenApproval runs trainrun watch under a pseudo-terminal
// without -auto-approve: each plan waits for Enter (or n and Enter), a
// run's number picks its log without answering, and a broken
// configuration shows its diagnostic in the header until a save fixes it.
func TestWatchScreenApproval(t *testing.T) {
	const good = `compute "local" "here" {}

experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", path.root]
}
`
	p := newProject(t, map[string]string{
		"trainrun.hcl": good,
		"src/run.sh":   "echo run >> \"$1/count.txt\"\necho \"hello $(cat v.txt)\"\n",
		"src/v.txt":    "1\n",
	})
	term := startInPTY(t, p, 100, 30, "watch")

	term.waitFor(t, "the first plan waiting",
		`^── First plan: waiting for Enter ─+$`,
		`^  \+ submit experiment\.a$`,
		`^Enter: apply the plan · n Enter: skip it · NUMBER Enter: show that run's log · Ctrl-C: stop$`,
	)
	term.typeIn(t, "\n")
	term.waitFor(t, "the first plan applied",
		`^── First plan \(applied\) ─+$`,
		`^> #1 experiment\.a  succeeded +[\d.]+s  run [0-9a-f]{12}$`,
		`^── Log of #1 experiment\.a`,
		`^hello 1$`,
		`^NUMBER Enter: show that run's log \(0: the latest run's\)`,
	)

	p.write("trainrun.hcl", strings.Replace(good, "command ", "comand  ", 1))
	term.waitFor(t, "the diagnostic in the header",
		`^Change 1 at \d\d:\d\d:\d\d: trainrun\.hcl$`,
		`^The configuration has errors; the last good configuration stays in force until a save fixes them:$`,
		`^  Error: Unsupported argument`,
		`^── First plan \(applied\) ─+$`,
	)

	p.write("src/v.txt", "2\n")
	p.write("trainrun.hcl", good)
	term.waitFor(t, "the fix's plan waiting",
		`^── Plan for change \d: waiting for Enter ─+$`,
		`^        source changed: v\.txt modified$`,
		`The configuration is valid again\.$`,
	)
	if containsMatch(term.lines(), regexp.MustCompile(`The configuration has errors`)) {
		t.Errorf("the header still shows the configuration's errors:\n%s", term.text())
	}
	// A run's number is not an answer: the plan still waits.
	term.typeIn(t, "1\n")
	term.waitFor(t, "the run picked, the plan waiting",
		`^── Log of #1 experiment\.a \(run [0-9a-f]{12}\), picked ─+$`,
		`^── Plan for change \d: waiting for Enter ─+$`,
	)
	term.typeIn(t, "n\n")
	term.waitFor(t, "the plan skipped",
		`^── Plan for change \d \(skipped\) ─+$`,
		`Skipped; waiting for the next change\.$`,
	)

	term.typeIn(t, "\x03")
	if code := term.wait(t); code != 0 {
		t.Fatalf("watch exited %d after Ctrl-C; the terminal shows:\n%s", code, term.text())
	}
	if l := term.lines(); l[0] != shellLine || !containsMatch(l, regexp.MustCompile(`^Stopped watching\.$`)) || term.alt() {
		t.Errorf("the normal screen shows:\n%s", term.text())
	}
	if n := lineCount(t, p.path("count.txt")); n != 1 {
		t.Errorf("%d runs, want 1: the second plan was skipped", n)
	}
}

// shellLine is on the terminal before the command starts.
const shellLine = "$ trainrun watch -auto-approve"

// ptyTerm is a command running under a pseudo-terminal, and the terminal
// as its output draws it.
type ptyTerm struct {
	cmd    *os.Process
	master *os.File
	exited chan int

	mu      sync.Mutex
	out     []byte
	resizes []resizeAt
}

// resizeAt says the terminal had this size from this byte of the output on.
type resizeAt struct{ at, width, height int }

// startInPTY starts trainrun ARGS… with a pseudo-terminal of width×height
// as its controlling terminal and standard streams.
func startInPTY(t *testing.T, p *project, width, height int, args ...string) *ptyTerm {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	pt := &ptyTerm{master: master, exited: make(chan int, 1)}
	pt.resize(t, width, height)
	cmd := p.command([]string{"TERM=xterm"}, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	pt.cmd = cmd.Process
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := master.Read(buf)
			pt.mu.Lock()
			pt.out = append(pt.out, buf[:n]...)
			pt.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		pt.exited <- cmd.ProcessState.ExitCode()
	}()
	return pt
}

// processState is the state letter of /proc/PID/stat: R, S, T (stopped)…
func processState(t *testing.T, pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return '?'
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2]
	}
	return '?'
}

// openPTY opens a pseudo-terminal pair, as openpty(3) does.
func openPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")                           // non-blocking: Close ends a Read
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		master.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// resize sets the terminal's size: the kernel signals SIGWINCH to the
// command.
func (pt *ptyTerm) resize(t *testing.T, width, height int) {
	t.Helper()
	pt.mu.Lock()
	pt.resizes = append(pt.resizes, resizeAt{len(pt.out), width, height})
	pt.mu.Unlock()
	ws := &unix.Winsize{Col: uint16(width), Row: uint16(height)}
	if err := unix.IoctlSetWinsize(int(pt.master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		t.Fatalf("resize: %v", err)
	}
}

// typeIn types s at the terminal: what a user's keys send.
func (pt *ptyTerm) typeIn(t *testing.T, s string) {
	t.Helper()
	if _, err := pt.master.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// wait waits (up to 30 s) for the command's exit code.
func (pt *ptyTerm) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-pt.exited:
		// Let the reader take the last output.
		waitFor(2*time.Second, func() bool { return strings.Contains(pt.raw(), "Stopped watching") })
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("the command did not exit; the terminal shows:\n%s", pt.text())
		return -1
	}
}

func (pt *ptyTerm) raw() string {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return string(pt.out)
}

// screen replays the output so far on an emulated terminal.
func (pt *ptyTerm) screen() *vt {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	var v *vt
	from := 0
	for _, r := range pt.resizes {
		if v == nil {
			v = newVT(r.width, r.height)
			v.write([]byte(shellLine + "\r\n"))
		} else {
			v.write(pt.out[from:r.at])
			from = r.at
			v.resize(r.width, r.height)
		}
	}
	v.write(pt.out[from:])
	return v
}

func (pt *ptyTerm) lines() []string     { return pt.screen().lines() }
func (pt *ptyTerm) text() string        { return strings.Join(pt.lines(), "\n") }
func (pt *ptyTerm) alt() bool           { return pt.screen().alt }
func (pt *ptyTerm) cursorVisible() bool { return !pt.screen().hidden }

// waitFor waits (up to 30 s) until the screen shows a line matching each
// regular expression.
func (pt *ptyTerm) waitFor(t *testing.T, what string, patterns ...string) {
	t.Helper()
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		res[i] = regexp.MustCompile(p)
	}
	var missing *regexp.Regexp
	ok := waitFor(30*time.Second, func() bool {
		lines := pt.lines()
		missing = nil
		for _, re := range res {
			if !containsMatch(lines, re) {
				missing = re
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("waiting for %s: no line matches %s; the terminal shows:\n%s", what, missing, pt.text())
	}
}

func containsMatch(lines []string, re *regexp.Regexp) bool {
	for _, l := range lines {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// vt is as much of a terminal as the screen uses: cursor moves, erasing,
// saving the cursor, the alternate screen buffer and the cursor's
// visibility; sequences it does not know are skipped. As in xterm, VTE,
// tmux and kitty, each screen buffer has its own saved cursor: the one
// saved on entering the alternate screen is restored on leaving it, however
// often the cursor was saved in between.
type vt struct {
	width, height int
	grid, saved   [][]rune // the screen; the normal one while alt
	x, y          int
	wrap          bool   // the cursor is past the last column
	sx, sy        [2]int // saved, in the normal and the alternate screen
	alt, hidden   bool
}

func (v *vt) buf() int {
	if v.alt {
		return 1
	}
	return 0
}

func newVT(width, height int) *vt {
	v := &vt{width: width, height: height}
	v.grid = v.blank()
	return v
}

func (v *vt) blank() [][]rune {
	g := make([][]rune, v.height)
	for i := range g {
		g[i] = []rune(strings.Repeat(" ", v.width))
	}
	return g
}

// resize keeps what fits, as a terminal that does not reflow.
func (v *vt) resize(width, height int) {
	resized := func(old [][]rune) [][]rune {
		g := make([][]rune, height)
		for i := range g {
			g[i] = []rune(strings.Repeat(" ", width))
			if i < len(old) {
				copy(g[i], old[i])
			}
		}
		return g
	}
	v.width, v.height = width, height
	v.grid = resized(v.grid)
	if v.saved != nil {
		v.saved = resized(v.saved)
	}
	v.x, v.y = min(v.x, width-1), min(v.y, height-1)
}

func (v *vt) lines() []string {
	out := make([]string, v.height)
	for i, row := range v.grid {
		out[i] = strings.TrimRight(string(row), " ")
	}
	return out
}

func (v *vt) write(b []byte) {
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == 0x1b:
			i += v.escape(b[i+1:]) + 1
			continue
		case c == '\r':
			v.x, v.wrap = 0, false
		case c == '\n':
			v.lineFeed()
		case c == '\b':
			v.x, v.wrap = max(0, v.x-1), false
		case c < 0x20 || c == 0x7f:
		default:
			r, size := utf8.DecodeRune(b[i:])
			v.put(r)
			i += size
			continue
		}
		i++
	}
}

func (v *vt) put(r rune) {
	if v.wrap {
		v.x, v.wrap = 0, false
		v.lineFeed()
	}
	v.grid[v.y][v.x] = r
	if v.x == v.width-1 {
		v.wrap = true
	} else {
		v.x++
	}
}

func (v *vt) lineFeed() {
	v.wrap = false
	if v.y < v.height-1 {
		v.y++
		return
	}
	v.grid = append(v.grid[1:], []rune(strings.Repeat(" ", v.width)))
}

// escape handles the sequence after an ESC and returns its length.
func (v *vt) escape(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case '7':
		v.sx[v.buf()], v.sy[v.buf()] = v.x, v.y
		return 1
	case '8':
		v.x, v.y, v.wrap = v.sx[v.buf()], v.sy[v.buf()], false
		return 1
	case '[':
	default:
		return 1
	}
	end := 1
	for end < len(b) && (b[end] < 0x40 || b[end] > 0x7e) {
		end++
	}
	if end == len(b) {
		return len(b)
	}
	params, final := string(b[1:end]), b[end]
	private := strings.HasPrefix(params, "?")
	var args []int
	for _, f := range strings.Split(strings.TrimPrefix(params, "?"), ";") {
		n, _ := strconv.Atoi(f)
		args = append(args, n)
	}
	arg := func(i, def int) int {
		if i < len(args) && args[i] != 0 {
			return args[i]
		}
		return def
	}
	switch {
	case private && (final == 'h' || final == 'l'):
		on := final == 'h'
		switch args[0] {
		case 25:
			v.hidden = !on
		case 1049:
			if on && !v.alt {
				v.sx[0], v.sy[0] = v.x, v.y
				v.saved, v.grid = v.grid, v.blank()
			} else if !on && v.alt {
				v.grid, v.saved = v.saved, nil
				v.x, v.y, v.wrap = v.sx[0], v.sy[0], false
			}
			v.alt = on
		}
	case final == 'H':
		v.y, v.x, v.wrap = min(arg(0, 1), v.height)-1, min(arg(1, 1), v.width)-1, false
	case final == 'K':
		row := v.grid[v.y]
		from, to := v.x, v.width
		switch arg(0, 0) {
		case 1:
			from, to = 0, v.x+1
		case 2:
			from = 0
		}
		for i := from; i < to; i++ {
			row[i] = ' '
		}
	case final == 'J':
		if arg(0, 0) == 2 {
			v.grid = v.blank()
		} else {
			for i := v.x; i < v.width; i++ {
				v.grid[v.y][i] = ' '
			}
			for y := v.y + 1; y < v.height; y++ {
				v.grid[y] = []rune(strings.Repeat(" ", v.width))
			}
		}
	}
	return end + 1
}
