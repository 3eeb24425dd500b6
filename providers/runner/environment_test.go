package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/providers"
)

// TestPathPrepend: the environment's directories come first on the run's
// PATH, in order, and the instruction itself is not passed on.
func TestPathPrepend(t *testing.T) {
	c := newCompute(t.TempDir())
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "trtool"), []byte("#!/bin/sh\necho tool from the environment\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := submit(t, c, &providers.RunSpec{RunID: "p1",
		Shell: `trtool; echo "PATH=$PATH"; echo "PREPEND=${TRAINRUN_PATH_PREPEND-unset}"`,
		Env:   map[string]string{providers.PathPrependVar: bin + ":/opt/second"}})
	checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
	log := readLog(t, h)
	want := "tool from the environment\nPATH=" + bin + ":/opt/second:" + os.Getenv("PATH") + "\nPREPEND=unset\n"
	if log != want {
		t.Errorf("log\n%s\nwant\n%s", log, want)
	}
}

// launcher records what it was asked and runs the command under env(1)
// with a marker, as a container runtime would run it in its image.
type launcher struct{ got providers.Launch }

func (l *launcher) Launch(x providers.Launch) ([]string, error) {
	l.got = x
	return append([]string{"env", "LAUNCHED=yes"}, x.Argv...), nil
}

func TestLauncherStartsTheCommand(t *testing.T) {
	c := newCompute(t.TempDir())
	in := t.TempDir()
	l := &launcher{}
	h := submit(t, c, &providers.RunSpec{RunID: "l1", Command: []string{"sh", "-c", `echo "$LAUNCHED $SEED"`},
		Env: map[string]string{"SEED": "42", providers.PathPrependVar: "/x"}, Inputs: map[string]string{"data": in},
		GPUs: []int{1}, Launcher: l})
	checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
	if got := readLog(t, h); got != "yes 42\n" {
		t.Errorf("log %q", got)
	}
	x := l.got
	if x.RunDir != h.Dir || x.WorkDir != filepath.Join(h.Dir, "src") || !slices.Equal(x.Argv, []string{"sh", "-c", `echo "$LAUNCHED $SEED"`}) ||
		!slices.Equal(x.Mounts, []string{in}) || !slices.Equal(x.GPUs, []int{1}) {
		t.Errorf("launch %+v", x)
	}
	want := []string{"SEED", "TRAINRUN_INPUT_DATA", "TRAINRUN_METRICS_FILE", "TRAINRUN_OUTPUTS_DIR"}
	if !slices.Equal(x.Env, want) {
		t.Errorf("passed %q, want %q", x.Env, want)
	}
}

func TestEnvironmentMachine(t *testing.T) {
	dir := t.TempDir()
	var host providers.EnvironmentHost = newCompute(dir)
	m, envs := host.EnvironmentMachine(t.Context())
	if m == nil || envs != filepath.Join(dir, "envs") || !strings.HasPrefix(envs, "/") {
		t.Errorf("machine %v, dir %s", m, envs)
	}
}
