package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newRunDir returns a run directory with an empty src/ below dir (or a
// temporary directory).
func newRunDir(t *testing.T, dir string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testWrapper installs the wrapper in a temporary directory.
func testWrapper(t *testing.T) string {
	t.Helper()
	w, err := InstallWrapper(context.Background(), Local{}, filepath.Join(t.TempDir(), "bin"))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// startRun starts argv through the wrapper and makes sure its process
// group is gone when the test ends.
func startRun(t *testing.T, dir string, timeout, grace time.Duration, argv ...string) Process {
	t.Helper()
	p, err := Local{}.Start(context.Background(), dir, WrapperArgv(testWrapper(t), dir, timeout, grace, argv), []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-p.PID, syscall.SIGKILL) })
	return p
}

func waitDone(t *testing.T, p Process, limit time.Duration) {
	t.Helper()
	select {
	case <-p.Done:
	case <-time.After(limit):
		t.Fatalf("the run did not end within %v", limit)
	}
}

func readExit(t *testing.T, dir string) (int, bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ExitFile))
	if os.IsNotExist(err) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	code, ok := ParseExit(data)
	if !ok {
		t.Fatalf("exit file holds %q", data)
	}
	return code, true
}

func readLog(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// groupMembers lists the live (not zombie) processes of process group pgid.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(data), ')')
		f := strings.Fields(string(data[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGroupGone waits until process group pgid has no live member.
func waitGroupGone(t *testing.T, pgid int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m := groupMembers(t, pgid)
		if len(m) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has %v after %v", pgid, m, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFile(t *testing.T, path string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWrapperExitCodeLogAndPid(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		code int
		log  string
	}{
		{"success", []string{"sh", "-c", "echo out; echo err >&2"}, 0, "out\nerr\n"},
		{"failure", []string{"sh", "-c", "echo failing; exit 3"}, 3, "failing\n"},
		{"killed by a signal", []string{"sh", "-c", "kill -s KILL $$"}, 128 + 9, ""},
		{"working directory is src", []string{"sh", "-c", `pwd -P; ls ..`}, 0, "<src>\nenviron\nlog\npid\nsrc\n"},
		{"stdin is /dev/null", []string{"sh", "-c", "cat; echo eof"}, 0, "eof\n"},
		// exec form runs the program, never a shell builtin: dash's echo
		// would turn \t into a tab.
		{"program not builtin", []string{"echo", `a\tb`}, 0, "a\\tb\n"},
		{"function names are programs", []string{"watchdog"}, 127, "not found"},
		{"missing program", []string{"no-such-program-xyz"}, 127, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newRunDir(t, "")
			p := startRun(t, dir, 0, time.Second, tt.argv...)
			waitDone(t, p, 10*time.Second)
			code, ok := readExit(t, dir)
			if !ok || code != tt.code {
				t.Errorf("exit = %d, %v; want %d (log %q)", code, ok, tt.code, readLog(t, dir))
			}
			src, _ := filepath.EvalSymlinks(filepath.Join(dir, "src"))
			want := strings.ReplaceAll(tt.log, "<src>", src)
			if log := readLog(t, dir); tt.code > 100 {
				// sh may report how the command ended ("Killed").
				if !strings.Contains(log, want) {
					t.Errorf("log = %q, want it to contain %q", log, want)
				}
			} else if log != want {
				t.Errorf("log = %q, want %q", log, want)
			}
			data, err := os.ReadFile(filepath.Join(dir, PidFile))
			if err != nil {
				t.Fatal(err)
			}
			pid, ticks, ok := ParsePid(data)
			if !ok || pid != p.PID || ticks != p.StartTicks {
				t.Errorf("pid file %q, want pid %d ticks %s", data, p.PID, p.StartTicks)
			}
		})
	}
}

func TestWrapperHostileValues(t *testing.T) {
	base := t.TempDir()
	// A run directory and arguments that would run code, split or be taken
	// as options if the wrapper ever put them into script text.
	dir := filepath.Join(base, "-x", "a b", `q'uo"te`, "$(touch pwned)", "`touch pwned2`", "new\nline", "*", "; touch pwned3")
	newRunDir(t, dir)
	args := []string{"$(touch pwned)", "`touch pwned`", "a b", "'", `"`, "-n", "--", "new\nline", "*", "$HOME", `\`, "", "; touch pwned"}
	p := startRun(t, dir, 30*time.Second, time.Second, append([]string{"printf", `[%s]\n`}, args...)...)
	waitDone(t, p, 10*time.Second)
	if code, ok := readExit(t, dir); !ok || code != 0 {
		t.Fatalf("exit = %d, %v; log %q", code, ok, readLog(t, dir))
	}
	var want strings.Builder
	for _, a := range args {
		want.WriteString("[" + a + "]\n")
	}
	if got := readLog(t, dir); got != want.String() {
		t.Errorf("log:\n got %q\nwant %q", got, want.String())
	}
	filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "pwned") {
			t.Errorf("something ran: %s exists", p)
		}
		return nil
	})
	for _, p := range []string{"pwned", "pwned2", "pwned3"} {
		if _, err := os.Stat(filepath.Join(dir, "src", p)); err == nil {
			t.Errorf("something ran: %s exists", p)
		}
	}
}

func TestWrapperTimeoutKillsTheGroup(t *testing.T) {
	dir := newRunDir(t, "")
	start := time.Now()
	p := startRun(t, dir, time.Second, 2*time.Second, "sh", "-c", "sleep 100 & echo $! > ../grandchild; sleep 100")
	waitDone(t, p, 10*time.Second)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the run took %v with a 1s timeout that TERM should end", d)
	}
	data, err := os.ReadFile(filepath.Join(dir, TimedOutFile))
	if err != nil {
		t.Fatalf("no timedout marker: %v", err)
	}
	if d, ok := ParseTimedOut(data); !ok || d != time.Second {
		t.Errorf("timedout marker %q", data)
	}
	if code, ok := readExit(t, dir); !ok || code != 128+15 {
		t.Errorf("exit = %d, %v; want 143", code, ok)
	}
	gc, _ := os.ReadFile(filepath.Join(dir, "grandchild"))
	if _, err := strconv.Atoi(strings.TrimSpace(string(gc))); err != nil {
		t.Fatalf("grandchild pid %q", gc)
	}
	// The watchdog stays for the grace period to KILL what ignored TERM;
	// nothing did, so everything of the run is gone but the watchdog.
	time.Sleep(100 * time.Millisecond)
	for _, pid := range groupMembers(t, p.PID) {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if c := string(cmd); c == "sleep\x00100\x00" || strings.HasPrefix(c, "sh\x00-c\x00sleep 100") {
			t.Errorf("process %d (%q) of the run survived its timeout", pid, cmd)
		}
	}
	waitGroupGone(t, p.PID, 4*time.Second)
}

func TestWrapperTimeoutEscalatesToKill(t *testing.T) {
	dir := newRunDir(t, "")
	start := time.Now()
	p := startRun(t, dir, time.Second, time.Second, "sh", "-c", `trap "" TERM; sleep 100 & sleep 100`)
	waitDone(t, p, 20*time.Second)
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("the run took %v; want the 1s timeout plus the 1s grace", d)
	}
	if _, err := os.Stat(filepath.Join(dir, TimedOutFile)); err != nil {
		t.Errorf("no timedout marker: %v", err)
	}
	if code, ok := readExit(t, dir); !ok || code != 128+9 {
		t.Errorf("exit = %d, %v; want 137 (KILL)", code, ok)
	}
	// The exit code is written once nothing of the run is left.
	if m := sessionMembers(t, p.PID); len(m) > 0 {
		t.Errorf("processes %v of the run outlived it", m)
	}
}

// sessionMembers lists the live (not zombie) processes of process group
// or session id.
func sessionMembers(t *testing.T, id int) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(data), ')')
		f := strings.Fields(string(data[i+1:]))
		if len(f) > 3 && (f[2] == strconv.Itoa(id) || f[3] == strconv.Itoa(id)) && f[0] != "Z" && f[0] != "X" {
			cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}

// TestWrapperKillsLeftoversThatIgnoreTerm: what a succeeded run left
// behind, ignoring TERM, is killed after the grace period, in its process
// group and in its session, before the exit code says the run ended.
func TestWrapperKillsLeftoversThatIgnoreTerm(t *testing.T) {
	shell := "(trap '' TERM; exec sleep 300) & echo done"
	if py, err := exec.LookPath("python3"); err == nil {
		// A process group of its own in the run's session.
		shell += "; " + py + ` -c 'import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); os.setpgid(0, 0); os.fork() and os._exit(0); time.sleep(300)'`
	}
	dir := newRunDir(t, "")
	start := time.Now()
	p := startRun(t, dir, 0, time.Second, "sh", "-c", shell)
	waitDone(t, p, time.Minute)
	if code, ok := readExit(t, dir); !ok || code != 0 {
		t.Errorf("exit = %d, %v; want 0", code, ok)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the leftovers got %v, not the 1s grace period", d)
	}
	if m := sessionMembers(t, p.PID); len(m) > 0 {
		t.Errorf("processes of a finished run are still there: %q", m)
	}
	if log := readLog(t, dir); !strings.HasPrefix(log, "done\n") {
		t.Errorf("log = %q", log)
	}
}

// TestWrapperKillsSessionLeftoverOutsideItsGroup: a short run whose only
// leftover moved to a process group of its own (still in the run's
// session) and ignores TERM is found by the wrapper's quick look (no full
// /proc scan) and killed before the exit code says the run ended.
func TestWrapperKillsSessionLeftoverOutsideItsGroup(t *testing.T) {
	// perl, not python: the run must be short (see left in wrapper.sh).
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("no perl to change a process group with")
	}
	dir := newRunDir(t, "")
	p := startRun(t, dir, 0, time.Second, perl, "-e", `$SIG{TERM} = "IGNORE"; setpgrp(0, 0) or die; fork and exit; sleep 300`)
	waitDone(t, p, time.Minute)
	if code, ok := readExit(t, dir); !ok || code != 0 {
		t.Errorf("exit = %d, %v; want 0", code, ok)
	}
	if m := sessionMembers(t, p.PID); len(m) > 0 {
		t.Errorf("processes of a finished run are still there: %q", m)
	}
}

// TestWrapperClaim: a wrapper that finds the run claimed (its pid file
// there) runs nothing and writes nothing.
func TestWrapperClaim(t *testing.T) {
	dir := newRunDir(t, "")
	if err := os.WriteFile(filepath.Join(dir, PidFile), []byte("abandoned\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startRun(t, dir, 0, time.Second, "sh", "-c", "echo ran > ../ran")
	waitDone(t, p, time.Minute)
	for _, f := range []string{"ran", ExitFile, LogFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists: the wrapper went on without its claim", f)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, PidFile)); string(data) != "abandoned\n" {
		t.Errorf("pid file = %q", data)
	}
}

// TestWrapperWorksWhereItStarted: a wrapper whose run directory was
// replaced before it came up never touches the new one.
func TestWrapperWorksWhereItStarted(t *testing.T) {
	base := t.TempDir()
	dir := newRunDir(t, filepath.Join(base, "run"))
	w := testWrapper(t)
	// The slow start: the shell comes up after the directory was replaced.
	argv := append([]string{"sh", "-c", `: > "$0/started"; while [ ! -e "$0/go" ]; do sleep 0.05; done; exec "$@"`, base}, WrapperArgv(w, dir, 0, time.Second, []string{"sh", "-c", "echo ran > ../ran"})...)
	p, err := Local{}.Start(context.Background(), dir, argv, []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-p.PID, syscall.SIGKILL) })
	waitFile(t, filepath.Join(base, "started"), time.Minute)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	newRunDir(t, dir)
	if err := os.WriteFile(filepath.Join(base, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, time.Minute)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the new run directory holds %q, want only src", names)
	}
}

// TestWrapperCommandLine: ps shows a short command line with the run
// directory, not the wrapper's text.
func TestWrapperCommandLine(t *testing.T) {
	dir := newRunDir(t, "")
	p := startRun(t, dir, 0, time.Second, "sh", "-c", ": > ../ready; sleep 100")
	waitFile(t, filepath.Join(dir, "ready"), time.Minute)
	cmd, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/cmdline")
	if err != nil {
		t.Skip("no /proc")
	}
	if len(cmd) > 512 || !strings.Contains(string(cmd), dir) || !strings.Contains(string(cmd), WrapperName) {
		t.Errorf("command line %q: want a short one naming %s and the run directory", cmd, WrapperName)
	}
	syscall.Kill(p.PID, syscall.SIGTERM)
	waitDone(t, p, time.Minute)
}

func TestWrapperNoWatchdogLeftBehind(t *testing.T) {
	dir := newRunDir(t, "")
	p := startRun(t, dir, time.Hour, time.Second, "true")
	waitDone(t, p, 10*time.Second)
	waitGroupGone(t, p.PID, 2*time.Second)
	if _, err := os.Stat(filepath.Join(dir, TimedOutFile)); err == nil {
		t.Error("timedout marker for a run that ended in time")
	}
	if code, ok := readExit(t, dir); !ok || code != 0 {
		t.Errorf("exit = %d, %v", code, ok)
	}
}

func TestWrapperEndsBackgroundLeftovers(t *testing.T) {
	dir := newRunDir(t, "")
	p := startRun(t, dir, 0, time.Second, "sh", "-c", "sleep 100 & exit 0")
	waitDone(t, p, 10*time.Second)
	waitGroupGone(t, p.PID, 2*time.Second)
}

func TestWrapperForwardsStopSignalsOnce(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			if signal.Ignored(sig) {
				// Inherited (nohup go test): sh cannot trap a signal that
				// was ignored when it started, and neither can the run.
				t.Skipf("%v is ignored by this process (nohup?), and so by the runs it starts", sig)
			}
			dir := newRunDir(t, "")
			// The command counts the signals it gets, then exits 7.
			script := `n=0; trap 'n=$((n+1)); echo got $n' TERM HUP; : > ../ready
while [ $n -eq 0 ]; do sleep 0.05; done; sleep 0.3; exit 7`
			p := startRun(t, dir, time.Hour, time.Second, "sh", "-c", script)
			waitFile(t, filepath.Join(dir, "ready"), 5*time.Second)
			if err := (Local{}).Signal(context.Background(), p.PID, sig); err != nil {
				t.Fatal(err)
			}
			waitDone(t, p, 10*time.Second)
			if code, ok := readExit(t, dir); !ok || code != 7 {
				t.Errorf("exit = %d, %v; want 7", code, ok)
			}
			// (sh may also report that its sleep was terminated.)
			if log := readLog(t, dir); strings.Count(log, "got") != 1 || !strings.Contains(log, "got 1\n") {
				t.Errorf("log = %q; want one signal", log)
			}
			waitGroupGone(t, p.PID, 2*time.Second)
		})
	}
}

func TestWrapperRefusesWithoutItsOwnGroup(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: the wrapper cannot tell")
	}
	dir := newRunDir(t, "")
	// The outer sh leads the new session; the wrapper is its child, in
	// the outer sh's group, which it must not signal.
	argv := append([]string{"sh", "-c", `"$@"; echo outer-survived >> "$0/outer"`, dir}, WrapperArgv(testWrapper(t), dir, 0, time.Second, []string{"true"})...)
	p, err := Local{}.Start(context.Background(), dir, argv, []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, 10*time.Second)
	if code, ok := readExit(t, dir); !ok || code != 126 {
		t.Errorf("exit = %d, %v; want 126", code, ok)
	}
	if !strings.Contains(readLog(t, dir), "own process group") {
		t.Errorf("log = %q", readLog(t, dir))
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "outer")); string(data) != "outer-survived\n" {
		t.Errorf("the wrapper signalled a group that is not its own")
	}
}

// TestWrapperShells runs the wrapper under every POSIX-ish shell found.
func TestWrapperShells(t *testing.T) {
	for _, sh := range []string{"dash", "bash", "busybox", "mksh", "ksh", "yash", "zsh"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		t.Run(sh, func(t *testing.T) {
			dir := newRunDir(t, "")
			argv := WrapperArgv(testWrapper(t), dir, 30*time.Second, time.Second, []string{"printf", "%s|", "a b", "$x", "'"})
			argv[0] = path
			if sh == "busybox" {
				argv = append([]string{path, "sh"}, argv[1:]...)
			}
			if sh == "zsh" {
				argv = append([]string{path, "--emulate", "sh"}, argv[1:]...)
			}
			p, err := Local{}.Start(context.Background(), dir, argv, []string{"PATH=" + os.Getenv("PATH")})
			if err != nil {
				t.Fatal(err)
			}
			waitDone(t, p, 10*time.Second)
			if code, ok := readExit(t, dir); !ok || code != 0 {
				t.Errorf("exit = %d, %v; log %q", code, ok, readLog(t, dir))
			}
			if log := readLog(t, dir); log != "a b|$x|'|" {
				t.Errorf("log = %q", log)
			}
			waitGroupGone(t, p.PID, 2*time.Second)
		})
	}
}

func TestWrapperArgv(t *testing.T) {
	got := WrapperArgv("/w/bin/run", "/r", 1500*time.Millisecond, 0, []string{"python", "-c", "x"})
	want := []string{"sh", "/w/bin/run", "/r", "2", "0", "--", "python", "-c", "x"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("WrapperArgv = %q", got)
	}
}

func TestParseFiles(t *testing.T) {
	for _, tt := range []struct {
		in   string
		code int
		ok   bool
	}{{"0\n", 0, true}, {"143\n", 143, true}, {"", 0, false}, {"1", 0, false}, {"x\n", 0, false}, {"-1\n", 0, false}, {"256\n", 0, false}} {
		if code, ok := ParseExit([]byte(tt.in)); code != tt.code || ok != tt.ok {
			t.Errorf("ParseExit(%q) = %d, %v", tt.in, code, ok)
		}
	}
	if pid, ticks, ok := ParsePid([]byte("12 345\n")); pid != 12 || ticks != "345" || !ok {
		t.Errorf("ParsePid = %d %q %v", pid, ticks, ok)
	}
	if pid, ticks, ok := ParsePid([]byte("12 \n")); pid != 12 || ticks != "" || !ok {
		t.Errorf("ParsePid without ticks = %d %q %v", pid, ticks, ok)
	}
	for _, bad := range []string{"", "12", "x 1\n", "0 1\n"} {
		if _, _, ok := ParsePid([]byte(bad)); ok {
			t.Errorf("ParsePid(%q) ok", bad)
		}
	}
	if d, ok := ParseTimedOut([]byte("7200\n")); d != 2*time.Hour || !ok {
		t.Errorf("ParseTimedOut = %v %v", d, ok)
	}
	if _, ok := ParseTimedOut([]byte("99999999999999999\n")); ok {
		t.Error("ParseTimedOut accepted an overflowing value")
	}
}

func TestParseEnviron(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
	}{
		{"dash", "export HOME='/root'\nexport Q='it'\"'\"'s'\nexport NL='a\nb'\nexport EMPTY=''\nexport UNSET\n",
			map[string]string{"HOME": "/root", "Q": "it's", "NL": "a\nb", "EMPTY": ""}},
		{"bash", "declare -x A=\"x \\\"y\\\" \\$z \\\\ \\`w\\`\"\nexport B=\"plain\"\n",
			map[string]string{"A": "x \"y\" $z \\ `w`", "B": "plain"}},
		{"cut short", "export A='ok'\nexport B='never closed", map[string]string{"A": "ok"}},
		{"junk", "nonsense line\nexport 9X='no'\nexport C='yes'\n", map[string]string{"C": "yes"}},
	} {
		if got := ParseEnviron([]byte(tc.in)); !maps.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// What the wrapper records is what the command was given, as a real sh
// prints it.
func TestEnvironRoundTrip(t *testing.T) {
	want := map[string]string{"A": "it's \"quoted\" $(no) `no`", "B": "line\nbreak", "C": ""}
	var script strings.Builder
	for k, v := range want {
		script.WriteString(k + "=" + Quote(v) + "; export " + k + "\n")
	}
	script.WriteString("export -p\n")
	out, err := exec.Command("sh", "-c", script.String()).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := ParseEnviron(out)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// A trainrun killed while it fed the wrapper to the install script (or
// before it wrote a byte) must not leave a partial wrapper that every later
// run starts and that ends at once without an exit code; one left by an
// older trainrun is replaced.
func TestInstallWrapperWhole(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		content string // what reaches the script's stdin
		before  string // what is at dir/name before, if anything
		wantErr bool
	}{
		{name: "whole", content: WrapperScript},
		{name: "empty stdin", content: "", wantErr: true},
		{name: "cut short", content: WrapperScript[:len(WrapperScript)/2], wantErr: true},
		{name: "empty file in place", content: WrapperScript, before: "-"},
		{name: "partial file in place", content: WrapperScript, before: WrapperScript[:100]},
	}
	// Local installs without the script; scriptLocal is a machine that
	// runs it.
	type scriptLocal struct{ Local }
	for _, e := range []Executor{Local{}, scriptLocal{}} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%T/%s", e, tt.name), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "bin")
				f := filepath.Join(dir, WrapperName)
				if tt.before != "" {
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(f, []byte(strings.TrimPrefix(tt.before, "-")), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				err := installFile(ctx, e, dir, WrapperName, strings.NewReader(tt.content), len(WrapperScript))
				if (err != nil) != tt.wantErr {
					t.Fatalf("installFile: error %v, want error %v", err, tt.wantErr)
				}
				got, rerr := os.ReadFile(f)
				switch {
				case tt.wantErr && !errors.Is(rerr, fs.ErrNotExist):
					t.Errorf("a failed install left %s (%d bytes, %v)", f, len(got), rerr)
				case !tt.wantErr && string(got) != WrapperScript:
					t.Errorf("installed wrapper has %d bytes, want the %d of WrapperScript (%v)", len(got), len(WrapperScript), rerr)
				}
				if entries, _ := os.ReadDir(dir); len(entries) > 1 || tt.wantErr && len(entries) > 0 {
					t.Errorf("install left %d files in %s, want only the wrapper", len(entries), dir)
				}
			})
		}
	}
}
