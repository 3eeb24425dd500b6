package envs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// countingSteps builds a directory whose lock is lines, and appends a line
// to counter (outside the environment) each time it runs.
func countingSteps(counter string, lines ...string) []step {
	return []step{
		{argv: []string{"mkdir", prefixWord}},
		{argv: []string{"sh", "-c", `echo built >>"$0"`, counter}},
		{argv: append([]string{"printf", `%s\n`}, lines...), stdout: prefixWord + "/" + lockFile},
	}
}

func builds(t *testing.T, counter string) int {
	t.Helper()
	data, err := os.ReadFile(counter)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "built\n")
}

// entries lists dir's entries, dot-files included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestBuildDirOnceThenCached(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	counter := filepath.Join(t.TempDir(), "count")
	hostile := []string{`$(touch /tmp/trainrun-pwned)`, "a'b\"c", "line\nbreak", "*", "-n", " ", ""}
	m := &machine{}
	lock, built, err := buildDir(ctx, m, dir, "venv-abc", countingSteps(counter, hostile...), []byte("numpy\n"), ".txt")
	if err != nil || !built {
		t.Fatalf("first build: built %v, %v", built, err)
	}
	if want := strings.Join(hostile, "\n") + "\n"; lock != want {
		t.Fatalf("lock %q, want %q: arguments did not arrive as they were", lock, want)
	}
	if _, err := os.Stat("/tmp/trainrun-pwned"); err == nil {
		t.Fatal("a value was run as a command")
	}
	// Published as a symlink into .d, which holds only the build.
	target, err := os.Readlink(filepath.Join(dir, "venv-abc"))
	if err != nil || !strings.HasPrefix(target, ".d/venv-abc.") {
		t.Fatalf("link %q, %v", target, err)
	}
	if got := entries(t, filepath.Join(dir, ".d")); len(got) != 1 || got[0] != filepath.Base(target) {
		t.Fatalf(".d holds %q: the build's input and log should be gone", got)
	}

	runs := m.runs
	lock2, built, err := buildDir(ctx, m, dir, "venv-abc", countingSteps(counter, "other"), nil, ".txt")
	if err != nil || built || lock2 != lock {
		t.Fatalf("second build: built %v, lock %q, %v", built, lock2, err)
	}
	if m.runs != runs || builds(t, counter) != 1 {
		t.Fatalf("a cached environment ran %d commands and built %d times", m.runs-runs, builds(t, counter))
	}
}

func TestBuildDirFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	steps := []step{
		{argv: []string{"mkdir", prefixWord}},
		{argv: []string{"touch", prefixWord + "/half"}},
		{argv: []string{"sh", "-c", `cat "$0"; echo "ERROR: No matching distribution found for nosuchpkg==9" >&2; exit 7`, inputWord}},
		{argv: []string{"touch", prefixWord + "/" + lockFile}},
	}
	_, _, err := buildDir(ctx, &machine{}, dir, "venv-bad", steps, []byte("nosuchpkg==9\n"), ".txt")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"build failed", "ERROR: No matching distribution found for nosuchpkg==9", "nosuchpkg==9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if got := entries(t, dir); !slices.Equal(got, []string{".d", ".lock"}) {
		t.Errorf("left %q", got)
	}
	if got := entries(t, filepath.Join(dir, ".d")); len(got) != 0 {
		t.Errorf("left %q in .d", got)
	}
	// A build that succeeds later is not bothered by the failure.
	if _, built, err := buildDir(ctx, &machine{}, dir, "venv-bad", countingSteps(filepath.Join(t.TempDir(), "c"), "ok"), nil, ".txt"); err != nil || !built {
		t.Fatalf("build after a failure: %v, %v", built, err)
	}
}

func TestBuildDirLeftoversOfAKilledBuild(t *testing.T) {
	dir := t.TempDir()
	// A killed build leaves its directory, and perhaps a dangling link.
	for _, p := range []string{".d/venv-k.dead/bin", ".lock"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(".d/venv-k.gone", filepath.Join(dir, "venv-k")); err != nil {
		t.Fatal(err)
	}
	if _, built, err := buildDir(context.Background(), &machine{}, dir, "venv-k", countingSteps(filepath.Join(t.TempDir(), "c"), "x"), nil, ".txt"); err != nil || !built {
		t.Fatalf("%v, %v", built, err)
	}
	if got := entries(t, filepath.Join(dir, ".d")); len(got) != 1 || strings.HasSuffix(got[0], ".dead") {
		t.Errorf(".d holds %q", got)
	}
}

// TestBuildDirConcurrent starts several builds of one environment at once,
// each its own sh process: one builds, the others wait and find it built.
// Run once with flock(1) and once with the lock directory it falls back to.
func TestBuildDirConcurrent(t *testing.T) {
	for _, withFlock := range []bool{true, false} {
		name := "flock"
		if !withFlock {
			name = "lockdir"
		}
		t.Run(name, func(t *testing.T) {
			if !withFlock {
				t.Setenv("PATH", toolsWithout(t, "flock"))
			} else if _, err := exec.LookPath("flock"); err != nil {
				t.Skip("no flock(1)")
			}
			dir := t.TempDir()
			counter := filepath.Join(t.TempDir(), "count")
			steps := countingSteps(counter, "x")
			steps = append([]step{{argv: []string{"sleep", "0.3"}}}, steps...)
			const n = 4
			var wg sync.WaitGroup
			built := make([]bool, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, built[i], errs[i] = buildDir(context.Background(), &machine{}, dir, "venv-c", steps, nil, ".txt")
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if got := builds(t, counter); got != 1 {
				t.Fatalf("built %d times, want once", got)
			}
			if n := len(slices.DeleteFunc(built, func(b bool) bool { return !b })); n != 1 {
				t.Fatalf("%d callers say they built it", n)
			}
		})
	}
}

// toolsWithout returns a PATH directory linking the tools the scripts use,
// except the one named.
func toolsWithout(t *testing.T, except string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"sh", "mkdir", "rm", "cat", "ln", "mv", "tail", "cut", "printf", "sleep", "uname", "touch", "flock"} {
		if tool == except {
			continue
		}
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("no %s", tool)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRemoveDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := &machine{}
	if _, _, err := buildDir(ctx, m, dir, "venv-r", countingSteps(filepath.Join(t.TempDir(), "c"), "x"), nil, ".txt"); err != nil {
		t.Fatal(err)
	}
	if err := Venv().(venvKind).Remove(ctx, m, dir, filepath.Join(dir, "venv-r")); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); !slices.Equal(got, []string{".d", ".lock"}) {
		t.Errorf("left %q", got)
	}
	if got := entries(t, filepath.Join(dir, ".d")); len(got) != 0 {
		t.Errorf("left %q in .d", got)
	}
	// Only environments of dir, with ids that are ids.
	for _, loc := range []string{"/etc", filepath.Join(dir, "..", "x"), filepath.Join(dir, "venv-r", "sub"), filepath.Join(dir, "a b")} {
		if err := Venv().(venvKind).Remove(ctx, m, dir, loc); err == nil {
			t.Errorf("remove %s: no error", loc)
		}
	}
	if err := Venv().(venvKind).Remove(ctx, m, "relative", "relative/venv-r"); err == nil {
		t.Error("a relative environments directory: no error")
	}
}
