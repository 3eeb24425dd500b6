package ssh

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/internal/envtest"
	"github.com/trainrun/trainrun/internal/sshtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/providers/runner"
)

// openCompute opens an ssh compute on s through the kind, as the runtime
// does.
func openCompute(t *testing.T, s *sshtest.Server, extra map[string]cty.Value) *Compute {
	t.Helper()
	wd := "c-" + randHex()
	v := providers.Values{
		"host": cty.StringVal(s.Addr), "port": cty.NumberIntVal(int64(s.Port)), "user": cty.StringVal(s.User),
		"private_key_file": cty.StringVal(s.KeyFile), "known_hosts_file": cty.StringVal(s.KnownHostsFile),
		"workdir": cty.StringVal("~/" + wd),
	}
	for k, x := range extra {
		v[k] = x
	}
	k := &kind{pool: newConnPool(), home: t.TempDir()}
	if problems := k.Validate(v); len(problems) > 0 {
		t.Fatalf("%+v", problems)
	}
	comp, err := k.Open("box", v, providers.Env{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := comp.(*Compute)
	t.Cleanup(func() {
		c.Close()
		e, _ := testExecutor(t, s)
		e.RemoveAll(ctxT(t), s.Home+"/"+wd)
	})
	return c
}

func TestLogFollowSurvivesDroppedConnection(t *testing.T) {
	s := server(t, sshtest.Options{})
	c := openCompute(t, s, nil)
	ctx := ctxT(t)
	h, err := c.Submit(ctx, &providers.RunSpec{RunID: "r1", Shell: "i=1; while [ $i -le 30 ]; do echo line $i; i=$((i+1)); sleep 0.05; done", Env: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.Log(ctx, h, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got strings.Builder
	buf := make([]byte, 64)
	dropped := 0
	for {
		n, err := rc.Read(buf)
		got.Write(buf[:n])
		if dropped < 2 && strings.Count(got.String(), "\n") > 5+10*dropped {
			s.KillSessions()
			dropped++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d drops: %v", dropped, err)
		}
	}
	var want strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got.String() != want.String() || dropped != 2 {
		t.Fatalf("followed %q after %d drops", got.String(), dropped)
	}
	st, err := c.Wait(ctx, h)
	if err != nil || st.State != providers.Succeeded {
		t.Fatalf("wait: %+v, %v", st, err)
	}
	if h.Host != s.User+"@"+s.Addr+":"+fmt.Sprint(s.Port) || h.Kind != "ssh" || h.Compute != "box" {
		t.Fatalf("handle %+v", h)
	}
	// Found again by id, as after a crash between submit and recording.
	found, ok, err := c.Lookup(ctx, "r1")
	if err != nil || !ok || found.ID != h.ID || found.Dir != h.Dir {
		t.Fatalf("lookup: %+v %v %v", found, ok, err)
	}
	if _, ok, err := c.Lookup(ctx, "never"); ok || err != nil {
		t.Fatalf("lookup of a run never started: %v %v", ok, err)
	}

}

// TestSucceededRunLeavesNothingOverSSH: a background child that ignores
// TERM does not outlive a succeeded run on an ssh compute, and ps there
// shows the wrapper by a short name with the run's directory.
func TestSucceededRunLeavesNothingOverSSH(t *testing.T) {
	s := server(t, sshtest.Options{})
	c := openCompute(t, s, nil)
	ctx := ctxT(t)
	h, err := c.Submit(ctx, &providers.RunSpec{RunID: "bg", Env: map[string]string{},
		Shell: "(trap '' TERM; exec sleep 300) & echo $! > ../bg; tr '\\0' ' ' </proc/$PPID/cmdline > ../cmdline; echo done"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Wait(ctx, h)
	if err != nil || st.State != providers.Succeeded {
		t.Fatalf("wait: %+v, %v", st, err)
	}
	e, _ := testExecutor(t, s)
	bg, err := e.ReadFile(ctx, h.Dir+"/bg")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(bg)))
	if err != nil {
		t.Fatalf("bg pid %q", bg)
	}
	if alive, err := e.Alive(ctx, pid, ""); err != nil || alive {
		t.Errorf("the run's background child %d outlived the succeeded run (%v)", pid, err)
	}
	cmd, _ := e.ReadFile(ctx, h.Dir+"/cmdline")
	if len(cmd) > 512 || !strings.Contains(string(cmd), executor.WrapperName+" "+h.Dir+" ") {
		t.Errorf("the wrapper's command line is %q", cmd)
	}
}

// TestFullDiskSaysSoOverSSH: on an ssh compute too, a run that fills the
// workdir's file system is reported as such, not as a vanished process.
func TestFullDiskSaysSoOverSSH(t *testing.T) {
	s := server(t, sshtest.Options{})
	work := s.Home + "/full-" + randHex()
	if err := os.Mkdir(work, 0o755); err != nil {
		envtest.Unavailable(t, "make %s: %v", work, err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	envtest.SmallFilesystem(t, work, 1<<20)
	c := openCompute(t, s, map[string]cty.Value{"workdir": cty.StringVal(work)})
	ctx := ctxT(t)
	h, err := c.Submit(ctx, &providers.RunSpec{RunID: "full", Env: map[string]string{},
		Shell: `head -c 4000000 /dev/zero > "$TRAINRUN_OUTPUTS_DIR/fill"; echo after`})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Wait(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != providers.Failed || !strings.Contains(st.Reason, "no space left on the file system of "+work+" (") {
		t.Errorf("status %+v; want no space left on %s", st, work)
	}
}

// TestSlowWrapperRunsOnceOverSSH: a re-apply that finds a run directory
// whose wrapper has not come up yet (its sh sleeps 3 s first) claims it
// and submits the run again; the late wrapper then runs nothing.
func TestSlowWrapperRunsOnceOverSSH(t *testing.T) {
	s := server(t, sshtest.Options{})
	c := openCompute(t, s, nil)
	ctx := ctxT(t)
	e, scratch := testExecutor(t, s)
	if err := e.Mkdir(ctx, scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	count := scratch + "/count"
	spec := func(id string) *providers.RunSpec {
		return &providers.RunSpec{RunID: id, Env: map[string]string{"COUNT": count}, Shell: `echo ran >> "$COUNT"`}
	}
	// A first run installs the wrapper and says where runs go.
	h0, err := c.Submit(ctx, &providers.RunSpec{RunID: "first", Env: map[string]string{}, Shell: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctx, h0); err != nil {
		t.Fatal(err)
	}
	runs := path.Dir(h0.Dir)
	wrapper := path.Join(path.Dir(runs), "bin", executor.WrapperName)
	dir := path.Join(runs, "late")
	if err := executor.MakeDir(ctx, e, dir, 0o700, []string{"src", "outputs"}, []string{"log"}); err != nil {
		t.Fatal(err)
	}
	argv, err := runner.Command(spec("late"))
	if err != nil {
		t.Fatal(err)
	}
	slow := append([]string{"sh", "-c", `sleep 3; exec "$@"`, "sh"}, executor.WrapperArgv(wrapper, dir, 0, time.Second, argv)...)
	p, err := e.Start(ctx, dir, slow, []string{"COUNT=" + count})
	if err != nil {
		t.Fatal(err)
	}
	// trainrun died before it recorded the handle; the next one looks.
	h, found, err := c.Lookup(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		if h, err = c.Submit(ctx, spec("late")); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := c.Wait(ctx, h); err != nil || st.State != providers.Succeeded {
		t.Fatalf("wait: %+v, %v", st, err)
	}
	for {
		alive, err := e.Alive(ctx, p.PID, p.StartTicks)
		if err != nil {
			t.Fatal(err)
		}
		if !alive {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if data, _ := e.ReadFile(ctx, count); string(data) != "ran\n" {
		t.Errorf("the run executed %d times", strings.Count(string(data), "ran"))
	}
}

// TestSkippedSpecialOutputsOverSSH: FIFOs in a run's outputs (its outputs
// directory and a declared output) hold no data; collecting over SSH
// copies the rest and names them in a *providers.SkippedError.
func TestSkippedSpecialOutputsOverSSH(t *testing.T) {
	s := server(t, sshtest.Options{})
	c := openCompute(t, s, nil)
	ctx := ctxT(t)
	spec := &providers.RunSpec{RunID: "fifo", Env: map[string]string{}, Outputs: []string{"ckpt/"},
		Shell: `mkfifo "$TRAINRUN_OUTPUTS_DIR/pipe" && echo trained > "$TRAINRUN_OUTPUTS_DIR/model.txt" && mkdir ckpt && mkfifo ckpt/f && echo w > ckpt/w`}
	h, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Wait(ctx, h)
	if err != nil || st.State != providers.Succeeded {
		t.Fatalf("wait: %+v, %v", st, err)
	}
	dst := t.TempDir()
	err = c.Collect(ctx, h, spec, dst, true)
	var skipped *providers.SkippedError
	if !errors.As(err, &skipped) {
		t.Fatalf("collect: %v, want a *providers.SkippedError", err)
	}
	want := []string{"FIFO outputs/ckpt/f", "FIFO outputs/pipe"}
	if !slices.Equal(skipped.Files, want) {
		t.Errorf("skipped %q, want %q", skipped.Files, want)
	}
	for _, f := range []string{"outputs/model.txt", "outputs/ckpt/w"} {
		if fi, err := os.Lstat(filepath.Join(dst, f)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s not collected: %v", f, err)
		}
	}
	for _, f := range []string{"outputs/pipe", "outputs/ckpt/f"} {
		if _, err := os.Lstat(filepath.Join(dst, f)); err == nil {
			t.Errorf("%s was collected", f)
		}
	}
}
