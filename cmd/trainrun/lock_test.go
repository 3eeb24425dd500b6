package main

import (
	"regexp"
	"strconv"
	"strings"
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
while [ ! -f "$1/go.txt" ]; do sleep 0.02; done
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
