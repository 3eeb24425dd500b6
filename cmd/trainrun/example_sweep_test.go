package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/internal/envtest"
)

// TestSweepASHAExample runs examples/sweep-asha as a user would, with a
// smaller search (3 points, up to 3 epochs) so that it fits a test: the
// neural network trains on the digits data set epoch by epoch, successive
// halving promotes the best point and it resumes from its checkpoint; the
// median-stopping search ends each point as succeeded or stopped.
func TestSweepASHAExample(t *testing.T) {
	envtest.RequireSklearn(t)
	files := exampleFiles(t, "sweep-asha")
	p := newProject(t, files)
	small := []string{"-var", "points=3", "-var", "max_epochs=3"}
	res := p.must(0, nil, append([]string{"apply", "-auto-approve", "-target", "experiment.asha"}, small...)...)
	if !strings.Contains(res.stdout, "Apply complete: 4 succeeded, 0 failed, 0 cancelled, 2 not promoted.") {
		t.Errorf("asha:\n%s", res)
	}
	top := regexp.MustCompile(`experiment\.asha\["alpha=[^"]*,epochs=3,[^"]*"\]: will run: promoted: val_loss [0-9.]+, 1st of 3 at epochs=1: in the best 1`)
	if !top.MatchString(res.stdout) {
		t.Errorf("no promotion to epochs=3 in:\n%s", res.stdout)
	}
	var runs []struct {
		Address string             `json:"address"`
		ID      string             `json:"id"`
		Status  string             `json:"status"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(p.must(0, nil, "status", "-json", "experiment.asha").stdout), &runs); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Status != "succeeded" || !(r.Metrics["val_acc"] > 0.1) || !(r.Metrics["val_loss"] > 0) {
			t.Errorf("%s: %s, metrics %v", r.Address, r.Status, r.Metrics)
		}
		if strings.Contains(r.Address, "epochs=3") {
			if log := p.must(0, nil, "logs", r.ID).stdout; !strings.Contains(log, "epoch 3: val_loss") || strings.Contains(log, "epoch 1: val_loss") {
				t.Errorf("%s did not resume from epoch 1's checkpoint:\n%s", r.Address, log)
			}
		}
	}
	cmp := p.must(0, nil, "compare", "experiment.asha")
	if !strings.Contains(cmp.stdout, "sorted by val_loss, ascending (the objective)") || !strings.Contains(cmp.stdout, "succeeded, promoted") {
		t.Errorf("compare:\n%s", cmp.stdout)
	}

	res = p.must(0, nil, append([]string{"apply", "-auto-approve", "-target", "experiment.median"}, small...)...)
	if err := json.Unmarshal([]byte(p.must(0, nil, "status", "-json", "experiment.median").stdout), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("median: %d runs\n%s", len(runs), res)
	}
	for _, r := range runs {
		if r.Status != "succeeded" && r.Status != "stopped" {
			t.Errorf("%s: %s\n%s", r.Address, r.Status, res)
		}
	}
	p.must(0, nil, append([]string{"plan", "-detailed-exitcode", "-target", "experiment.asha", "-target", "experiment.median"}, small...)...)
}
