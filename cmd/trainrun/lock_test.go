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

// TestConcurrentApplyWaits starts a second apply of the same instances
// while a first one runs them: it must say whose claim it waits on (the
// first one's pid), start nothing, and use the first one's results, while
// the first goes on to run everything exactly once.
func TestConcurrentApplyWaits(t *testing.T) {
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
	if !waitFor(time.Minute, func() bool { return lineCount(t, p.path("counter.txt")) == 1 }) {
		t.Fatalf("the first apply started no run:\n%s", out.String())
	}

	second := p.command(nil, "apply", "-auto-approve")
	var out2 syncBuffer
	second.Stdout, second.Stderr = &out2, &out2
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	exited2 := make(chan struct{})
	var waitErr2 error
	go func() { waitErr2 = second.Wait(); close(exited2) }()
	defer func() {
		select {
		case <-exited2:
		case <-time.After(30 * time.Second):
			_ = second.Process.Kill()
		}
	}()
	waits := regexp.MustCompile(`waits on another apply, trainrun apply \(pid ([0-9]+) on [^)]+\), which claimed it`)
	if !waitFor(time.Minute, func() bool { return len(waits.FindAllString(out2.String(), -1)) == 2 }) {
		t.Fatalf("the second apply does not say it waits on the first for both instances:\n%s", out2.String())
	}
	if m := waits.FindStringSubmatch(out2.String()); m[1] != strconv.Itoa(first.Process.Pid) {
		t.Errorf("the second apply names pid %s; the first apply is pid %d", m[1], first.Process.Pid)
	}
	if strings.Contains(out2.String(), "started on") {
		t.Errorf("the waiting apply started a run:\n%s", out2.String())
	}
	if n := lineCount(t, p.path("counter.txt")); n != 1 {
		t.Fatalf("%d runs started; want only the first apply's one", n)
	}

	p.write("go.txt", "")
	for i, ex := range []chan struct{}{exited, exited2} {
		select {
		case <-ex:
		case <-time.After(2 * time.Minute):
			t.Fatalf("apply %d did not finish:\n%s\n%s", i+1, out.String(), out2.String())
		}
	}
	if waitErr != nil || waitErr2 != nil {
		t.Fatalf("applies: %v, %v\n%s\n%s", waitErr, waitErr2, out.String(), out2.String())
	}
	if !strings.Contains(out.String(), "Apply complete: 2 succeeded, 0 failed, 0 cancelled.") {
		t.Errorf("first apply:\n%s", out.String())
	}
	if !strings.Contains(out2.String(), "Apply complete: 0 succeeded, 0 failed, 0 cancelled, 2 by another apply.") {
		t.Errorf("second apply:\n%s", out2.String())
	}
	if n := lineCount(t, p.path("counter.txt")); n != 2 {
		t.Errorf("%d runs in all; want 2, each instance once", n)
	}
	if n := strings.Count(p.must(0, nil, "runs", "-json").stdout, `"id":`); n != 2 {
		t.Errorf("%d runs recorded; want 2", n)
	}
	p.must(0, nil, "plan", "-detailed-exitcode")
}

// TestLockOfGoneHolder: a lock held for a moment (as when its holder was
// just killed) is waited for, within -lock-timeout; with -lock-timeout=0s,
// a held lock is refused at once, naming its holder, and nothing runs.
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
	res := p.must(1, nil, "apply", "-auto-approve", "-lock-timeout=0s")
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
