package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const holdConfig = `
compute "local" "here" {
  max_runs = 1
}

experiment "hold" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root]
  sweep {
    grid = { n = [1, 2] }
  }
}
`

// hold.sh records that it ran, then waits for go.txt.
const holdRun = `echo "$TRAINRUN_ADDRESS" >> "$1/counter.txt"
while [ ! -f "$1/go.txt" ] && [ -d "$1" ]; do sleep 0.02; done
echo released
`

// TestConcurrentApplyRefused starts a second apply while a first one holds
// the state: it must be refused, name the first one's pid, exit 1 and start
// nothing, while the first goes on to run everything exactly once.
func TestConcurrentApplyRefused(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": holdConfig, "src/hold.sh": holdRun})
	first := p.command(nil, "apply", "-auto-approve")
	var out syncBuffer
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = first.Wait(); close(exited) }()
	defer func() {
		p.write("go.txt", "")
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = first.Process.Kill()
		}
	}()
	if !waitFor(30*time.Second, func() bool { return lineCount(t, p.path("counter.txt")) == 1 }) {
		t.Fatalf("the first apply started no run:\n%s", out.String())
	}

	for _, args := range [][]string{
		{"apply", "-auto-approve"},
		{"apply", "-auto-approve", "-replace", "experiment.hold"},
		{"destroy", "-auto-approve"},
	} {
		second := p.must(1, nil, args...)
		m := regexp.MustCompile(`state is locked: trainrun apply \(pid ([0-9]+) on [^)]+\) has held it since`).FindStringSubmatch(second.stderr)
		if m == nil {
			t.Fatalf("the refusal does not name the holder:\n%s", second)
		}
		if pid, _ := strconv.Atoi(m[1]); pid != first.Process.Pid {
			t.Errorf("the refusal names pid %d; the first apply is pid %d", pid, first.Process.Pid)
		}
		if strings.Contains(second.stdout, "started on") {
			t.Errorf("the refused command started a run:\n%s", second)
		}
	}
	time.Sleep(200 * time.Millisecond) // time for a run the refused applies might have started
	if n := lineCount(t, p.path("counter.txt")); n != 1 {
		t.Fatalf("%d runs started; want only the first apply's one", n)
	}
	if n := strings.Count(p.must(0, nil, "runs", "-json").stdout, `"id":`); n != 1 {
		t.Errorf("%d runs recorded while the first apply runs its first; want 1", n)
	}

	p.write("go.txt", "")
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("first apply: %v\n%s", waitErr, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("first apply did not finish:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Apply complete: 2 succeeded, 0 failed, 0 cancelled.") {
		t.Errorf("first apply:\n%s", out.String())
	}
	if n := lineCount(t, p.path("counter.txt")); n != 2 {
		t.Errorf("%d runs in all; want 2, each instance once", n)
	}
	if n := strings.Count(p.must(0, nil, "runs", "-json").stdout, `"id":`); n != 2 {
		t.Errorf("%d runs recorded; want 2", n)
	}
	p.must(0, nil, "plan", "-detailed-exitcode")
}

// TestLockOfGoneHolder: a lock that names a process that no longer exists
// but is still held for a moment (as when the holder was just killed) is
// waited for; one that names a live process is refused at once.
func TestLockOfGoneHolder(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": `
compute "local" "here" {}

experiment "once" {
  compute = compute.here
  shell   = "echo ran >> ${path.root}/ran.txt"
}
`})
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p.path(".trainrun"), 0o700); err != nil {
		t.Fatal(err)
	}
	hold := func(pid int) *os.File {
		t.Helper()
		f, err := os.OpenFile(p.path(".trainrun/lock"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, `{"pid":%d,"host":%q,"command":"trainrun apply","since":"2026-01-02T03:04:05Z"}`, pid, host)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		return f
	}

	// Named a live process (this one): refused at once.
	f := hold(os.Getpid())
	start := time.Now()
	res := p.must(1, nil, "apply", "-auto-approve")
	if !strings.Contains(res.stderr, fmt.Sprintf("(pid %d on %s)", os.Getpid(), host)) {
		t.Errorf("the refusal does not name the holder:\n%s", res)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refused after %v; a live holder is refused at once", d)
	}
	f.Close()

	// Named a process that is gone, released 300 ms later: waited for.
	f = hold(gone.Process.Pid)
	time.AfterFunc(300*time.Millisecond, func() { f.Close() })
	p.must(0, nil, "apply", "-auto-approve")
	if n := lineCount(t, p.path("ran.txt")); n != 1 {
		t.Errorf("the run ran %d times; want once", n)
	}
}
