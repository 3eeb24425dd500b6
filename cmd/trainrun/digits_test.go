package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/internal/envtest"
)

// TestDigitsExample runs examples/digits as a user would: scikit-learn's
// digits data set, a support vector classifier, in a host environment and
// in a venv that sees the system's packages. Every run reports its accuracy.
func TestDigitsExample(t *testing.T) {
	envtest.RequireVenv(t)
	envtest.RequireSklearn(t)
	files := exampleFiles(t, "digits")
	p := newProject(t, files)
	p.must(0, nil, "apply", "-auto-approve")
	res := p.must(0, nil, "status", "-json")
	var runs []struct {
		Address string             `json:"address"`
		Status  string             `json:"status"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("status: %s", res.stdout)
	}
	for _, r := range runs {
		if r.Status != "succeeded" || r.Metrics["accuracy"] < 0.95 {
			t.Errorf("%s: %s, accuracy %v", r.Address, r.Status, r.Metrics["accuracy"])
		}
	}
	// The venv run's interpreter is the venv's; it found the system's
	// scikit-learn.
	if log := p.must(0, nil, "logs", "experiment.svm_venv").stdout; !strings.Contains(log, "/envs/venv-") || !strings.Contains(log, "scikit-learn 1.") {
		t.Errorf("svm_venv's log: %q", log)
	}
	if again := p.must(0, nil, "apply", "-auto-approve"); !strings.Contains(again.stdout, "No changes.") {
		t.Errorf("second apply:\n%s", again.stdout)
	}
}
