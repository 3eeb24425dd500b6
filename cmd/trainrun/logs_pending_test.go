package main

import (
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// TestLogsFollowRecordedPending: a run recorded but not submitted yet (an
// apply records it just before it submits it, and a killed apply leaves it
// so) is waited for while a trainrun holds the state, and not otherwise.
func TestLogsFollowRecordedPending(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": tickerConfig, "src/ticker.sh": tickerRun})
	st, err := state.Open(p.path(".trainrun"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Lock(state.Holder{Command: "trainrun apply"}); err != nil {
		t.Fatal(err)
	}
	run := &state.Run{ID: state.NewRunID(), Address: "experiment.ticker", Experiment: "ticker",
		Compute: "local", Status: providers.Pending, CreatedAt: time.Now().UTC()}
	if err := st.Put(run); err != nil {
		t.Fatal(err)
	}
	if err := st.Sync(); err != nil {
		t.Fatal(err)
	}

	// This test holds the state, as an apply would: logs -f waits.
	follow := p.command(nil, "logs", "-f", run.ID)
	var stdout, stderr syncBuffer
	follow.Stdout, follow.Stderr = &stdout, &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = follow.Process.Kill() }()
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	want := "run " + run.ID + " is pending; waiting for it to start…"
	if !waitFor(20*time.Second, func() bool { return strings.Contains(stderr.String(), want) }) {
		t.Fatalf("logs -f did not say it waits; stderr:\n%s", stderr.String())
	}
	select {
	case err := <-done:
		t.Fatalf("logs -f ended while the run was pending: %v\n%s", err, stderr.String())
	case <-time.After(300 * time.Millisecond):
	}

	// The run ends without having started: logs -f sees it, and says why
	// there is no log.
	run.Status, run.Reason, run.FinishedAt = providers.Failed, "submit: no slot", ptr(time.Now().UTC())
	if err := st.Put(run); err != nil {
		t.Fatal(err)
	}
	if err := st.Sync(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), "has no log yet: it is failed") {
			t.Errorf("logs -f: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("logs -f did not notice that the run ended; stderr:\n%s", stderr.String())
	}

	// A pending run that no trainrun holding the state will start: an
	// error at once, saying what starts it.
	run.ID, run.Status, run.Reason, run.FinishedAt = state.NewRunID(), providers.Pending, "", nil
	if err := st.Put(run); err != nil {
		t.Fatal(err)
	}
	if err := st.Unlock(); err != nil {
		t.Fatal(err)
	}
	res := p.must(1, nil, "logs", "-f", run.ID)
	if !strings.Contains(res.stderr, "no trainrun apply is running to start it") {
		t.Errorf("logs -f on an orphaned pending run: %s", res)
	}
}

func ptr[T any](v T) *T { return &v }
