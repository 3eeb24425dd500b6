package main

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/pgtest"
)

// crashConfig is a sweep of crashInstances runs, three at a time, each of
// which appends its address to counter.txt (outside source_dir, so that it
// never changes a fingerprint) and then sleeps for the time in its key.
const crashConfig = `
compute "local" "here" {
  max_runs = 3
}

experiment "count" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", path.root, param.job]
  sweep {
    grid = { job = [%s] }
  }
}
`

const crashRun = `echo "$TRAINRUN_ADDRESS" >> "$1/counter.txt"
sleep "${2#*_}"
echo "done $2"
`

// crashRetryConfig: each run fails on its first attempt and succeeds on its
// second.
const crashRetryConfig = `
compute "local" "here" {
  max_runs = 3
}

experiment "count" {
  compute    = compute.here
  source_dir = "src"
  retries    = 1
  retry_backoff = "0s"
  command    = ["sh", "run.sh", path.root, param.job]
  sweep {
    grid = { job = [%s] }
  }
}
`

const crashRetryRun = `echo "$TRAINRUN_ADDRESS attempt $TRAINRUN_ATTEMPT" >> "$1/counter.txt"
sleep "${2#*_}"
test "$TRAINRUN_ATTEMPT" -ge 2
`

const crashInstances = 30

// kill says when one apply of the crash test is killed.
type kill struct {
	name string
	// at waits until the moment to kill, given the apply just started and
	// the counter's line count when it started; false means the moment
	// never came (the apply ended first, or nothing more was left).
	at func(p *project, started time.Time, before int, exited <-chan struct{}) bool
}

func after(d time.Duration) func(*project, time.Time, int, <-chan struct{}) bool {
	return func(_ *project, started time.Time, _ int, exited <-chan struct{}) bool {
		select {
		case <-time.After(time.Until(started.Add(d))):
			return true
		case <-exited:
			return false
		}
	}
}

// afterRunStarted kills as soon as a run appends to the counter file: the
// apply is then between starting a run and recording it, or just past.
func afterRunStarted(p *project, _ time.Time, before int, exited <-chan struct{}) bool {
	counter := p.path("counter.txt")
	return waitFor(10*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		return lineCount(p.t, counter) > before
	}) && !isDone(exited)
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestCrashExactlyOnce kills trainrun apply with SIGKILL at several points of
// a sweep with max_runs = 3, applies again until one apply completes, and
// checks that every instance ran exactly once (with retries = 1 and runs
// that fail once: each of its two attempts exactly once), is recorded
// succeeded, and that nothing is left to do.
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills applies for several seconds")
	}
	landed := 0 // kills that hit an apply while some runs were done and some not
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			landed += crashOnce(t, seed, false, "")
		})
	}
	// Runs that fail once and are retried: a kill may land between an
	// attempt and the next.
	t.Run("retries", func(t *testing.T) {
		landed += crashOnce(t, 4, true, "")
	})
	t.Logf("%d kills landed mid-sweep", landed)
	if !t.Failed() && landed < 5 {
		t.Errorf("only %d kills landed while the sweep was under way; want at least 5 for the test to mean something", landed)
	}
}

// TestCrashExactlyOncePostgres is TestCrashExactlyOnce with the runs
// recorded in PostgreSQL (backend "postgres"): a killed apply's claims end
// with its database session.
func TestCrashExactlyOncePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("kills applies for several seconds; starts PostgreSQL")
	}
	srv := pgtest.Start(t)
	defer srv.Stop()
	landed := 0
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			landed += crashOnce(t, seed, false, srv.NewDatabase(t))
		})
	}
	t.Run("retries", func(t *testing.T) {
		landed += crashOnce(t, 4, true, srv.NewDatabase(t))
	})
	t.Logf("%d kills landed mid-sweep", landed)
	if !t.Failed() && landed < 4 {
		t.Errorf("only %d kills landed while the sweep was under way; want at least 4 for the test to mean something", landed)
	}
}

// crashOnce runs the crash test once; conn, when not "", is the
// PostgreSQL database that records the runs.
func crashOnce(t *testing.T, seed uint64, retried bool, conn string) (landed int) {
	rng := rand.New(rand.NewPCG(seed, 0x7261696e72756e))
	jobs := make([]string, crashInstances)
	want := make([]string, crashInstances)
	for i := range jobs {
		// Deterministic per instance and seed: 20–200 ms.
		jobs[i] = fmt.Sprintf("%02d_0.%03d", i, 20+rng.IntN(181))
		want[i] = fmt.Sprintf(`experiment.count["job=%s"]`, jobs[i])
	}
	sort.Strings(want)
	config, run, wantLines := crashConfig, crashRun, want
	if retried {
		config, run, wantLines = crashRetryConfig, crashRetryRun, nil
		for _, w := range want {
			wantLines = append(wantLines, w+" attempt 1", w+" attempt 2")
		}
	}
	if conn != "" {
		config = "trainrun {\n  backend \"postgres\" {\n    conn_str = \"" + conn + "\"\n  }\n}\n" + config
	}
	p := newProject(t, map[string]string{
		"trainrun.hcl": fmt.Sprintf(config, `"`+strings.Join(jobs, `", "`)+`"`),
		"src/run.sh":   run,
	})
	kills := []kill{
		{"50ms", after(50 * time.Millisecond)},
		{"run started", afterRunStarted},
		{"300ms", after(300 * time.Millisecond)},
		{"random", after(time.Duration(rng.IntN(700)) * time.Millisecond)},
		{"run started", afterRunStarted},
		{"1s", after(time.Second)},
		{"random", after(time.Duration(rng.IntN(400)) * time.Millisecond)},
	}
	for _, k := range kills {
		before := lineCount(t, p.path("counter.txt"))
		cmd := p.command(nil, "apply", "-auto-approve")
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		exited := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(exited) }()
		hit := k.at(p, started, before, exited)
		if hit {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
		<-exited
		n := lineCount(t, p.path("counter.txt"))
		var exit *exec.ExitError
		killed := errors.As(waitErr, &exit) && exit.Sys().(syscall.WaitStatus).Signaled()
		switch {
		case killed:
			t.Logf("kill %-11s after %4dms: %2d runs started before, %2d by now", k.name, time.Since(started).Milliseconds(), before, n)
			if n > 0 && n < len(wantLines) {
				landed++
			}
		case waitErr != nil:
			t.Fatalf("apply (not killed) failed: %v\n%s", waitErr, out.String())
		default:
			t.Logf("kill %-11s: apply completed first", k.name)
		}
	}

	res := p.must(0, nil, "apply", "-auto-approve")
	if !strings.Contains(res.stdout, "No changes") && !strings.Contains(res.stdout, "Apply complete:") {
		t.Errorf("final apply said neither 'No changes' nor 'Apply complete':\n%s", res)
	}

	// Every instance ran exactly once.
	b, err := os.ReadFile(p.path("counter.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("counter file: want each of the %d instances' attempts exactly once, got %d lines:\n%s", len(want), len(got), diffLines(wantLines, got))
	}

	// Every instance is recorded succeeded, with exactly one run.
	st := p.status(nil)
	var addrs []string
	for _, s := range st {
		addrs = append(addrs, s.Address)
		if s.Status != "succeeded" || s.ExitCode == nil || *s.ExitCode != 0 {
			t.Errorf("%s: status %s, exit code %v; want succeeded with 0", s.Address, s.Status, s.ExitCode)
		}
		if retried && s.Attempts != 2 {
			t.Errorf("%s: %d attempts recorded; want 2", s.Address, s.Attempts)
		}
	}
	sort.Strings(addrs)
	if strings.Join(addrs, "\n") != strings.Join(want, "\n") {
		t.Errorf("status -json lists:\n%s", diffLines(want, addrs))
	}
	runs := p.must(0, nil, "runs", "-json")
	if n := strings.Count(runs.stdout, `"id":`); n != crashInstances {
		t.Errorf("runs -json lists %d runs; want %d, one per instance:\n%s", n, crashInstances, runs.stdout)
	}

	p.must(0, nil, "plan", "-detailed-exitcode")
	return landed
}

// diffLines says which lines of want are missing from got and which of got
// are extra or repeated.
func diffLines(want, got []string) string {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(count)) {
		switch n := count[k]; {
		case n > 0:
			fmt.Fprintf(&b, "  missing %s\n", k)
		case n < 0:
			fmt.Fprintf(&b, "  %d extra %s\n", -n, k)
		}
	}
	return b.String()
}
