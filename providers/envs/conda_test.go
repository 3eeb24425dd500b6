package envs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/providers"
)

// fakeMicromamba stands in for micromamba: "create" makes the prefix with a
// bin/python and records its arguments there; "env export" prints a lock.
const fakeMicromamba = `#!/bin/sh
case "$1" in
create)
	prefix= prev=
	for a do [ "$prev" = --prefix ] && prefix=$a; prev=$a; done
	mkdir -p "$prefix/bin" || exit 1
	printf '%s\n' "$@" >"$prefix/args"
	printf '#!/bin/sh\necho fake conda python\n' >"$prefix/bin/python"
	chmod +x "$prefix/bin/python"
	;;
env)
	echo "@EXPLICIT"
	echo "https://conda.example.org/numpy-1.26.0.conda"
	;;
*)
	exit 2
	;;
esac
`

// TestCondaMechanism builds a conda environment with a stand-in for
// micromamba: the tool is found on the compute, called with the
// environment's dependencies and channels, and the result is cached and
// locked like any other.
func TestCondaMechanism(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "micromamba"), []byte(fakeMicromamba), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	ctx := context.Background()
	e := open(t, Conda(), providers.Values{"dependencies": strList("NumPy = 1.26", "python>=3.11"), "channels": strList("conda-forge")}, t.TempDir())
	s := spec(t, e)
	if !strings.HasPrefix(s.ID, "conda-") || strings.Join(s.Requirements, ",") != "numpy=1.26,python>=3.11" {
		t.Fatalf("spec %+v", s)
	}
	dir := t.TempDir()
	m := &machine{}
	p, err := e.Prepare(ctx, m, dir, s)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Built || p.Lock != "@EXPLICIT\nhttps://conda.example.org/numpy-1.26.0.conda\n" || p.Env["CONDA_PREFIX"] != p.Location {
		t.Fatalf("prepared %+v", p)
	}
	args, err := os.ReadFile(filepath.Join(p.Location, "args"))
	if err != nil {
		t.Fatal(err)
	}
	// Built in DIR/.d/ID.RANDOM, which DIR/ID links to.
	want := "create\n--yes\n--prefix\n" + filepath.Join(dir, ".d", s.ID) + "."
	if !strings.HasPrefix(string(args), want) || !strings.HasSuffix(string(args), "--override-channels\n--channel\nconda-forge\nNumPy = 1.26\npython>=3.11\n") {
		t.Errorf("micromamba was called with\n%s", args)
	}
	if out, err := exec.Command(p.Env["TRAINRUN_PYTHON"]).Output(); err != nil || string(out) != "fake conda python\n" {
		t.Errorf("the environment's python: %q, %v", out, err)
	}
	runs := m.runs
	if again, err := e.Prepare(ctx, m, dir, s); err != nil || again.Built || m.runs != runs || again.Lock != p.Lock {
		t.Errorf("second prepare: %+v, %d commands, %v", again, m.runs-runs, err)
	}
}

// TestCondaWithoutATool says which tools it looked for.
func TestCondaWithoutATool(t *testing.T) {
	only := t.TempDir()
	if err := os.Symlink(sh(t), filepath.Join(only, "sh")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", only)
	e := open(t, Conda(), providers.Values{"dependencies": strList("numpy")}, t.TempDir())
	_, err := e.Prepare(context.Background(), &machine{}, t.TempDir(), spec(t, e))
	if err == nil || !strings.Contains(err.Error(), "none of micromamba, mamba, conda is installed") {
		t.Fatalf("error %v", err)
	}
}

// TestCondaWithARealTool builds a real environment where micromamba, mamba
// or conda is installed. None can be installed on the machines this project
// is tested on, so it is skipped there, even under
// TRAINRUN_REQUIRE_INTEGRATION=1 (docs/environments.md says so).
func TestCondaWithARealTool(t *testing.T) {
	found := false
	for _, tool := range condaTools {
		if _, err := exec.LookPath(tool); err == nil {
			found = true
		}
	}
	if !found {
		t.Skip("no micromamba, mamba or conda on PATH; this test runs only where one is (not required by TRAINRUN_REQUIRE_INTEGRATION)")
	}
	ctx := context.Background()
	e := open(t, Conda(), providers.Values{"dependencies": strList("python=3.11"), "channels": strList("conda-forge")}, t.TempDir())
	s := spec(t, e)
	dir := t.TempDir()
	p, err := e.Prepare(ctx, &machine{}, dir, s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p.Env["TRAINRUN_PYTHON"], "-c", "import sys; print(sys.version_info[:2] == (3, 11))").Output()
	if err != nil || strings.TrimSpace(string(out)) != "True" {
		t.Errorf("the environment's python: %q, %v", out, err)
	}
	if !strings.Contains(p.Lock, "python") {
		t.Errorf("lock %q", p.Lock)
	}
	if err := Conda().(condaKind).Remove(ctx, &machine{}, dir, p.Location); err != nil {
		t.Fatal(err)
	}
}
