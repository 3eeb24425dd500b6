package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/internal/envtest"
)

// TestExamplePipeline runs examples/pipeline end to end with Debian's
// scikit-learn: everything runs once, compare ranks the sweep, a second
// apply runs nothing, a comment in prep re-runs prep alone, and a rerun of
// a training run reproduces its model byte for byte.
func TestExamplePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scikit-learn for real")
	}
	bin, err := exec.LookPath("trainrun")
	if err != nil {
		t.Fatalf("trainrun is not on PATH (testscript.Main puts it there): %v", err)
	}
	envtest.RequireSklearn(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", "pipeline"))); err != nil {
		t.Fatal(err)
	}
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("trainrun %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	mustMatch := func(out, pattern string) {
		t.Helper()
		if !regexp.MustCompile(pattern).MatchString(out) {
			t.Fatalf("no match for %q in:\n%s", pattern, out)
		}
	}

	out := run(true, "apply", "-auto-approve")
	mustMatch(out, `Apply complete: 8 succeeded, 0 failed, 0 cancelled\.`)

	out = run(true, "compare", "-sort", "-val_accuracy", "experiment.train")
	mustMatch(out, `experiment\.train: 6 instances .*sorted by val_accuracy, descending`)
	mustMatch(out, `(?m)^RUN +STATUS +alpha +epochs +eta0 +val_accuracy +val_loss$`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4+6 {
		t.Fatalf("compare printed %d lines, want 4 + 6 rows:\n%s", len(lines), out)
	}
	// The first row has the best validation accuracy, and it is good.
	mustMatch(lines[4], `^([0-9a-f]{12}) +succeeded +\S+ +(10|20) +\S+ +0\.9[0-9]*\* +`)
	first := strings.Fields(lines[4])[0]

	out = run(true, "logs", "experiment.eval")
	mustMatch(out, `best on the test set: alpha=`)

	out = run(true, "plan", "-detailed-exitcode")
	mustMatch(out, `No changes\.`)

	prep := filepath.Join(dir, "prep", "prep.py")
	src, err := os.ReadFile(prep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prep, append([]byte("# A comment changes nothing the stage writes.\n"), src...), 0o644); err != nil {
		t.Fatal(err)
	}
	out = run(true, "apply", "-auto-approve")
	mustMatch(out, `experiment\.eval: not run again: outputs of experiment\.prep, `)
	mustMatch(out, `Apply complete: 1 succeeded, 0 failed, 0 cancelled, 7 unchanged \(same upstream outputs\)\.`)

	out = run(true, "rerun", first)
	mustMatch(out, `Outputs identical: run [0-9a-f]{12} reproduces run `+first)
}
