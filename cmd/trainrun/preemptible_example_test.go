package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/internal/envtest"
)

// TestPreemptibleExample runs examples/preemptible for real (PyTorch from
// Debian's python3-torch on the digits) on the local compute, beside a copy
// whose first attempt stops after epoch 7 as a preempted run does: trainrun
// retries it, the retry resumes from the checkpoint in
// TRAINRUN_CHECKPOINT_DIR, its final weights are the uninterrupted run's,
// and no checkpoint is left once both succeeded.
func TestPreemptibleExample(t *testing.T) {
	if testing.Short() {
		t.Skip("imports torch three times: tens of seconds on a busy machine")
	}
	envtest.RequireSklearn(t)
	if err := envtest.Install("python3-torch"); err != nil {
		envtest.Unavailable(t, "python3-torch: %v", err)
	}
	files := exampleFiles(t, "preemptible")
	// The example as it is, and the same experiment stopped once.
	files["trainrun.hcl"] += `
experiment "mlp_preempted" {
  compute     = compute.here
  environment = environment.system
  command     = ["python3", "train.py"]
  params      = { epochs = 20 }
  env         = { STOP_AFTER_EPOCH = "7" }
  retries     = 1
}
`
	p := newProject(t, files)
	res := p.must(0, nil, "apply", "-auto-approve")
	if !strings.Contains(res.stdout, "experiment.mlp_preempted: attempt 1 failed (exit code 1); retrying") {
		t.Errorf("apply did not retry the stopped run:\n%s", res.stdout)
	}
	clean := p.must(0, nil, "logs", "experiment.mlp").stdout
	resumed := p.must(0, nil, "logs", "experiment.mlp_preempted").stdout
	if !regexp.MustCompile(`(?m)^attempt 2: resuming from epoch 8 \(`).MatchString(resumed) || strings.Contains(resumed, "epoch 7:") {
		t.Errorf("the retry did not resume from epoch 8:\n%s", resumed)
	}
	sha := regexp.MustCompile(`(?m)^weights sha256 [0-9a-f]{64}$`)
	a, b := sha.FindString(clean), sha.FindString(resumed)
	if a == "" || a != b {
		t.Errorf("weights: uninterrupted %q, resumed %q\n%s\n%s", a, b, clean, resumed)
	}
	var ids []string
	for _, s := range p.status(nil) {
		if s.Status != "succeeded" {
			t.Errorf("%s: %s", s.Address, s.Status)
		}
		ids = append(ids, s.ID)
	}
	if len(ids) != 2 {
		t.Fatalf("runs: %v", ids)
	}
	m1, err1 := os.ReadFile(p.path(".trainrun/runs/" + ids[0] + "/outputs/model.pt"))
	m2, err2 := os.ReadFile(p.path(".trainrun/runs/" + ids[1] + "/outputs/model.pt"))
	if err1 != nil || err2 != nil || len(m1) == 0 || string(m1) != string(m2) {
		t.Errorf("model.pt differ (%d and %d bytes; %v, %v)", len(m1), len(m2), err1, err2)
	}
	if left := checkpointsLeft(t, p.path(".trainrun/local/here/checkpoints")); len(left) != 0 {
		t.Errorf("checkpoints left after success: %v", left)
	}
}
