package slurm

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/slurmtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

func TestSingleRunSucceeds(t *testing.T) {
	c, e := cluster(t, Options{})
	spec := newSpec(t, "run-ok", map[string]string{"train.py": "print('hi')\n"},
		"sh", "-c", `cat train.py; echo "attempt=$TRAINRUN_ATTEMPT job=$SLURM_JOB_ID"; echo 42 > "$TRAINRUN_OUTPUTS_DIR/answer"`)
	spec.Outputs = []string{"train.py"}
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if h.Kind != "slurm" || !validJobID(h.ID) || h.Dir == "" {
		t.Fatalf("handle %+v", h)
	}
	st := waitFor(t, c, h, time.Minute)
	if st.State != providers.Succeeded || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("status %+v\nlog:\n%s", st, readLog(h))
	}
	// Its end is when the exit file was written, on the shared filesystem.
	if fi, err := os.Stat(filepath.Join(h.Dir, "exit")); err != nil || !st.EndedAt.Equal(fi.ModTime()) {
		t.Errorf("EndedAt %v, exit file: %v, %v", st.EndedAt, fi, err)
	}
	dst := t.TempDir()
	if err := c.Collect(ctx, h, spec, dst, true); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(dst, "log"))
	if !strings.Contains(string(log), "print('hi')") || !strings.Contains(string(log), "attempt=1 job="+h.ID) {
		t.Errorf("log:\n%s", log)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "outputs", "answer")); string(b) != "42\n" {
		t.Errorf("outputs/answer = %q", b)
	}
	if _, err := os.Stat(filepath.Join(dst, "outputs", "train.py")); err != nil {
		t.Errorf("declared output: %v", err)
	}
	if n := e.count("sbatch"); n != 1 {
		t.Errorf("%d sbatch calls", n)
	}
}

func TestSweepIsOneJobArray(t *testing.T) {
	t.Parallel()
	c, e := cluster(t, Options{MaxRuns: 3})
	const n = 12
	b := providers.Batch{Experiment: "sweep", MaxConcurrent: 5}
	for i := range n {
		s := newSpec(t, "arr-"+strconv.Itoa(i), map[string]string{"run.sh": `echo "$TRAINRUN_PARAM_I $1" > "$TRAINRUN_OUTPUTS_DIR/i"`},
			"sh", "run.sh", "arg"+strconv.Itoa(i))
		s.Address = fmt.Sprintf("experiment.sweep[\"i=%d\"]", i)
		s.Env["TRAINRUN_PARAM_I"] = strconv.Itoa(i)
		b.Specs = append(b.Specs, s)
	}
	ctx := ctxFor(t, 2*time.Minute)
	hs, err := c.SubmitBatch(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.count("sbatch"); got != 1 {
		t.Fatalf("%d sbatch calls for %d runs, want 1", got, n)
	}
	argv := strings.Join(e.lastArgv("sbatch"), " ")
	if !strings.Contains(argv, fmt.Sprintf("--array=0-%d%%3", n-1)) {
		t.Errorf("sbatch %s: want --array=0-%d%%3 (max_runs below max_concurrent)", argv, n-1)
	}
	base := baseID(hs[0].ID)
	waitStart := time.Now()
	var wg sync.WaitGroup
	for i, h := range hs {
		if h.ID != base+"_"+strconv.Itoa(i) {
			t.Errorf("handle %d: id %s", i, h.ID)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Wait(ctx, h)
			if err != nil || st.State != providers.Succeeded {
				t.Errorf("run %d: %+v %v\n%s", i, st, err, readLog(h))
				return
			}
			got, _ := os.ReadFile(filepath.Join(h.Dir, "outputs", "i"))
			if want := fmt.Sprintf("%d arg%d\n", i, i); string(got) != want {
				t.Errorf("run %d wrote %q, want %q", i, got, want)
			}
		}()
	}
	wg.Wait()
	// Waiting on twelve jobs shared squeue calls: far fewer than one per
	// job per round. Rounds come at most every PollMax (500 ms) while
	// nothing changes and sooner after a change, so the calls grow with
	// the time waited (a busy machine runs the jobs late), not with the
	// number of jobs: one call per job per round would be twelve times
	// this bound.
	if q, limit := e.count("squeue"), 60+3*int(time.Since(waitStart)/time.Second); q > limit {
		t.Errorf("%d squeue calls in %v, want at most %d", q, time.Since(waitStart).Round(time.Second), limit)
	}
	// The batch's files go with its last run.
	bdir := filepath.Join(c.o.Workdir, "batches")
	for i, h := range hs {
		if err := c.Remove(ctx, h); err != nil {
			t.Fatal(err)
		}
		ents, _ := os.ReadDir(bdir)
		if left := len(ents); (i < n-1) != (left == 1) {
			t.Fatalf("after removing %d of %d runs, %d batch directories are left", i+1, n, left)
		}
	}
}

func TestFailingRunAndTimeout(t *testing.T) {
	t.Parallel()
	c, e := cluster(t, Options{})
	ctx := ctxFor(t, time.Minute)
	fail, err := c.Submit(ctx, newSpec(t, "fails", nil, "sh", "-c", "echo about to fail; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	slow := newSpec(t, "slow", nil, "sleep", "60")
	slow.Timeout = 2 * time.Second
	timed, err := c.Submit(ctx, slow)
	if err != nil {
		t.Fatal(err)
	}
	if argv := strings.Join(e.lastArgv("sbatch"), " "); !strings.Contains(argv, "--time=2 ") {
		t.Errorf("sbatch %s: want --time=2 (2s and the grace period, rounded up, plus a minute)", argv)
	}
	st := waitFor(t, c, fail, time.Minute)
	if st.State != providers.Failed || st.Reason != "exit code 3" || st.ExitCode == nil || *st.ExitCode != 3 {
		t.Errorf("failing run: %+v", st)
	}
	if !strings.Contains(readLog(fail), "about to fail") {
		t.Errorf("log:\n%s", readLog(fail))
	}
	start := time.Now()
	st = waitFor(t, c, timed, time.Minute)
	if st.State != providers.Failed || st.Reason != "timed out after 2s" {
		t.Errorf("timed-out run: %+v\n%s", st, readLog(timed))
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the timeout took %s to be noticed", d)
	}
}

func TestCancelRunningAndPending(t *testing.T) {
	t.Parallel()
	c, _ := cluster(t, Options{SbatchArgs: nil})
	ctx := ctxFor(t, time.Minute)
	running, err := c.Submit(ctx, newSpec(t, "running", nil, "sh", "-c", `trap 'echo got TERM; exit 143' TERM; echo up; while :; do sleep 0.1; done`))
	if err != nil {
		t.Fatal(err)
	}
	held := New(Options{Name: "cluster", Exec: c.o.Exec, Workdir: c.o.Workdir, SbatchArgs: []string{"--hold"},
		MaxRuns: -1, GPUs: -1, PollMin: 50 * time.Millisecond, PollMax: 500 * time.Millisecond})
	pending, err := held.Submit(ctx, newSpec(t, "pending", nil, "true"))
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, running, providers.Running, 30*time.Second)
	// Running in Slurm's eyes may be before the command runs: wait for it,
	// so that it has its TERM trap when the cancel comes.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(readLog(running), "up\n") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st, err := c.Poll(ctx, pending)
	if err != nil || st.State != providers.Pending || !strings.Contains(st.Reason, "JobHeldUser") {
		t.Fatalf("held job: %+v %v", st, err)
	}
	for _, h := range []providers.Handle{running, pending} {
		if err := c.Cancel(ctx, h); err != nil {
			t.Fatal(err)
		}
		st := waitFor(t, c, h, 30*time.Second)
		if st.State != providers.Cancelled || st.Reason != "cancelled" {
			t.Errorf("%s: %+v", h.ID, st)
		}
		// A final run is left alone.
		if err := c.Cancel(ctx, h); err != nil {
			t.Errorf("cancel a cancelled run: %v", err)
		}
	}
	if !strings.Contains(readLog(running), "got TERM") {
		t.Errorf("the running job's command did not get TERM:\n%s", readLog(running))
	}
	if err := c.Remove(ctx, running); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(running.Dir); !os.IsNotExist(err) {
		t.Errorf("run directory left: %v", err)
	}
}

func TestRemoveRefusesLiveRun(t *testing.T) {
	t.Parallel()
	c, _ := cluster(t, Options{SbatchArgs: []string{"--hold"}})
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, newSpec(t, "live", nil, "true"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, h); err == nil || !strings.Contains(err.Error(), "cancel it first") {
		t.Errorf("remove a pending run: %v", err)
	}
	if _, err := os.Stat(h.Dir); err != nil {
		t.Errorf("run directory: %v", err)
	}
}

// A requeued job (scontrol requeue, as a preemption does) starts again as
// the next attempt: TRAINRUN_ATTEMPT says so, and the final status counts
// the requeue. The batch shell's signal reaches the run, which outlives it.
func TestRequeueIsANewAttempt(t *testing.T) {
	t.Parallel()
	c, e := cluster(t, Options{Requeue: true, Signal: Signal{Name: "USR2", Seconds: 90}})
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is needed to catch USR2")
	}
	ctx := ctxFor(t, 2*time.Minute)
	h, err := c.Submit(ctx, newSpec(t, "requeued", map[string]string{"train.py": `
import os, pathlib, signal, time
out = pathlib.Path(os.environ["TRAINRUN_OUTPUTS_DIR"])
a = os.environ["TRAINRUN_ATTEMPT"]
def usr2(*_):
    (out / ("usr2-" + a)).write_text("checkpoint")
signal.signal(signal.SIGUSR2, usr2)
(out / ("attempt-" + a)).write_text(os.environ.get("SLURM_RESTART_COUNT", "0"))
if a == "1":
    time.sleep(120)
print("attempt", a, "done", flush=True)
`}, py, "train.py"))
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(e.lastArgv("sbatch"), " ")
	if !strings.Contains(argv, " --requeue ") || !strings.Contains(argv, " --signal=B:USR2@90 ") {
		t.Errorf("sbatch %s", argv)
	}
	out := filepath.Join(h.Dir, "outputs")
	waitFile(t, filepath.Join(out, "attempt-1"), 30*time.Second)
	if b, err := exec.Command("scancel", "--signal=USR2", "--batch", h.ID).CombinedOutput(); err != nil {
		t.Fatalf("scancel --signal: %v: %s", err, b)
	}
	waitFile(t, filepath.Join(out, "usr2-1"), 10*time.Second)
	if st, err := c.Poll(ctx, h); err != nil || st.State != providers.Running {
		t.Fatalf("after USR2 the run is %+v %v: the signal must not end it", st, err)
	}
	// Requeued, and released from the hold a requeued job is otherwise
	// in a while: no test wants to wait that long.
	if err := slurmtest.Start(t).Requeue(h.ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, c, h, time.Minute)
	if st.State != providers.Succeeded || st.Requeues != 1 {
		t.Fatalf("status %+v\n%s", st, readLog(h))
	}
	if b, _ := os.ReadFile(filepath.Join(out, "attempt-2")); string(b) != "1" {
		t.Errorf("attempt 2 saw SLURM_RESTART_COUNT %q", b)
	}
	if !strings.Contains(readLog(h), "attempt 2 done") {
		t.Errorf("log:\n%s", readLog(h))
	}
}

// Values that a shell would expand, split or end on reach the run exactly
// as given: in the job name, the command's arguments, the environment and
// the workdir's path; none of them runs anything.
func TestHostileValues(t *testing.T) {
	t.Parallel()
	workdir := filepath.Join(t.TempDir(), `we ird 'dir' $(touch pwned) 100%j`)
	c, e := cluster(t, Options{Workdir: workdir})
	hostile := []string{`it's`, `"quoted"`, `$(touch pwned)`, "`touch pwned`", `a\b\\c`, "line\nbreak", `; touch pwned #`, `%j %a`, `--help`, ` lead`, ``, `$HOME`, `*`}
	spec := newSpec(t, "hostile", map[string]string{"dump.py": `
import json, os, sys
json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith("HOSTILE_") or k in ("TRAINRUN_ADDRESS", "odd-name")}}, open(os.path.join(os.environ["TRAINRUN_OUTPUTS_DIR"], "dump.json"), "w"))
`}, append([]string{"python3", "dump.py"}, hostile...)...)
	spec.Address = "experiment.x[\"s=" + strings.Join(hostile, ",") + "\"]"
	spec.Env["TRAINRUN_ADDRESS"] = spec.Address
	spec.Env["odd-name"] = "$(touch pwned)"
	for i, v := range hostile {
		spec.Env["HOSTILE_"+strconv.Itoa(i)] = v
	}
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, c, h, time.Minute)
	if st.State != providers.Succeeded {
		t.Fatalf("%+v\n%s", st, readLog(h))
	}
	var dump struct {
		Argv []string          `json:"argv"`
		Env  map[string]string `json:"env"`
	}
	data, err := os.ReadFile(filepath.Join(h.Dir, "outputs", "dump.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &dump); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dump.Argv, hostile) {
		t.Errorf("argv %q, want %q", dump.Argv, hostile)
	}
	for i, v := range hostile {
		if got := dump.Env["HOSTILE_"+strconv.Itoa(i)]; got != v {
			t.Errorf("HOSTILE_%d = %q, want %q", i, got, v)
		}
	}
	if dump.Env["odd-name"] != "$(touch pwned)" || dump.Env["TRAINRUN_ADDRESS"] != spec.Address {
		t.Errorf("env %q", dump.Env)
	}
	// The job name is the address, control characters aside.
	out, err := exec.Command("squeue", "--noheader", "--states=all", "--jobs="+h.ID, "--format=%j").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), jobName(spec.Address); got != want {
		t.Errorf("job name %q, want %q", got, want)
	}
	if strings.Contains(strings.Join(e.lastArgv("sbatch"), " "), "\n") {
		t.Error("a newline reached sbatch's arguments")
	}
	for _, dir := range []string{workdir, h.Dir, filepath.Join(h.Dir, "src"), "."} {
		if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
			t.Errorf("a value was run as a command: %s/pwned exists", dir)
		}
	}
}

func TestSetupLines(t *testing.T) {
	t.Parallel()
	c, _ := cluster(t, Options{Setup: []string{"export FROM_SETUP=yes # a comment", "", "if true; then\n  export TWO=2\nfi"}})
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, newSpec(t, "setup-ok", nil, "sh", "-c", `test "$FROM_SETUP$TWO" = yes2`))
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFor(t, c, h, time.Minute); st.State != providers.Succeeded {
		t.Fatalf("%+v\n%s", st, readLog(h))
	}
	bad, _ := cluster(t, Options{Workdir: c.o.Workdir, Setup: []string{"true", "module load nosuch/1.0"}})
	h, err = bad.Submit(ctx, newSpec(t, "setup-fails", nil, "true"))
	if err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, bad, h, time.Minute)
	if st.State != providers.Failed || !strings.HasPrefix(st.Reason, "setup line 2 failed (exit 127): module load nosuch/1.0") {
		t.Errorf("%+v\n%s", st, readLog(h))
	}
}

// A job that cannot see its run directory fails with a reason that says
// what to check. (Here the directory is removed while the job is held.)
func TestRunDirectoryNotVisible(t *testing.T) {
	t.Parallel()
	c, _ := cluster(t, Options{SbatchArgs: []string{"--hold"}})
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, newSpec(t, "invisible", nil, "true"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(h.Dir); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("scontrol", "release", h.ID).CombinedOutput(); err != nil {
		t.Fatalf("scontrol release: %v: %s", err, b)
	}
	st := waitFor(t, c, h, time.Minute)
	if st.State != providers.Failed || !strings.Contains(st.Reason, "visible on the compute nodes") {
		t.Errorf("%+v", st)
	}
}

func TestLogFollowsTheJob(t *testing.T) {
	t.Parallel()
	c, _ := cluster(t, Options{})
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, newSpec(t, "follow", nil, "sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.Log(ctx, h, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "line 1\nline 2\nline 3\n") {
		t.Errorf("followed log:\n%s", data)
	}
	if st, _ := c.Poll(ctx, h); st.State != providers.Succeeded {
		t.Errorf("the follower ended before the run: %+v", st)
	}
}

// A later process finds a run whose handle was never recorded: by the job
// id in its directory, else by the job's comment in the queue; a run
// directory that never got as far as sbatch is cleared for a new submit.
func TestLookup(t *testing.T) {
	t.Parallel()
	c, _ := cluster(t, Options{SbatchArgs: []string{"--hold"}})
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, newSpec(t, "lost", nil, "true"))
	if err != nil {
		t.Fatal(err)
	}
	later := New(Options{Name: "cluster", Exec: c.o.Exec, Workdir: c.o.Workdir})
	got, found, err := later.Lookup(ctx, "lost")
	if err != nil || !found || got.ID != h.ID || got.Dir != h.Dir {
		t.Fatalf("by job id file: %+v %v %v, want %s", got, found, err, h.ID)
	}
	if err := os.Remove(filepath.Join(h.Dir, jobIDFile)); err != nil {
		t.Fatal(err)
	}
	got, found, err = later.Lookup(ctx, "lost")
	if err != nil || !found || got.ID != h.ID {
		t.Fatalf("by comment: %+v %v %v, want %s", got, found, err, h.ID)
	}
	half, _ := later.runDir("half")
	if err := os.MkdirAll(filepath.Join(half, "src"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, found, err := later.Lookup(ctx, "half"); err != nil || found {
		t.Fatalf("half-made run: found %v, %v", found, err)
	}
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Errorf("half-made run directory left: %v", err)
	}
	if _, found, err := later.Lookup(ctx, "never"); err != nil || found {
		t.Errorf("unknown run: found %v, %v", found, err)
	}
}

// A run of two nodes starts its command once on each, through srun, with
// its rank, the node count and the first node's address and port: what
// torchrun-style launches need. The test cluster's multi partition has
// two nodes (two slurmd on this machine).
func TestTwoNodeRun(t *testing.T) {
	t.Parallel()
	cl := slurmtest.Start(t)
	c, e := cluster(t, Options{Partition: cl.Multi})
	ctx := ctxFor(t, time.Minute)
	spec := newSpec(t, "two-nodes", nil, "sh", "-c",
		`echo "rank=$TRAINRUN_NODE_RANK nodes=$TRAINRUN_NUM_NODES addr=$MASTER_ADDR port=$MASTER_PORT node=$SLURMD_NODENAME" > "$TRAINRUN_OUTPUTS_DIR/node-$TRAINRUN_NODE_RANK"`)
	spec.Resources = providers.Resources{Nodes: 2, CPUs: 1}
	h, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if argv := strings.Join(e.lastArgv("sbatch"), " "); !strings.Contains(argv, " --nodes=2 --ntasks-per-node=1 ") {
		t.Errorf("sbatch %s", argv)
	}
	if st := waitFor(t, c, h, time.Minute); st.State != providers.Succeeded {
		t.Fatalf("%+v\n%s", st, readLog(h))
	}
	for rank, node := range cl.MultiNodes {
		got, err := os.ReadFile(filepath.Join(h.Dir, "outputs", "node-"+strconv.Itoa(rank)))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("rank=%d nodes=2 addr=127.0.0.1 port=%d node=%s\n", rank, 20000+atoi(h.ID)%20000, node)
		if string(got) != want {
			t.Errorf("node %d saw %q, want %q", rank, got, want)
		}
	}
}

// The same launch for one node, which runs without srun otherwise.
func TestMultiNodeLaunchOnOneNode(t *testing.T) {
	t.Parallel()
	c, _ := cluster(t, Options{})
	c.multiNode = true
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, newSpec(t, "multi", nil, "sh", "-c",
		`echo "rank=$TRAINRUN_NODE_RANK nodes=$TRAINRUN_NUM_NODES addr=$MASTER_ADDR step=$SLURM_STEP_ID" > "$TRAINRUN_OUTPUTS_DIR/node-$TRAINRUN_NODE_RANK"`))
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFor(t, c, h, time.Minute); st.State != providers.Succeeded {
		t.Fatalf("%+v\n%s", st, readLog(h))
	}
	got, err := os.ReadFile(filepath.Join(h.Dir, "outputs", "node-0"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "rank=0 nodes=1 addr=127.0.0.1 step=0\n"; string(got) != want {
		t.Errorf("node 0 saw %q, want %q", got, want)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// A sweep larger than the cluster's MaxArraySize is several arrays, and
// submitting them is still all or none.
func TestSweepLargerThanAnArray(t *testing.T) {
	t.Parallel()
	c, e := cluster(t, Options{})
	c.maxArray = 4
	b := providers.Batch{Experiment: "big"}
	for i := range 10 {
		b.Specs = append(b.Specs, newSpec(t, "big-"+strconv.Itoa(i), nil, "sh", "-c", "echo $SLURM_ARRAY_TASK_ID"))
	}
	ctx := ctxFor(t, time.Minute)
	hs, err := c.SubmitBatch(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count("sbatch"); n != 3 {
		t.Errorf("%d sbatch calls for 10 runs in arrays of 4, want 3", n)
	}
	for i, h := range hs {
		if want := "_" + strconv.Itoa(i%4); !strings.HasSuffix(h.ID, want) {
			t.Errorf("run %d: job %s", i, h.ID)
		}
		if st := waitFor(t, c, h, time.Minute); st.State != providers.Succeeded {
			t.Errorf("run %d: %+v", i, st)
		}
	}
	// One run that cannot be prepared fails the whole batch, and leaves
	// nothing behind: no job, no directory.
	b.Specs = nil
	for i := range 6 {
		b.Specs = append(b.Specs, newSpec(t, "none-"+strconv.Itoa(i), nil, "true"))
	}
	b.Specs[5].Command = nil
	before := e.count("sbatch")
	if _, err := c.SubmitBatch(ctx, b); err == nil || !strings.Contains(err.Error(), "no command") {
		t.Fatalf("a batch with a broken run: %v", err)
	}
	if e.count("sbatch") != before+1 {
		t.Errorf("%d sbatch calls, want the first array only", e.count("sbatch")-before)
	}
	for i := range 6 {
		if _, err := os.Stat(filepath.Join(c.o.Workdir, "runs", "none-"+strconv.Itoa(i))); !os.IsNotExist(err) {
			t.Errorf("run directory none-%d left: %v", i, err)
		}
	}
	// The array submitted before the broken run was found is cancelled. Its
	// tasks may have started (and even ended) before scancel, and a
	// cancelled task stays listed as COMPLETING for a while: what Slurm
	// guarantees is that each task comes to an end, soon.
	done := map[string]bool{}
	for _, h := range hs {
		done[baseID(h.ID)] = true
	}
	var failed []string
	ents, _ := os.ReadDir(filepath.Join(c.o.Workdir, "batches"))
	for _, ent := range ents {
		data, err := os.ReadFile(filepath.Join(c.o.Workdir, "batches", ent.Name(), jobIDFile))
		if id := strings.TrimSpace(string(data)); err == nil && !done[id] {
			failed = append(failed, id)
		}
	}
	if len(failed) != 1 {
		t.Fatalf("job arrays of the failed batch: %q, want one", failed)
	}
	waitJobsEnded(t, failed[0], 2*time.Minute)
}

// waitJobsEnded waits until no task of job is pending, running or
// completing. A job Slurm no longer knows has ended too.
func waitJobsEnded(t *testing.T, job string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := exec.Command("squeue", "--noheader", "--array", "--states=all", "--jobs="+job, "--format=%i|%T").CombinedOutput()
		if err != nil && !strings.Contains(string(out), "Invalid job id") {
			t.Fatalf("squeue: %v: %s", err, out)
		}
		var live []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			id, state, ok := strings.Cut(line, "|")
			if ok && err == nil && !finalJobState(state) {
				live = append(live, id+" "+state)
			}
		}
		if len(live) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks of cancelled job %s still live after %s: %q", job, d, live)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// finalJobState reports whether a job in state s (squeue's %T) has ended.
func finalJobState(s string) bool {
	switch s {
	case "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED":
		return false
	}
	return true
}

// TestSucceededRunLeavesNothing: a background child that ignores TERM does
// not outlive a succeeded job: the run wrapper ends it in the job, before
// it writes the exit code. ps shows the wrapper by a short command line.
func TestSucceededRunLeavesNothing(t *testing.T) {
	c, _ := cluster(t, Options{})
	spec := newSpec(t, "run-bg", nil, "sh", "-c",
		`(trap '' TERM; exec sleep 300) & echo $! > ../bg; tr '\0' ' ' </proc/$PPID/cmdline > ../cmdline; echo done`)
	ctx := ctxFor(t, 2*time.Minute)
	h, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFor(t, c, h, 2*time.Minute); st.State != providers.Succeeded {
		t.Fatalf("status %+v\nlog:\n%s", st, readLog(h))
	}
	data, _ := os.ReadFile(filepath.Join(h.Dir, "bg"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("bg pid %q", data)
	}
	if alive, err := (executor.Local{}).Alive(ctx, pid, ""); err != nil || alive {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the run's background child %d outlived the succeeded job (%v)", pid, err)
	}
	cmd, _ := os.ReadFile(filepath.Join(h.Dir, "cmdline"))
	if len(cmd) > 512 || !strings.Contains(string(cmd), executor.WrapperName+" "+h.Dir+" ") {
		t.Errorf("the wrapper's command line is %q", cmd)
	}
}
