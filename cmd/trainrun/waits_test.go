package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/sshtest"
)

// pollUntil calls ok until it says true, failing the test after limit.
func pollUntil(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runTimesJSON is what show -json says of a run's times.
type runTimesJSON struct {
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
	RunningAt  *time.Time `json:"running_at"`
	Duration   *float64   `json:"duration_s"`
	Attempts   int        `json:"attempts"`
}

func (p *project) runTimes(ref string) runTimesJSON {
	p.t.Helper()
	res := p.must(0, nil, "show", "-json", ref)
	var r runTimesJSON
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		p.t.Fatalf("show -json: %v\n%s", err, res.stdout)
	}
	return r
}

// An SSH machine that goes away while its run goes on: apply says once
// that it waits and why, and when it is over; the run's reported duration
// is its own, not the outage's.
func TestSSHOutageIsSaidAndNotCounted(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	p := newProject(t, map[string]string{
		"trainrun.hcl": sshCompute("box", s, wd, "") + `
experiment "train" {
  compute    = compute.box
  source_dir = "src"
  command    = ["sh", "-c", "sleep 2; echo trained"]
}
`,
		"src/x.txt": "x",
	})
	apply := p.command(nil, "apply", "-auto-approve")
	var out bytes.Buffer
	apply.Stdout, apply.Stderr = &out, &out
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	defer apply.Process.Kill()
	runs := filepath.Join(s.Home, wd, "runs")
	file := func(name string) string {
		m, _ := filepath.Glob(filepath.Join(runs, "*", name))
		if len(m) == 1 {
			return m[0]
		}
		return ""
	}
	pollUntil(t, 2*time.Minute, "the run's pid file", func() bool { return file("pid") != "" })
	s.Down()
	// The outage outlasts the run by five seconds at least.
	pollUntil(t, 2*time.Minute, "the run's exit file", func() bool { return file("exit") != "" })
	fi, err := os.Stat(file("exit"))
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, time.Minute, "five seconds after the run ended", func() bool { return time.Since(fi.ModTime()) > 5*time.Second })
	if err := s.Up(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- apply.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, out.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("apply did not end:\n%s", out.String())
	}
	log := out.String()
	waiting := "experiment.train: waiting: ssh 127.0.0.1:" + strconv.Itoa(s.Port) + " unreachable (retrying)"
	if n := strings.Count(log, waiting); n != 1 {
		t.Fatalf("%q said %d times, want once:\n%s", waiting, n, log)
	}
	if !regexp.MustCompile(`experiment\.train: done waiting after \S+ \(ssh 127\.0\.0\.1:\d+ unreachable\)`).MatchString(log) {
		t.Fatalf("apply does not say the wait is over:\n%s", log)
	}
	m := regexp.MustCompile(`experiment\.train: succeeded after (\S+) \(run`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no end line:\n%s", log)
	}
	said, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	r := p.runTimes("experiment.train")
	if r.RunningAt == nil || r.Duration == nil {
		t.Fatalf("the run's own times are not recorded: %+v", r)
	}
	own := r.FinishedAt.Sub(*r.RunningAt)
	if own < 2*time.Second || time.Since(r.StartedAt) < own+5*time.Second {
		t.Fatalf("recorded times %+v: the run took %v, the apply %v", r, own, time.Since(r.StartedAt))
	}
	if d := time.Duration(*r.Duration * float64(time.Second)); d != own {
		t.Errorf("duration_s %v, want %v (finished_at - running_at)", d, own)
	}
	if said < 2*time.Second || said > own+10*time.Millisecond {
		t.Errorf("apply said %v; the run's own time was %v", said, own)
	}
	runsOut := p.must(0, nil, "runs")
	if !strings.Contains(runsOut.stdout, own.Round(10*time.Millisecond).String()) {
		t.Errorf("runs does not show the run's own duration %v:\n%s", own.Round(10*time.Millisecond), runsOut.stdout)
	}
}
