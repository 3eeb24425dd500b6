package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/slurmtest"
)

// slurmProject is a project whose compute is the test cluster, with
// trainrun's sbatch calls counted by a wrapper first on PATH.
func slurmProject(t *testing.T, files map[string]string) (*project, []string) {
	t.Helper()
	slurmtest.Start(t)
	sbatch, err := exec.LookPath("sbatch")
	if err != nil {
		t.Fatal(err)
	}
	p := newProject(t, files)
	p.write("shim/sbatch", "#!/bin/sh\necho call >>\"$SBATCH_CALLS\"\nexec "+sbatch+" \"$@\"\n")
	if err := os.Chmod(p.path("shim/sbatch"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + p.path("shim") + ":" + os.Getenv("PATH"), "SBATCH_CALLS=" + p.path("sbatch-calls")}
	t.Cleanup(func() {
		// Jobs the test left (after a failure) must not hold the cluster.
		out, _ := exec.Command("squeue", "--me", "--noheader", "--format=%i %o").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if id, script, ok := strings.Cut(line, " "); ok && strings.HasPrefix(script, p.dir) {
				_ = exec.Command("scancel", id).Run()
			}
		}
	})
	return p, env
}

const slurmHoldConfig = `
compute "slurm" "cluster" {
  workdir = "work"
}

experiment "hold" {
  compute    = compute.cluster
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root]
  sweep {
    grid = { i = range(3) }
  }
}
`

// A killed apply leaves its jobs running; the next apply re-attaches to
// them, records how they ended and collects their outputs, without
// submitting anything again.
func TestSlurmReattachAfterKill(t *testing.T) {
	p, env := slurmProject(t, map[string]string{
		"trainrun.hcl": slurmHoldConfig,
		"src/hold.sh": `touch "$1/started-$TRAINRUN_PARAM_I"
while [ ! -f "$1/go" ] && [ -d "$1" ]; do sleep 0.1; done
echo "done $TRAINRUN_PARAM_I attempt $TRAINRUN_ATTEMPT" > "$TRAINRUN_OUTPUTS_DIR/out"
`,
	})
	cmd := p.command(env, "apply", "-auto-approve")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	allStarted := func() bool {
		for i := range 3 {
			if _, err := os.Stat(p.path(fmt.Sprintf("started-%d", i))); err != nil {
				return false
			}
		}
		return true
	}
	if !waitFor(60*time.Second, allStarted) {
		_ = cmd.Process.Kill()
		t.Fatalf("the jobs did not start:\n%s", out.String())
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited

	for _, s := range p.status(env) {
		if s.Status != "running" {
			t.Errorf("after the kill, %s is %s", s.Address, s.Status)
		}
	}
	p.write("go", "")
	res := p.must(0, env, "apply", "-auto-approve")
	st := p.status(env)
	if len(st) != 3 {
		t.Fatalf("status: %+v\n%s", st, res)
	}
	for _, s := range st {
		if s.Status != "succeeded" || s.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts\n%s", s.Address, s.Status, s.Attempts, res)
		}
		b, err := os.ReadFile(p.path(".trainrun/runs/" + s.ID + "/outputs/out"))
		if err != nil || !strings.HasSuffix(string(b), " attempt 1\n") {
			t.Errorf("%s: outputs %q %v", s.Address, b, err)
		}
	}
	if n := lineCount(t, p.path("sbatch-calls")); n != 1 {
		t.Errorf("%d sbatch calls, want 1 (one array, never submitted again)", n)
	}
}

// Killed at any moment, applies together run each instance exactly once:
// a run submitted before its handle was recorded is found by Lookup.
func TestSlurmCrashExactlyOnce(t *testing.T) {
	jobs := []string{"a", "b", "c", "d", "e"}
	p, env := slurmProject(t, map[string]string{
		"trainrun.hcl": `
compute "slurm" "cluster" {
  workdir = "work"
}
experiment "count" {
  compute    = compute.cluster
  source_dir = "src"
  command    = ["sh", "run.sh", path.root]
  sweep {
    grid = { job = ["` + strings.Join(jobs, `", "`) + `"] }
  }
}
`,
		"src/run.sh": `echo "$TRAINRUN_ADDRESS" >> "$1/counter.txt"
sleep 0.5
`,
	})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for i, d := range []time.Duration{30 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond,
		time.Duration(rng.IntN(600)) * time.Millisecond, 900 * time.Millisecond} {
		cmd := p.command(env, "apply", "-auto-approve")
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("apply %d failed: %v\n%s", i, err, out.String())
			}
			t.Logf("apply %d completed before its kill after %s", i, d)
			continue
		case <-time.After(d):
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := <-exited
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() {
			t.Logf("apply %d killed after %s: %d runs ran by now", i, d, lineCount(t, p.path("counter.txt")))
		}
	}
	res := p.must(0, env, "apply", "-auto-approve")
	for _, s := range p.status(env) {
		if s.Status != "succeeded" {
			t.Errorf("%s: %s\n%s", s.Address, s.Status, res)
		}
	}
	// Jobs still running when their apply died may end after the last
	// apply re-attached and returned: all of them are done by now.
	data, _ := os.ReadFile(p.path("counter.txt"))
	got := strings.Split(strings.TrimSpace(string(data)), "\n")
	sort.Strings(got)
	var want []string
	for _, j := range jobs {
		want = append(want, fmt.Sprintf(`experiment.count["job=%s"]`, j))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("runs that ran:\n%s\nwant each instance once:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Parameters that a shell would expand or split reach the run as written,
// through addresses (job names), the command line and the environment.
func TestSlurmHostileParameters(t *testing.T) {
	values := []string{`it's`, `$(touch pwned)`, "`touch pwned`", `a"b;c`, `x y*`, `%j\n`}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	p, env := slurmProject(t, map[string]string{
		"trainrun.hcl": `
compute "slurm" "cluster" {
  workdir = "work dir"
}
experiment "hostile" {
  compute    = compute.cluster
  source_dir = "src"
  command    = ["sh", "run.sh", param.s]
  sweep {
    grid = { s = [` + strings.Join(quoted, ", ") + `] }
  }
}
`,
		"src/run.sh": `printf '%s|%s' "$1" "$TRAINRUN_PARAM_S" > "$TRAINRUN_OUTPUTS_DIR/s"`,
	})
	res := p.must(0, env, "apply", "-auto-approve")
	st := p.status(env)
	if len(st) != len(values) {
		t.Fatalf("status %+v\n%s", st, res)
	}
	seen := map[string]bool{}
	for _, s := range st {
		b, err := os.ReadFile(p.path(".trainrun/runs/" + s.ID + "/outputs/s"))
		if err != nil {
			t.Errorf("%s: %v", s.Address, err)
			continue
		}
		arg, envVal, _ := strings.Cut(string(b), "|")
		if arg != envVal {
			t.Errorf("%s: argument %q, TRAINRUN_PARAM_S %q", s.Address, arg, envVal)
		}
		seen[arg] = true
	}
	for _, v := range values {
		if !seen[v] {
			t.Errorf("no run saw %q", v)
		}
	}
	matches, _ := filepath.Glob(p.path("**/pwned"))
	if _, err := os.Stat(p.path("pwned")); err == nil || len(matches) > 0 {
		t.Error("a parameter was run as a command")
	}
	if n := lineCount(t, p.path("sbatch-calls")); n != 1 {
		t.Errorf("%d sbatch calls, want 1", n)
	}
}

// Inputs reach Slurm jobs as read-only copies in the run's directory on
// the shared filesystem (SPEC §8); a job that writes one anyway (root
// ignores modes) fails, naming the input, and the upstream's outputs here
// are untouched.
func TestSlurmInputsReadOnly(t *testing.T) {
	p, env := slurmProject(t, map[string]string{
		"trainrun.hcl": `
compute "slurm" "cluster" {
  workdir = "work"
}

experiment "prep" {
  compute = compute.cluster
  shell   = "echo 'rows v1' > $TRAINRUN_OUTPUTS_DIR/data.txt"
}

experiment "train" {
  compute = compute.cluster
  inputs  = { data = experiment.prep.outputs }
  shell   = "echo \"read: $(cat $TRAINRUN_INPUT_DATA/data.txt) mode $(stat -c %a $TRAINRUN_INPUT_DATA/data.txt) $(stat -c %a $TRAINRUN_INPUT_DATA)\""
}

experiment "vandal" {
  compute = compute.cluster
  inputs  = { data = experiment.prep.outputs }
  shell   = "chmod -R u+w $TRAINRUN_INPUT_DATA; echo junk >> $TRAINRUN_INPUT_DATA/data.txt; touch $TRAINRUN_INPUT_DATA/extra"
}
`,
	})
	res := p.must(1, env, "apply", "-auto-approve")
	if want := "experiment.vandal: failed"; !strings.Contains(res.stdout, want) ||
		!strings.Contains(res.stdout, "input data was changed while the run ran (its copy on the compute: data.txt modified, extra added)") {
		t.Errorf("apply:\n%s", res)
	}
	logs := p.must(0, env, "logs", "experiment.train")
	if !strings.Contains(logs.stdout, "read: rows v1 mode 444 555") {
		t.Errorf("train's log:\n%s", logs)
	}
	for _, st := range p.status(env) {
		if st.Address != "experiment.prep" {
			continue
		}
		b, err := os.ReadFile(p.path(".trainrun/runs/" + st.ID + "/outputs/data.txt"))
		if err != nil || string(b) != "rows v1\n" {
			t.Errorf("prep's collected outputs: %q, %v", b, err)
		}
	}
}
