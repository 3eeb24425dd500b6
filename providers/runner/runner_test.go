package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/envtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

var ctx = context.Background()

// TestMain doubles as a helper process that submits a run and dies; see
// TestRunSurvivesTrainrun.
func TestMain(m *testing.M) {
	if dir := os.Getenv("TRAINRUN_LOCAL_HELPER_WORKDIR"); dir != "" {
		c := newCompute(dir)
		h, err := c.Submit(context.Background(), &providers.RunSpec{RunID: "survivor",
			Shell: "sleep 1.5; echo survived; echo done > $TRAINRUN_OUTPUTS_DIR/out"})
		if err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(2)
		}
		json.NewEncoder(os.Stdout).Encode(h)
		if os.Getenv("TRAINRUN_LOCAL_HELPER_DIE") == "kill" {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newCompute(workdir string) *Compute {
	return New(Options{Name: "test", Kind: "local", Exec: executor.Local{}, Workdir: workdir,
		MaxRuns: 2, GPUs: 0, BaseEnv: Inherited(os.Environ()), KillGrace: time.Second, CancelGrace: time.Second})
}

// submit submits spec and kills whatever is left of the run when the test
// ends.
func submit(t testing.TB, c *Compute, spec *providers.RunSpec) providers.Handle {
	t.Helper()
	h, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	t.Cleanup(func() {
		if p, err := strconv.Atoi(h.ID); err == nil {
			syscall.Kill(-p, syscall.SIGKILL)
		}
	})
	return h
}

func wait(t testing.TB, c *Compute, h providers.Handle) providers.Status {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st, err := c.Wait(wctx, h)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return st
}

func readLog(t testing.TB, h providers.Handle) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.Dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func checkStatus(t testing.TB, st providers.Status, state providers.State, reason string, code int) {
	t.Helper()
	got := -1
	if st.ExitCode != nil {
		got = *st.ExitCode
	}
	if st.State != state || st.Reason != reason || got != code {
		t.Errorf("status = %s %q exit %d; want %s %q exit %d", st.State, st.Reason, got, state, reason, code)
	}
}

// live lists the pids that are alive.
func live(t testing.TB, pids ...int) []int {
	t.Helper()
	var out []int
	for _, p := range pids {
		alive, err := executor.Local{}.Alive(ctx, p, "")
		if err != nil {
			t.Fatal(err)
		}
		if alive {
			out = append(out, p)
		}
	}
	return out
}

func readPid(t testing.TB, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if p, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(live(t, pid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExecAndShellForm(t *testing.T) {
	c := newCompute(t.TempDir())
	tests := []struct {
		name string
		spec providers.RunSpec
		log  string
	}{
		{"exec", providers.RunSpec{Command: []string{"printf", "%s|", "a b", "$HOME", "*"}}, "a b|$HOME|*|"},
		{"shell", providers.RunSpec{Shell: `x="a b"; echo "$x" | tr a-z A-Z; ls`}, "A B\ntrain.py\n"},
	}
	blob := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(blob, []byte("print(1)\n"), 0o644)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.RunID = "run" + strconv.Itoa(i)
			spec.Files = []providers.File{{Path: "train.py", Mode: 0o644, Blob: blob}}
			h := submit(t, c, &spec)
			if h.Kind != "local" || h.Compute != "test" || h.StartTicks == "" || h.StartedAt.IsZero() ||
				h.Dir != filepath.Join(c.o.Workdir, "runs", spec.RunID) {
				t.Errorf("handle %+v", h)
			}
			checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
			if got := readLog(t, h); got != tt.log {
				t.Errorf("log = %q, want %q", got, tt.log)
			}
			fi, err := os.Stat(h.Dir)
			if err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("run directory mode %v, %v; want 0700", fi.Mode(), err)
			}
		})
	}
	if _, err := c.Submit(ctx, &providers.RunSpec{RunID: "none"}); err == nil {
		t.Error("Submit of a run without a command succeeded")
	}
	if _, err := c.Submit(ctx, &providers.RunSpec{RunID: "both", Shell: "true", Command: []string{"true"}}); err == nil {
		t.Error("Submit of a run with a command and a shell line succeeded")
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x"} {
		if _, err := c.Submit(ctx, &providers.RunSpec{RunID: id, Shell: "true"}); err == nil {
			t.Errorf("Submit with run id %q succeeded", id)
		}
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("TRAINRUN_TEST_NOT_INHERITED", "leak")
	t.Setenv("LC_TIME", "C")
	tests := []struct {
		name     string
		gpus     int
		specGPUs []int
		cuda     string // "-": unset
	}{
		{"no gpus", 0, nil, "-"},
		{"given gpus", 4, []int{0, 2}, "0,2"},
		{"asked for none", 2, nil, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCompute(t.TempDir())
			c.o.GPUs = tt.gpus
			c.o.BaseEnv = Inherited(os.Environ())
			spec := &providers.RunSpec{
				RunID:   "env" + strconv.Itoa(i),
				Command: []string{"env"},
				Env: map[string]string{
					"TRAINRUN_RUN_ID": "env" + strconv.Itoa(i), "TRAINRUN_ATTEMPT": "1", "TRAINRUN_PARAMS": `{"lr":0.1}`,
					"TRAINRUN_PARAM_LR": "0.1", "SEED": "42", "SPACES": "a b  c",
					"TRAINRUN_OUTPUTS_DIR": "/overridden", "CUDA_VISIBLE_DEVICES": "7", "HOME": "/custom-home",
				},
				Inputs: map[string]string{"data": "/data/in", "Other": "/x"},
				GPUs:   tt.specGPUs,
			}
			h := submit(t, c, spec)
			checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
			env := map[string]string{}
			for _, l := range strings.Split(readLog(t, h), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok {
					env[k] = v
				}
			}
			want := map[string]string{
				"TRAINRUN_RUN_ID": spec.RunID, "TRAINRUN_ATTEMPT": "1", "TRAINRUN_PARAMS": `{"lr":0.1}`,
				"TRAINRUN_PARAM_LR": "0.1", "SEED": "42", "SPACES": "a b  c",
				"TRAINRUN_OUTPUTS_DIR":  filepath.Join(h.Dir, "outputs"),
				"TRAINRUN_METRICS_FILE": filepath.Join(h.Dir, "metrics.jsonl"),
				"TRAINRUN_INPUT_DATA":   "/data/in",
				"TRAINRUN_INPUT_OTHER":  "/x",
				"PATH":                  os.Getenv("PATH"),
				"HOME":                  "/custom-home", // the run's env wins over trainrun's
				"LC_TIME":               "C",
			}
			for k, v := range want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (set: %v), want %q", k, got, ok, v)
				}
			}
			if got, ok := env["CUDA_VISIBLE_DEVICES"]; tt.cuda == "-" && got != "7" || tt.cuda != "-" && (!ok || got != tt.cuda) {
				t.Errorf("CUDA_VISIBLE_DEVICES = %q (set: %v), want %q", got, ok, tt.cuda)
			}
			if _, ok := env["TRAINRUN_TEST_NOT_INHERITED"]; ok {
				t.Error("the run inherited a variable outside the documented set")
			}
			// The metrics file is the run's to create; this one wrote none.
			if data, err := os.ReadFile(filepath.Join(h.Dir, "metrics.jsonl")); !os.IsNotExist(err) {
				t.Errorf("metrics.jsonl: %q, %v; want no file", data, err)
			}
		})
	}
}

func TestFailedRunRecordsExitCode(t *testing.T) {
	c := newCompute(t.TempDir())
	h := submit(t, c, &providers.RunSpec{RunID: "fail", Shell: "echo bye; exit 3"})
	checkStatus(t, wait(t, c, h), providers.Failed, "exit code 3", 3)
	st, err := c.Poll(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	checkStatus(t, st, providers.Failed, "exit code 3", 3)
}

func TestTimeoutKillsTheRunAndItsChildren(t *testing.T) {
	c := newCompute(t.TempDir())
	start := time.Now()
	h := submit(t, c, &providers.RunSpec{RunID: "slow", Timeout: 1 * time.Second,
		Shell: "sleep 100 & echo $! > ../grandchild; sleep 100"})
	st := wait(t, c, h)
	if st.State != providers.Failed || st.Reason != "timed out after 1s" {
		t.Errorf("status %+v, want failed, timed out after 1s", st)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 1s timeout took %v", d)
	}
	waitGone(t, readPid(t, filepath.Join(h.Dir, "grandchild")))
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name  string
		shell string
	}{
		{"stops on TERM", "sleep 100 & echo $! > ../grandchild; sleep 100"},
		// Ignores TERM: killed after CancelGrace.
		{"needs KILL", `trap "" TERM; sleep 100 & echo $! > ../grandchild; sleep 100`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCompute(t.TempDir())
			h := submit(t, c, &providers.RunSpec{RunID: "c" + strconv.Itoa(i), Shell: tt.shell})
			gc := readPid(t, filepath.Join(h.Dir, "grandchild"))
			if st, _ := c.Poll(ctx, h); st.State != providers.Running {
				t.Fatalf("before cancel: %+v", st)
			}
			start := time.Now()
			if err := c.Cancel(ctx, h); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Cancel took %v", d)
			}
			st := wait(t, c, h)
			if st.State != providers.Cancelled {
				t.Errorf("status %+v, want cancelled", st)
			}
			waitGone(t, gc)
			p, _ := strconv.Atoi(h.ID)
			waitGone(t, p)
		})
	}
}

func TestCancelLeavesAFinalRunAlone(t *testing.T) {
	c := newCompute(t.TempDir())
	h := submit(t, c, &providers.RunSpec{RunID: "done", Shell: "exit 0"})
	checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
	if err := c.Cancel(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "cancelled")); err == nil {
		t.Error("a cancelled marker for a run that had ended")
	}
	st, _ := c.Poll(ctx, h)
	checkStatus(t, st, providers.Succeeded, "", 0)
}

func TestReattach(t *testing.T) {
	workdir := t.TempDir()
	first := newCompute(workdir)
	h := submit(t, first, &providers.RunSpec{RunID: "r", Shell: "sleep 0.5; exit 4"})
	// A later trainrun process knows only the handle, as recorded.
	data, _ := json.Marshal(h)
	var recorded providers.Handle
	json.Unmarshal(data, &recorded)
	second := newCompute(workdir)
	if second.done(recorded) != nil {
		t.Fatal("the second compute knows the process: the test would not poll")
	}
	st, err := second.Poll(ctx, recorded)
	if err != nil || st.State != providers.Running {
		t.Errorf("Poll = %+v, %v; want running", st, err)
	}
	checkStatus(t, wait(t, second, recorded), providers.Failed, "exit code 4", 4)
}

func TestRunSurvivesTrainrun(t *testing.T) {
	for _, die := range []string{"exit", "kill"} {
		t.Run(die, func(t *testing.T) {
			workdir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "TRAINRUN_LOCAL_HELPER_WORKDIR="+workdir, "TRAINRUN_LOCAL_HELPER_DIE="+die)
			out, err := cmd.Output()
			if die == "kill" {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("helper: %v", err)
				}
			} else if err != nil {
				t.Fatalf("helper: %v", err)
			}
			var h providers.Handle
			if err := json.Unmarshal(out, &h); err != nil {
				t.Fatalf("helper printed %q: %v", out, err)
			}
			t.Cleanup(func() {
				p, _ := strconv.Atoi(h.ID)
				syscall.Kill(-p, syscall.SIGKILL)
			})
			c := newCompute(workdir)
			if st, err := c.Poll(ctx, h); err != nil || st.State != providers.Running {
				t.Errorf("after the submitter died: %+v, %v; want running", st, err)
			}
			checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
			if log := readLog(t, h); log != "survived\n" {
				t.Errorf("log = %q", log)
			}
			if data, _ := os.ReadFile(filepath.Join(h.Dir, "exit")); string(data) != "0\n" {
				t.Errorf("exit file %q", data)
			}
		})
	}
}

func TestVanished(t *testing.T) {
	c := newCompute(t.TempDir())
	h := submit(t, c, &providers.RunSpec{RunID: "v", Shell: "sleep 100"})
	p, _ := strconv.Atoi(h.ID)
	syscall.Kill(-p, syscall.SIGKILL)
	checkStatus(t, wait(t, c, h), providers.Failed, "the run's process vanished without an exit code", -1)
}

func TestLogFollow(t *testing.T) {
	c := newCompute(t.TempDir())
	h := submit(t, c, &providers.RunSpec{RunID: "log",
		Shell: "echo one; sleep 0.5; echo two; sleep 0.5; printf three"})
	rc, err := c.Log(ctx, h, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r := bufio.NewReader(rc)
	line, err := r.ReadString('\n')
	if err != nil || line != "one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if st, _ := c.Poll(ctx, h); st.State != providers.Running {
		t.Errorf("the first line came only after the run ended (%s)", st.State)
	}
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "two\nthree" {
		t.Errorf("rest = %q, %v", rest, err)
	}
	if st, _ := c.Poll(ctx, h); st.State != providers.Succeeded {
		t.Errorf("the log ended before the run (%s)", st.State)
	}

	// Without follow: what is there now.
	rc2, err := c.Log(ctx, h, false)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(rc2)
	rc2.Close()
	if string(all) != "one\ntwo\nthree" {
		t.Errorf("log = %q", all)
	}
}

func TestLogFollowEndsWithContext(t *testing.T) {
	c := newCompute(t.TempDir())
	h := submit(t, c, &providers.RunSpec{RunID: "long", Shell: "echo hi; sleep 100"})
	lctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	rc, err := c.Log(lctx, h, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if string(data) != "hi\n" || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadAll = %q, %v", data, err)
	}
}

func TestHostileValues(t *testing.T) {
	workdir := filepath.Join(t.TempDir(), "-w", "a b", `q'"`, "$(touch pwned)", "new\nline")
	c := newCompute(workdir)
	blob := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(blob, []byte("content"), 0o644)
	name := "we ird $(touch pwned) 'q\"\n-x.txt"
	args := []string{"$(touch pwned)", "`touch pwned`", "'", `"`, "-n", "new\nline", ""}
	h := submit(t, c, &providers.RunSpec{RunID: "h", Files: []providers.File{{Path: name, Mode: 0o644, Blob: blob}},
		Command: append([]string{"sh", "-c", `cat -- "$0"; printf '[%s]' "$@"`, name}, args...)})
	checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
	want := "content"
	for _, a := range args {
		want += "[" + a + "]"
	}
	if got := readLog(t, h); got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
	filepath.WalkDir(filepath.Dir(filepath.Dir(workdir)), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "pwned" {
			t.Errorf("something ran: %s", p)
		}
		return nil
	})
}

func TestSubmitRejectsEscapingPaths(t *testing.T) {
	base := t.TempDir()
	c := newCompute(filepath.Join(base, "work"))
	blob := filepath.Join(base, "blob")
	os.WriteFile(blob, []byte("x"), 0o644)
	for i, files := range [][]providers.File{
		{{Path: "../../escaped", Mode: 0o644, Blob: blob}},
		{{Path: "/tmp/escaped-abs", Mode: 0o644, Blob: blob}},
		{{Path: "a/../../escaped", Mode: 0o644, Blob: blob}},
		{{Path: "link", Mode: 0o120000, Blob: filepath.Join(base, "target")}, {Path: "link/escaped", Mode: 0o644, Blob: blob}},
	} {
		os.WriteFile(filepath.Join(base, "target"), []byte(base), 0o644)
		id := "e" + strconv.Itoa(i)
		if _, err := c.Submit(ctx, &providers.RunSpec{RunID: id, Shell: "true", Files: files}); err == nil {
			t.Errorf("%v: accepted", files)
		}
		if _, err := os.Stat(filepath.Join(c.o.Workdir, "runs", id)); !os.IsNotExist(err) {
			t.Errorf("%v: a failed Submit left its run directory: %v", files, err)
		}
	}
	for _, p := range []string{filepath.Join(base, "escaped"), filepath.Join(base, "work", "escaped"), "/tmp/escaped-abs"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
}

func TestCollect(t *testing.T) {
	c := newCompute(t.TempDir())
	spec := &providers.RunSpec{RunID: "col", Outputs: []string{"model/", "metrics.json", "deep/er/file.txt"},
		Shell: `mkdir -p model deep/er && echo w > model/w.bin && echo '{"acc":1}' > metrics.json && echo d > deep/er/file.txt
echo extra > "$TRAINRUN_OUTPUTS_DIR/extra.txt"
ln -s /etc "$TRAINRUN_OUTPUTS_DIR/model" # replaced by the declared model/
echo '{"name":"loss","value":0.3}' >> "$TRAINRUN_METRICS_FILE"; echo logged`}
	h := submit(t, c, spec)
	checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
	dst := filepath.Join(t.TempDir(), "results")
	if err := c.Collect(ctx, h, spec, dst, true); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"log":                      "logged\n",
		"metrics.jsonl":            `{"name":"loss","value":0.3}` + "\n",
		"outputs/extra.txt":        "extra\n",
		"outputs/model/w.bin":      "w\n",
		"outputs/metrics.json":     `{"acc":1}` + "\n",
		"outputs/deep/er/file.txt": "d\n",
	} {
		if data, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(data) != want {
			t.Errorf("%s = %q, %v; want %q", p, data, err, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dst, "outputs", "model")); err != nil || !fi.IsDir() {
		t.Errorf("outputs/model: %v, %v; want the declared directory", fi.Mode(), err)
	}

	// Collecting again gives the same result.
	if err := c.Collect(ctx, h, spec, dst, true); err != nil {
		t.Fatal(err)
	}
	// Without outputs (a failed run): log and metrics only.
	dst2 := filepath.Join(t.TempDir(), "attempt")
	if err := c.Collect(ctx, h, nil, dst2, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst2, "outputs")); !os.IsNotExist(err) {
		t.Errorf("outputs collected for outputs=false: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst2, "log")); string(data) != "logged\n" {
		t.Errorf("log = %q", data)
	}
}

func TestCollectReportsMissingAndEscapingOutputs(t *testing.T) {
	c := newCompute(t.TempDir())
	spec := &providers.RunSpec{RunID: "miss", Outputs: []string{"present.txt", "absent.txt", "notdir/", "etc", "../up"},
		Shell: "echo p > present.txt; echo f > notdir; ln -s /etc etc"}
	h := submit(t, c, spec)
	checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
	dst := t.TempDir()
	err := c.Collect(ctx, h, spec, dst, true)
	if err == nil {
		t.Fatal("Collect succeeded")
	}
	for _, want := range []string{`"absent.txt" does not exist`, `"notdir/"`, `"etc"`, `"../up"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "present.txt") {
		t.Errorf("error %q mentions an output that exists", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "outputs", "present.txt")); string(data) != "p\n" {
		t.Errorf("the present output was not collected: %q", data)
	}
	if _, err := os.Lstat(filepath.Join(dst, "outputs", "etc")); err == nil {
		t.Error("a symlink out of the run directory was followed")
	}
}

func TestResubmitAndRemove(t *testing.T) {
	c := newCompute(t.TempDir())
	h := submit(t, c, &providers.RunSpec{RunID: "same", Shell: "sleep 100"})
	if _, err := c.Submit(ctx, &providers.RunSpec{RunID: "same", Shell: "true"}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Submit of a run id: %v, want ErrExist", err)
	}
	if err := c.Remove(ctx, h); err == nil {
		t.Error("Remove of a live run succeeded")
	}
	got, found, err := c.Lookup(ctx, "same")
	if err != nil || !found || got.ID != h.ID || got.StartTicks != h.StartTicks || got.Dir != h.Dir {
		t.Errorf("Lookup = %+v, %v, %v; want %+v", got, found, err, h)
	}
	if _, found, err := c.Lookup(ctx, "never"); found || err != nil {
		t.Errorf("Lookup of an unknown run: %v, %v", found, err)
	}
	// Killed after making the directory, before starting the wrapper.
	half := filepath.Join(c.o.Workdir, "runs", "half")
	os.MkdirAll(filepath.Join(half, "src"), 0o700)
	os.WriteFile(filepath.Join(half, "log"), nil, 0o644)
	if _, found, err := c.Lookup(ctx, "half"); found || err != nil {
		t.Errorf("Lookup of a run never started: %v, %v", found, err)
	}
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Errorf("Lookup left the half-made directory: %v", err)
	}
	checkStatus(t, wait(t, c, submit(t, c, &providers.RunSpec{RunID: "half", Shell: "true"})), providers.Succeeded, "", 0)
	if err := c.Cancel(ctx, h); err != nil {
		t.Fatal(err)
	}
	wait(t, c, h)
	if err := c.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h.Dir); !os.IsNotExist(err) {
		t.Errorf("run directory after Remove: %v", err)
	}
	if err := c.Remove(ctx, h); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	h2 := submit(t, c, &providers.RunSpec{RunID: "same", Shell: "exit 0"})
	checkStatus(t, wait(t, c, h2), providers.Succeeded, "", 0)

	bad := h2
	bad.Dir = filepath.Dir(h2.Dir) // the runs directory itself
	if err := c.Remove(ctx, bad); err == nil {
		t.Error("Remove of something that is not a run directory succeeded")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Second: "1s", 90 * time.Second: "1m30s", 2 * time.Hour: "2h",
		90 * time.Minute: "1h30m", time.Hour + time.Second: "1h0m1s", 5 * time.Minute: "5m"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func BenchmarkSubmitWaitTrue(b *testing.B) {
	c := newCompute(b.TempDir())
	blob := filepath.Join(b.TempDir(), "blob")
	os.WriteFile(blob, []byte("print(1)\n"), 0o644)
	files := []providers.File{{Path: "train.py", Mode: 0o644, Blob: blob}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := c.Submit(ctx, &providers.RunSpec{RunID: "b" + strconv.Itoa(i), Command: []string{"true"}, Files: files,
			Env: map[string]string{"TRAINRUN_RUN_ID": "b"}})
		if err != nil {
			b.Fatal(err)
		}
		st, err := c.Wait(ctx, h)
		if err != nil || st.State != providers.Succeeded {
			b.Fatalf("%+v %v", st, err)
		}
	}
}

// TestSlowWrapperRunsOnce: a trainrun that finds a run directory whose
// wrapper has not come up yet (here its sh sleeps 3 s first) and submits
// the run again never gets two executions: the late wrapper finds the run
// claimed, or the claim is its own and Lookup finds it.
func TestSlowWrapperRunsOnce(t *testing.T) {
	work := t.TempDir()
	c1 := newCompute(work)
	if _, err := c1.Wrapper(ctx); err != nil {
		t.Fatal(err)
	}
	slow := t.TempDir()
	real, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if err := os.WriteFile(filepath.Join(slow, "sh"), []byte("#!"+real+"\nsleep 3\nexec "+real+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", slow+string(os.PathListSeparator)+os.Getenv("PATH"))
	count := filepath.Join(t.TempDir(), "count")
	spec := &providers.RunSpec{RunID: "slow", Shell: `echo ran >> "$COUNT"`, Env: map[string]string{"COUNT": count}}
	h1 := submit(t, c1, spec)

	// trainrun died; the next one looks for the run at once.
	c2 := newCompute(work)
	h, found, err := c2.Lookup(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if found {
		if h.ID != h1.ID {
			t.Errorf("Lookup found %s, want the wrapper %s", h.ID, h1.ID)
		}
	} else {
		h = submit(t, c2, spec)
	}
	checkStatus(t, wait(t, c2, h), providers.Succeeded, "", 0)
	wait(t, c1, h1)
	waitGone(t, mustAtoi(t, h1.ID))
	if data, _ := os.ReadFile(count); string(data) != "ran\n" {
		t.Errorf("the run executed %d times", strings.Count(string(data), "ran"))
	}
}

func mustAtoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSucceededRunLeavesNothing: what a succeeded run left running,
// ignoring TERM, is gone once the run is seen to end.
func TestSucceededRunLeavesNothing(t *testing.T) {
	c := newCompute(t.TempDir())
	h := submit(t, c, &providers.RunSpec{RunID: "bg", Shell: "(trap '' TERM; exec sleep 300) & echo $! > ../bg; echo done"})
	checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
	bg := readPid(t, filepath.Join(h.Dir, "bg"))
	if l := live(t, bg); len(l) > 0 {
		t.Errorf("the run's background child %d outlived the succeeded run", bg)
	}
}

// TestFullDiskSaysSo: a run that fills its workdir's file system, so that
// the wrapper cannot write its exit code, is reported as such, with the
// workdir and its free space, not as a process that vanished.
func TestFullDiskSaysSo(t *testing.T) {
	work := t.TempDir()
	envtest.SmallFilesystem(t, work, 1<<20)
	c := newCompute(work)
	h := submit(t, c, &providers.RunSpec{RunID: "full", Shell: `head -c 4000000 /dev/zero > "$TRAINRUN_OUTPUTS_DIR/fill"; echo after`})
	st := wait(t, c, h)
	if st.State != providers.Failed || !strings.Contains(st.Reason, "no space left on the file system of "+work+" (") ||
		!regexp.MustCompile(`\(\d+ bytes? free\)`).MatchString(st.Reason) {
		t.Errorf("status %+v; want no space left on %s with its free bytes", st, work)
	}
}

// A local run's checkpoint directory is made before the run starts, so
// that the wrapper starts no mkdir (a process per run): here the run's
// PATH has no mkdir, and the run still finds its directory, mode 0700.
func TestLocalCheckpointDirMadeBeforeStart(t *testing.T) {
	c := newCompute(t.TempDir())
	c.o.BaseEnv = Inherited([]string{"PATH=" + t.TempDir()})
	h := submit(t, c, &providers.RunSpec{RunID: "ckpt", Checkpoint: "fp1",
		Command: []string{"/bin/sh", "-c", `test -d "$TRAINRUN_CHECKPOINT_DIR" && echo made`}})
	checkStatus(t, wait(t, c, h), providers.Succeeded, "", 0)
	if log := readLog(t, h); !strings.Contains(log, "made") {
		t.Errorf("log = %q; want the checkpoint directory there", log)
	}
	p, err := CheckpointDir(c.o.Workdir, "fp1")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("checkpoint directory %s: %v, %v; want mode 0700", p, fi, err)
	}
}
