package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestApplyRace: ten applies started at once on the same 100 instances run
// each exactly once (each run leaves a marker file of its own), and every
// one of them ends with every instance succeeded, by itself or by another.
func TestApplyRace(t *testing.T) {
	if testing.Short() {
		t.Skip("ten applies of 100 runs: not in -short")
	}
	const applies, points = 10, 100
	p := newProject(t, map[string]string{
		"trainrun.hcl": fmt.Sprintf(`
compute "local" "here" {
  max_runs = 4
}

experiment "race" {
  compute    = compute.here
  source_dir = "src"
  shell      = "touch ${path.root}/markers/${param.n}-$$"
  sweep {
    grid = { n = range(%d) }
  }
}
`, points),
		"src/README": "the runs touch a marker each\n",
	})
	if err := os.Mkdir(p.path("markers"), 0o755); err != nil {
		t.Fatal(err)
	}
	type ended struct {
		out  string
		err  error
		pid  int
		code int
	}
	results := make([]ended, applies)
	var wg sync.WaitGroup
	for i := range applies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := p.command(nil, "apply", "-auto-approve", "-lock-timeout=5m")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Start()
			if err == nil {
				results[i].pid = cmd.Process.Pid
				timer := time.AfterFunc(10*time.Minute, func() { _ = cmd.Process.Kill() })
				err = cmd.Wait()
				timer.Stop()
			}
			results[i].out, results[i].err = out.String(), err
		}()
	}
	wg.Wait()
	complete := regexp.MustCompile(`Apply complete: ([0-9]+) succeeded, 0 failed, 0 cancelled(, ([0-9]+) by another apply)?\.`)
	ran := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("apply %d: %v\n%s", i, r.err, r.out)
		}
		m := complete.FindStringSubmatch(r.out)
		if m == nil {
			t.Fatalf("apply %d does not say it completed:\n%s", i, r.out)
		}
		var n, other int
		fmt.Sscan(m[1], &n)
		if m[3] != "" {
			fmt.Sscan(m[3], &other)
		}
		if strings.Count(r.out, "started on here") != n {
			t.Errorf("apply %d says %d succeeded but started %d runs", i, n, strings.Count(r.out, "started on here"))
		}
		// Instances done before the plan are unchanged, not counted.
		if n+other > points {
			t.Errorf("apply %d: %d succeeded + %d by another apply > %d instances", i, n, other, points)
		}
		ran += n
	}
	markers, err := os.ReadDir(p.path("markers"))
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, m := range markers {
		n, _, _ := strings.Cut(m.Name(), "-")
		per[n]++
	}
	for n := range points {
		if c := per[fmt.Sprint(n)]; c != 1 {
			t.Errorf("instance n=%d ran %d times; want once", n, c)
		}
	}
	if len(markers) != points || ran != points {
		t.Errorf("%d runs (%d by the applies' counts); want %d", len(markers), ran, points)
	}
	if n := strings.Count(p.must(0, nil, "runs", "-json").stdout, `"id":`); n != points {
		t.Errorf("%d runs recorded; want %d", n, points)
	}
	p.must(0, nil, "plan", "-detailed-exitcode")
}

// TestKilledApplyReleasesClaims: an apply waiting on another's claim goes
// on when the other is killed with SIGKILL: it re-attaches to the killed
// apply's live run, which runs once.
func TestKilledApplyReleasesClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("kills an apply: not in -short")
	}
	p := newProject(t, map[string]string{"trainrun.hcl": holdConfig, "src/hold.sh": holdRun})
	first := p.command(nil, "apply", "-auto-approve", "-target", `experiment.hold["n=1"]`)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan struct{})
	go func() { first.Wait(); close(firstDone) }()
	if !waitFor(time.Minute, func() bool { return lineCount(t, p.path("counter.txt")) == 1 }) {
		t.Fatal("the first apply started no run")
	}
	second := p.command(nil, "apply", "-auto-approve", "-target", `experiment.hold["n=1"]`)
	var out syncBuffer
	second.Stdout, second.Stderr = &out, &out
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	secondDone := make(chan error, 1)
	go func() { secondDone <- second.Wait() }()
	defer func() {
		p.write("go.txt", "")
		select {
		case <-secondDone:
		case <-time.After(time.Minute):
			_ = second.Process.Kill()
		}
	}()
	if !waitFor(time.Minute, func() bool { return strings.Contains(out.String(), "waits on another apply") }) {
		t.Fatalf("the second apply does not wait on the first:\n%s", out.String())
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-firstDone
	if !waitFor(2*time.Minute, func() bool { return strings.Contains(out.String(), "re-attached to run") }) {
		t.Fatalf("the second apply did not re-attach once the first was killed:\n%s", out.String())
	}
	p.write("go.txt", "")
	select {
	case err := <-secondDone:
		if err != nil {
			t.Fatalf("second apply: %v\n%s", err, out.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the second apply did not end:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Apply complete: 1 succeeded, 0 failed, 0 cancelled.") {
		t.Errorf("second apply:\n%s", out.String())
	}
	if n := lineCount(t, p.path("counter.txt")); n != 1 {
		t.Errorf("the run ran %d times; want once", n)
	}
}
