package envs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/internal/envtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// TestVenvWithPip builds a real virtual environment from a wheel made on
// the spot, finds it cached the second time, and sees a bad requirement
// fail with pip's own message, leaving the good environment as it was.
func TestVenvWithPip(t *testing.T) {
	envtest.RequireVenv(t)
	ctx := context.Background()
	wheels := t.TempDir()
	envtest.Wheel(t, wheels, "trhello", "1.0")
	dir := t.TempDir()
	m := &machine{}
	values := func(reqs ...string) providers.Values {
		return providers.Values{
			"python":       cty.StringVal(envtest.Python),
			"requirements": strList(reqs...),
			"pip_args":     strList("--no-index", "--find-links", wheels),
		}
	}
	e := open(t, Venv(), values("trhello==1.0"), t.TempDir())
	s := spec(t, e)
	p, err := e.Prepare(ctx, m, dir, s)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Built || !strings.Contains(p.Lock, "trhello==1.0") || p.Location != filepath.Join(dir, s.ID) {
		t.Fatalf("prepared %+v", p)
	}
	out, err := exec.Command(p.Env["TRAINRUN_PYTHON"], "-c", "import trhello, sys; print(trhello.VERSION, sys.prefix)").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1.0 "+p.Location {
		t.Fatalf("the environment's python says %q, %v", out, err)
	}
	runs := m.runs
	again, err := e.Prepare(ctx, m, dir, s)
	if err != nil || again.Built || again.Lock != p.Lock || m.runs != runs {
		t.Fatalf("second prepare: built %v, %d commands, %v", again.Built, m.runs-runs, err)
	}

	bad := open(t, Venv(), values("trhello==1.0", "nosuchpkg==9"), t.TempDir())
	_, err = bad.Prepare(ctx, m, dir, spec(t, bad))
	if err == nil || !strings.Contains(err.Error(), "No matching distribution found for nosuchpkg==9") {
		t.Fatalf("bad requirement: %v", err)
	}
	if got := entries(t, dir); len(got) != 3 { // .d, .lock and the good one
		t.Errorf("after a failed build: %q", got)
	}
	if _, err := os.Stat(filepath.Join(p.Location, "bin", "python")); err != nil {
		t.Errorf("the good environment was harmed: %v", err)
	}
}

// TestContainerWithPodman builds an image from a context, runs a command
// in it the way the run wrapper would, and removes it.
func TestContainerWithPodman(t *testing.T) {
	runArgs := envtest.RequirePodman(t)
	ctx := context.Background()
	project := t.TempDir()
	ctxDir := filepath.Join(project, "image")
	os.MkdirAll(ctxDir, 0o755)
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM "+envtest.BusyboxImage+"\nARG GREETING\nCOPY hello.txt nonce /\nRUN echo \"$GREETING\" > /greeting\n"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "hello.txt"), []byte("hello from the image\n"), 0o644)
	// An image of this test process alone: images are tagged by their
	// context's hash, and the same test in another process removes its
	// image at the end.
	os.WriteFile(filepath.Join(ctxDir, "nonce"), []byte(fmt.Sprintf("%d %d\n", os.Getpid(), time.Now().UnixNano())), 0o644)
	values := providers.Values{
		"runtime":  cty.StringVal("podman"),
		"run_args": strList(runArgs...),
		"build": cty.ObjectVal(map[string]cty.Value{
			"context":    cty.StringVal("image"),
			"dockerfile": cty.NullVal(cty.String),
			"args":       cty.MapVal(map[string]cty.Value{"GREETING": cty.StringVal("it's a 'test'")}),
		}),
	}
	e, err := Container().Open("Test_Env", values, providers.Env{Dir: project, DataDir: filepath.Join(project, ".trainrun")})
	if err != nil {
		t.Fatal(err)
	}
	s := spec(t, e)
	envDir := t.TempDir()
	m := executor.Local{}
	p, err := e.Prepare(ctx, m, envDir, s)
	if err != nil {
		if strings.Contains(err.Error(), "RUN") || strings.Contains(err.Error(), "rlimit") {
			envtest.Unavailable(t, "podman build cannot run RUN steps here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { Container().(containerKind).Remove(context.Background(), m, envDir, p.Location) })
	if !p.Built || !p.Created || !strings.HasPrefix(p.Digest, "sha256:") || !strings.HasPrefix(p.Location, "localhost/trainrun-test-env:") {
		t.Fatalf("prepared %+v", p)
	}
	if again, err := e.Prepare(ctx, m, envDir, s); err != nil || again.Built || again.Digest != p.Digest {
		t.Fatalf("second prepare: %+v, %v", again, err)
	}

	// A run directory as the local compute makes it; the run writes its
	// outputs as an unprivileged user.
	run := filepath.Join(t.TempDir(), "runs", "r1")
	os.MkdirAll(filepath.Join(run, "src"), 0o755)
	os.MkdirAll(filepath.Join(run, "outputs"), 0o777)
	os.Chmod(filepath.Join(run, "outputs"), 0o777)
	os.WriteFile(filepath.Join(run, "src", "train.sh"), []byte("cat /hello.txt /greeting; id -u; echo \"$SEED\" > \"$TRAINRUN_OUTPUTS_DIR/seed\"\n"), 0o644)
	l := p.Launcher.(*launcher)
	l.uid, l.gid = "4242", "4242"
	argv, err := l.Launch(providers.Launch{RunDir: run, WorkDir: filepath.Join(run, "src"), Argv: []string{"sh", "train.sh"},
		Env: []string{"SEED", "TRAINRUN_OUTPUTS_DIR"}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "SEED=42", "TRAINRUN_OUTPUTS_DIR="+filepath.Join(run, "outputs"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%q: %v: %s", argv, err, out)
	}
	if want := "hello from the image\nit's a 'test'\n4242\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	fi, err := os.Stat(filepath.Join(run, "outputs", "seed"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 {
		t.Errorf("the output is owned by uid %d, want 4242", st.Uid)
	}
	if data, _ := os.ReadFile(filepath.Join(run, "outputs", "seed")); string(data) != "42\n" {
		t.Errorf("seed %q", data)
	}

	if err := Container().(containerKind).Remove(ctx, m, envDir, p.Location); err != nil {
		t.Fatal(err)
	}
	if exec.Command("podman", "image", "exists", p.Location).Run() == nil {
		t.Errorf("%s is still there", p.Location)
	}
}
