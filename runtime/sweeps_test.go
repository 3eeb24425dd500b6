package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

const stoppingSweep = `
compute "local" "here" {}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root, "a"]
  sweep {
    grid = { q = [1] }
    early_stopping {
      policy = "median"
      metric = "loss"
      goal   = "minimize"
    }
  }
}
`

// TestStopRecordedBeforeACrashIsCarriedOut: a stop is recorded before the
// run is stopped; an apply killed in between leaves the run live with its
// stop decided, and the apply that re-attaches to it stops it, recorded
// as stopped with the reason.
func TestStopRecordedBeforeACrashIsCarriedOut(t *testing.T) {
	p := newProject(t, stoppingSweep)
	detach := make(chan struct{})
	first := applyAsync(p.rt, p.plan(p.rt.Config), Options{Detach: detach})
	p.waitFile("started-a-1")
	close(detach)
	if res := wait(t, first); res.Detached != 1 {
		t.Fatalf("first apply: %+v, want the run left running", res)
	}
	const addr = `experiment.a["q=1"]`
	run := p.st.Latest(addr).Clone()
	if !run.Live() || run.EarlyStopping != "median stopping on loss (minimize), every 1 step from step 0" {
		t.Fatalf("the run: %s, policy %q", run.Status, run.EarlyStopping)
	}
	const reason = "median stopping at step 3: loss 0.9 worse than median 0.5 of 4 runs"
	run.StopReason = reason
	if err := p.st.Put(run); err != nil {
		t.Fatal(err)
	}

	rt := p.rt.WithConfig(p.rt.Config)
	res := wait(t, applyAsync(rt, p.plan(rt.Config), Options{}))
	if res.Stopped != 1 || !res.OK() {
		t.Errorf("second apply: %+v, want the run stopped, and that is no failure", res)
	}
	got := p.st.Latest(addr)
	if got.ID != run.ID || got.Status != providers.Stopped || got.Reason != reason {
		t.Errorf("run %s: %s (%q), want %s stopped with the reason", got.ID, got.Status, got.Reason, run.ID)
	}
	// (Had it not been stopped, it would have ended by itself, succeeded.)
	if n := p.count("a"); n != 1 {
		t.Errorf("the run started %d times", n)
	}
	// Stopped is a result: the next plan leaves it alone.
	if a := p.plan(rt.Config).Actions[0]; a.Action != "no-op" || a.Reasons[0] != "stopped early: "+reason {
		t.Errorf("next plan: %s %q", a.Action, a.Reasons)
	}
}

func TestLiveMetrics(t *testing.T) {
	data := t.TempDir()
	run := &state.Run{ID: "abc", Status: providers.Running, Metrics: map[string]state.Metric{"loss": {Value: 9}}}
	if m := LiveMetrics(data, run); m["loss"].Value != 9 {
		t.Errorf("without a copy: %v, want the record's", m)
	}
	dir := filepath.Join(data, "runs", "abc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lines := `{"name":"loss","value":0.5,"step":1}
{"name":"acc","value":0.7}
{"name":"loss","value":0.4,"step":2}
{"name":"loss","val` // the run is writing it
	if err := os.WriteFile(filepath.Join(dir, metricsFile), []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	m := LiveMetrics(data, run)
	if m["loss"].Value != 0.4 || *m["loss"].Step != 2 || m["acc"].Value != 0.7 || len(m) != 2 {
		t.Errorf("live: %v", m)
	}
	run.Status = providers.Succeeded
	if m := LiveMetrics(data, run); m["loss"].Value != 9 {
		t.Errorf("a finished run: %v, want its record's", m)
	}
	// A copy that is a symlink is not followed.
	if err := os.Remove(filepath.Join(dir, metricsFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, metricsFile)); err != nil {
		t.Fatal(err)
	}
	run.Status = providers.Running
	if m := LiveMetrics(data, run); m["loss"].Value != 9 {
		t.Errorf("through a symlink: %v", m)
	}
}
