package slurm

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/slurmtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

func TestMain(m *testing.M) {
	code := m.Run()
	slurmtest.Stop()
	os.Exit(code)
}

// countingExec is the local executor, counting the commands it runs by
// name (sbatch, squeue, …).
type countingExec struct {
	executor.Local
	mu    sync.Mutex
	calls map[string]int
	argvs [][]string
}

func (e *countingExec) Run(ctx context.Context, argv []string, stdin io.Reader) ([]byte, error) {
	e.mu.Lock()
	if e.calls == nil {
		e.calls = map[string]int{}
	}
	if len(argv) > 4 && argv[0] == "sh" && argv[1] == "-c" && argv[2] == sbatchEnv {
		argv = argv[4:] // sbatch, in the environment a run inherits
	}
	e.calls[argv[0]]++
	e.argvs = append(e.argvs, append([]string(nil), argv...))
	e.mu.Unlock()
	return e.Local.Run(ctx, argv, stdin)
}

func (e *countingExec) count(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[name]
}

// lastArgv returns the last command run by that name.
func (e *countingExec) lastArgv(name string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.argvs) - 1; i >= 0; i-- {
		if e.argvs[i][0] == name {
			return e.argvs[i]
		}
	}
	return nil
}

// cluster starts the test cluster and returns a compute on it over a
// counting executor, with its workdir in a fresh temporary directory.
func cluster(t *testing.T, o Options) (*Compute, *countingExec) {
	t.Helper()
	slurmtest.Start(t)
	e := &countingExec{}
	o.Exec = e
	if o.Name == "" {
		o.Name = "cluster"
	}
	if o.Workdir == "" {
		o.Workdir = t.TempDir()
	}
	if o.MaxRuns == 0 {
		o.MaxRuns = -1
	}
	if o.GPUs == 0 {
		o.GPUs = -1
	}
	o.PollMin = 50 * time.Millisecond
	o.PollMax = 500 * time.Millisecond
	c := New(o)
	t.Cleanup(func() { cancelAll(c) })
	return c, e
}

// cancelAll cancels the jobs of c's runs and batches that the test left in
// the queue, so that one test's jobs never hold another's CPUs. Other
// tests' jobs are left alone, also those of the same test in another test
// process (the cluster is shared): a run's job is c's only when the comment
// its run directory holds is the job's, since run ids repeat across
// processes; batch ids do not.
func cancelAll(c *Compute) { cancelJobsIn(c.o.Workdir, "--me") }

// cancelJobsIn cancels the jobs that squeue lists for who (--me, or
// --user=NAME) and that belong to runs or batches in workdir.
func cancelJobsIn(workdir, who string) {
	out, err := executor.Local{}.Run(context.Background(), []string{"squeue", who, "--noheader", "--array", "--format=%i|%k"}, nil)
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		id, comment, ok := strings.Cut(strings.TrimSpace(line), "|")
		if !ok {
			continue
		}
		ours := false
		if run, ok := strings.CutPrefix(comment, runComment); ok {
			run, _, _ = strings.Cut(run, " ")
			data, err := os.ReadFile(filepath.Join(workdir, "runs", run, commentFile))
			ours = err == nil && strings.TrimSpace(string(data)) == comment
		} else if batch, ok := strings.CutPrefix(comment, batchComment); ok {
			_, err := os.Stat(filepath.Join(workdir, "batches", batch))
			ours = batch != "" && err == nil
		}
		if ours {
			_, _ = executor.Local{}.Run(context.Background(), []string{"scancel", id}, nil)
		}
	}
}

// newSpec returns a run of argv over a snapshot of files (path → content).
func newSpec(t *testing.T, id string, files map[string]string, argv ...string) *providers.RunSpec {
	t.Helper()
	blobs := t.TempDir()
	spec := &providers.RunSpec{RunID: id, Address: "experiment.test", Experiment: "test", Attempt: 1,
		Command: argv, Env: map[string]string{"TRAINRUN_RUN_ID": id, "TRAINRUN_ATTEMPT": "1"}}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for i, p := range names {
		blob := filepath.Join(blobs, strings.Repeat("b", i+1))
		if err := os.WriteFile(blob, []byte(files[p]), 0o644); err != nil {
			t.Fatal(err)
		}
		spec.Files = append(spec.Files, providers.File{Path: p, Mode: 0o100644, Blob: blob})
	}
	return spec
}

// ctxFor gives a test's waits a deadline: a backstop against a hung
// cluster, not a measure of speed. The test cluster is shared by every
// test process on the machine, and a busy 2-core machine runs its jobs
// minutes late, so the deadline is four times what the test names.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*d)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t *testing.T, c *Compute, h providers.Handle, d time.Duration) providers.Status {
	t.Helper()
	st, err := c.Wait(ctxFor(t, d), h)
	if err != nil {
		t.Fatalf("wait for %s: %v\nlog:\n%s", h.ID, err, readLog(h))
	}
	return st
}

func readLog(h providers.Handle) string {
	data, _ := os.ReadFile(filepath.Join(h.Dir, executor.LogFile))
	return string(data)
}

// waitState polls until the run is in state want.
func waitState(t *testing.T, c *Compute, h providers.Handle, want providers.State, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st, err := c.Poll(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s (%s), not %s, after %s\nlog:\n%s", h.ID, st.State, st.Reason, want, d, readLog(h))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
