package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const tickerConfig = `
compute "local" "here" {}

experiment "ticker" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "ticker.sh", path.root]
}
`

// ticker.sh prints a line every 20 ms until go.txt exists.
const tickerRun = `touch "$1/started.txt"
i=0
while [ ! -f "$1/go.txt" ] && [ -d "$1" ]; do
  i=$((i+1))
  echo "tick $i"
  sleep 0.02
done
echo released
`

// TestLogsFollowLive follows the log of a live run: lines arrive while the
// run is still running (it cannot end before the test lets it), and
// logs -f returns once the run has ended, with its last line.
func TestLogsFollowLive(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": tickerConfig, "src/ticker.sh": tickerRun})
	apply := p.command(nil, "apply", "-auto-approve")
	var applyOut syncBuffer
	apply.Stdout, apply.Stderr = &applyOut, &applyOut
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	applyDone := make(chan error, 1)
	go func() { applyDone <- apply.Wait() }()
	defer func() {
		p.write("go.txt", "")
		_ = apply.Process.Kill()
	}()
	// Until the run's handle is recorded, logs says it has no log yet.
	if !waitFor(30*time.Second, func() bool { return p.run(nil, "logs", "experiment.ticker").code == 0 }) {
		t.Fatalf("the run did not start:\n%s", applyOut.String())
	}

	// What the log holds before logs -f starts.
	before := strings.Count(p.must(0, nil, "logs", "experiment.ticker").stdout, "\n")

	follow := p.command(nil, "logs", "-f", "experiment.ticker")
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = follow.Process.Kill() }()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Lines written after logs -f started arrive while the run goes on:
	// wait for the fifth.
	seen := 0
	deadline := time.After(20 * time.Second)
	for want := fmt.Sprintf("tick %d", before+5); ; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("logs -f ended while the run was live, after %d lines; stderr:\n%s", seen, stderr.String())
			}
			if l != fmt.Sprintf("tick %d", seen+1) {
				t.Fatalf("line %d is %q; want tick %d", seen+1, l, seen+1)
			}
			seen++
		case <-deadline:
			t.Fatalf("logs -f printed %d lines in 20 s of a run printing 50 a second", seen)
		}
		if fmt.Sprintf("tick %d", seen) == want {
			break
		}
	}
	if _, err := os.Stat(p.path("go.txt")); err == nil {
		t.Fatal("go.txt exists: the run may have ended")
	}

	p.write("go.txt", "")
	var last string
	timeout := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			last = l
		case <-timeout:
			t.Fatal("logs -f did not return after the run ended")
		}
	}
	if err := follow.Wait(); err != nil {
		t.Fatalf("logs -f: %v\n%s", err, stderr.String())
	}
	if last != "released" {
		t.Errorf("the last line logs -f printed is %q; want the run's last, %q", last, "released")
	}
	if err := <-applyDone; err != nil {
		t.Fatalf("apply: %v\n%s", err, applyOut.String())
	}
}
