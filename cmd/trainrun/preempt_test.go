package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/slurmtest"
	"github.com/trainrun/trainrun/internal/sshtest"
)

// preemptTrainer is a small deterministic trainer (stdlib Python: torch
// starts too slowly for these tests) that checkpoints every epoch into
// TRAINRUN_CHECKPOINT_DIR, atomically, resumes from it, and stops on
// SIGUSR2 or SIGTERM. In mode "preempt" it waits to be requeued after the
// epochs ROOT/pause-E names, holds after those ROOT/hold-E names until
// ROOT/release-E exists, and crashes once after epoch 4; "clean" runs
// straight through. Either way its weights must be the same.
const preemptTrainer = `
import json, os, pickle, random, signal, sys, time
mode, root = sys.argv[1], sys.argv[2]
ck = os.environ["TRAINRUN_CHECKPOINT_DIR"]
path = os.path.join(ck, "last.pkl")
attempt = os.environ["TRAINRUN_ATTEMPT"]
rng = random.Random(1234)
w, start = [0.0] * 4, 0
if os.path.exists(path):
    with open(path, "rb") as f:
        st = pickle.load(f)
    w, start = st["w"], st["epoch"] + 1
    rng.setstate(st["rng"])
    print(f"attempt {attempt}: resuming from epoch {start}", flush=True)
else:
    print(f"attempt {attempt}: no checkpoint, starting from epoch 0", flush=True)
stop = False
def on_signal(sig, frame):
    global stop
    stop = True
signal.signal(signal.SIGUSR2, on_signal)
signal.signal(signal.SIGTERM, on_signal)
true_w = [0.5, -1.25, 2.0, 0.75]
for epoch in range(start, 6):
    for _ in range(200):
        x = [rng.uniform(-1, 1) for _ in range(4)]
        y = sum(a * b for a, b in zip(true_w, x)) + rng.gauss(0, 0.1)
        err = sum(a * b for a, b in zip(w, x)) - y
        w = [wi - 0.05 * err * xi for wi, xi in zip(w, x)]
    with open(path + ".tmp", "wb") as f:
        pickle.dump({"w": w, "epoch": epoch, "rng": rng.getstate()}, f)
    os.replace(path + ".tmp", path)
    print(f"epoch {epoch}: w={w}", flush=True)
    if mode == "preempt":
        with open(os.path.join(root, f"at-{attempt}-{epoch}"), "w") as f:
            f.write(os.environ.get("SLURM_JOB_ID", ""))
        if os.path.exists(os.path.join(root, f"pause-{epoch}")):
            while not stop:
                time.sleep(0.05)
            print(f"attempt {attempt}: stopped after epoch {epoch}", flush=True)
            sys.exit(1)
        while os.path.exists(os.path.join(root, f"hold-{epoch}")) and not os.path.exists(os.path.join(root, f"release-{epoch}")):
            time.sleep(0.05)
        if epoch == 4 and not os.path.exists(os.path.join(ck, "crashed")):
            open(os.path.join(ck, "crashed"), "w").close()
            print(f"attempt {attempt}: crash after epoch {epoch}", flush=True)
            sys.exit(3)
with open(os.path.join(os.environ["TRAINRUN_OUTPUTS_DIR"], "weights.json"), "w") as f:
    json.dump(w, f)
`

// checkpointsLeft lists what is in a compute's checkpoints directory.
func checkpointsLeft(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A Slurm job requeued twice while it runs (scontrol requeue, as a
// preempting scheduler does) and failed once by itself resumes from its
// checkpoint each time: the requeues are not retries (max_requeues), the
// failure is (retries), status counts the attempts live, the weights equal
// an unpreempted run's, and the checkpoint directory is gone after
// success.
func TestSlurmPreemptedRunResumes(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is needed")
	}
	p, env := slurmProject(t, map[string]string{
		"trainrun.hcl": fmt.Sprintf(`
compute "slurm" "cluster" {
  workdir = "work"
  requeue = true
}
compute "local" "here" {}

experiment "preempted" {
  compute       = compute.cluster
  source_dir    = "src"
  command       = [%q, "train.py", "preempt", path.root]
  retries       = 1
  retry_backoff = "0s"
  max_requeues  = 2
}

experiment "clean" {
  compute    = compute.here
  source_dir = "src"
  command    = [%q, "train.py", "clean", path.root]
}
`, py, py),
		"src/train.py": preemptTrainer,
		"pause-1":      "",
		"pause-2":      "",
		"hold-3":       "",
	})
	cl := slurmtest.Start(t)
	p.must(0, nil, "apply", "-auto-approve", "-target", "experiment.clean")

	cmd := p.command(env, "apply", "-auto-approve", "-target", "experiment.preempted")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGKILL) })

	// reach waits for attempt's marker after epoch, and returns the job
	// id it holds (written after the file is made: waited for too).
	reach := func(attempt, epoch int, job string) string {
		t.Helper()
		marker := p.path(fmt.Sprintf("at-%d-%d", attempt, epoch))
		var id []byte
		if !waitFor(4*time.Minute, func() bool {
			id, _ = os.ReadFile(marker)
			return len(id) > 0
		}) {
			logs, _ := filepath.Glob(p.path("work/runs/*/log"))
			var b strings.Builder
			for _, l := range logs {
				data, _ := os.ReadFile(l)
				fmt.Fprintf(&b, "%s:\n%s\n", l, data)
			}
			sc, _ := exec.Command("scontrol", "show", "job", job).CombinedOutput()
			t.Fatalf("attempt %d did not reach epoch %d:\n%s\n%s\n%s", attempt, epoch, out.String(), b.String(), sc)
		}
		return string(id)
	}
	// requeue requeues the job and releases it from the hold a requeued
	// job is otherwise in (BeginTime) before it may start again.
	requeue := func(job string) {
		t.Helper()
		if err := cl.Requeue(job, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	job := reach(1, 1, "")
	requeue(job)
	reach(2, 2, job)
	requeue(job)
	reach(3, 3, job)
	// The live attempt count, before the run ends: attempt 3 is running.
	if st := p.status(nil); !slices.ContainsFunc(st, func(s statusJSON) bool {
		return s.Address == "experiment.preempted" && s.Status == "running" && s.Attempts == 3
	}) {
		t.Errorf("status -json while attempt 3 runs: %+v", st)
	}
	p.write("release-3", "")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, out.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("apply did not end:\n%s", out.String())
	}
	if s := out.String(); !strings.Contains(s, "attempt 3 failed (exit code 3); retrying") || !strings.Contains(s, "experiment.preempted: succeeded") {
		t.Errorf("apply said:\n%s", s)
	}
	var pre, clean statusJSON
	for _, s := range p.status(nil) {
		switch s.Address {
		case "experiment.preempted":
			pre = s
		case "experiment.clean":
			clean = s
		}
	}
	if pre.Status != "succeeded" || pre.Attempts != 4 {
		t.Errorf("preempted run: %+v, want succeeded after 4 attempts (2 requeues, 1 retry)", pre)
	}
	got, err1 := os.ReadFile(p.path(".trainrun/runs/" + pre.ID + "/outputs/weights.json"))
	want, err2 := os.ReadFile(p.path(".trainrun/runs/" + clean.ID + "/outputs/weights.json"))
	if err1 != nil || err2 != nil || string(got) != string(want) {
		t.Errorf("weights of the preempted run %q (%v), of the clean one %q (%v)", got, err1, want, err2)
	}
	// Each attempt resumed where the one before it stopped.
	// logs shows the last attempt's log and says that the earlier
	// attempts' are kept (attempts 1 to 3 share one: Slurm's requeues
	// went on in the same job's log); logs -attempt 3 shows it.
	res := p.must(0, nil, "logs", "experiment.preempted")
	log := res.stdout
	if !strings.Contains(res.stderr, "This is the log of attempt 4; the logs of 1 earlier attempt are kept: 3 (trainrun logs -attempt N "+pre.ID+").") {
		t.Errorf("logs said on stderr: %q", res.stderr)
	}
	earlier := p.must(0, nil, "logs", "-attempt", "3", "experiment.preempted").stdout
	for _, line := range []string{"attempt 2: resuming from epoch 2", "attempt 3: resuming from epoch 3", "Slurm requeued the job (2 times so far): attempt 3 starts"} {
		if !strings.Contains(string(earlier), line) {
			t.Errorf("attempt 3's log lacks %q:\n%s", line, earlier)
		}
	}
	if !strings.Contains(log, "attempt 4: resuming from epoch 5") {
		t.Errorf("last log:\n%s", log)
	}
	if left := checkpointsLeft(t, p.path("work/checkpoints")); len(left) != 0 {
		t.Errorf("checkpoints left after success: %v", left)
	}
}

// Beyond max_requeues, a requeued job fails at its start, saying so;
// apply -json says the requeue and the hold as they happen.
func TestSlurmMaxRequeues(t *testing.T) {
	p, env := slurmProject(t, map[string]string{
		"trainrun.hcl": `
compute "slurm" "cluster" {
  workdir = "work"
  requeue = true
}
experiment "once" {
  compute      = compute.cluster
  source_dir   = "src"
  command      = ["sh", "run.sh", path.root]
  max_requeues = 0
}
`,
		"src/run.sh": `echo "$SLURM_JOB_ID" > "$1/started-$TRAINRUN_ATTEMPT"
while [ -d "$1" ]; do sleep 0.1; done
`,
	})
	cmd := p.command(env, "apply", "-auto-approve", "-json")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	var job []byte
	if !waitFor(3*time.Minute, func() bool {
		job, _ = os.ReadFile(p.path("started-1"))
		job = []byte(strings.TrimSpace(string(job)))
		return len(job) > 0 // the file is made before the id is in it
	}) {
		t.Fatalf("the job did not start:\n%s", out.String())
	}
	if b, err := exec.Command("scontrol", "requeue", string(job)).CombinedOutput(); err != nil {
		t.Fatalf("scontrol requeue: %v: %s", err, b)
	}
	requeued := time.Now()
	// apply -json says the requeue and Slurm's hold, as events, before
	// the hold is lifted.
	events := []*regexp.Regexp{
		regexp.MustCompile(`"type":"run_requeued","address":"experiment\.once","run_id":"[0-9a-f]+","attempt":2[,}]`),
		regexp.MustCompile(`"type":"run_waiting_on","address":"experiment\.once","run_id":"[0-9a-f]+","reason":"held \(BeginTime [0-9T:-]+\)"`),
	}
	if !waitFor(time.Minute, func() bool {
		s := out.String()
		return events[0].MatchString(s) && events[1].MatchString(s)
	}) {
		t.Errorf("apply -json did not say the requeue and the hold:\n%s", out.String())
	}
	if err := slurmtest.Start(t).Release(string(job), requeued, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Minute):
		t.Fatalf("apply did not end:\n%s", out.String())
	}
	if _, err := os.Stat(p.path("started-2")); err == nil {
		t.Errorf("the run started again beyond max_requeues = 0")
	}
	if s := out.String(); !strings.Contains(s, "Slurm requeued the job 1 times, more than max_requeues = 0") {
		t.Errorf("apply said:\n%s", s)
	}
}

// A Slurm run and a local run of the same fingerprint see the same
// environment, even when the shell trainrun runs in sets variables that
// change numerics: those pass only through env. Slurm adds its own
// SLURM_* and nothing else that matters.
func TestSlurmSameEnvironmentAsLocal(t *testing.T) {
	config := func(compute string) string {
		return `
compute "slurm" "cluster" {
  workdir = "work"
}
compute "local" "here" {}
experiment "env" {
  compute    = compute.` + compute + `
  source_dir = "src"
  shell      = "env > \"$TRAINRUN_OUTPUTS_DIR/env\""
  env        = { OMP_NUM_THREADS = "1" }
}
`
	}
	p, env := slurmProject(t, map[string]string{"trainrun.hcl": config("here"), "src/.keep": ""})
	env = append(env, "OPENBLAS_CORETYPE=Haswell", "MKL_CBWR=AVX2", "PYTHONHASHSEED=7", "SOME_LOGIN_VAR=x")
	p.must(0, env, "apply", "-auto-approve")
	local := p.status(nil)[0]
	p.write("trainrun.hcl", config("cluster"))
	// The compute is not part of the fingerprint: run it again there.
	p.must(0, env, "apply", "-auto-approve", "-replace", "experiment.env")
	slurm := p.status(nil)[0]
	if local.ID == slurm.ID {
		t.Fatalf("the instance did not run again on Slurm")
	}
	read := func(id string) map[string]string {
		b, err := os.ReadFile(p.path(".trainrun/runs/" + id + "/outputs/env"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	l, s := read(local.ID), read(slurm.ID)
	for _, k := range []string{"OPENBLAS_CORETYPE", "MKL_CBWR", "PYTHONHASHSEED", "SOME_LOGIN_VAR"} {
		if _, ok := l[k]; ok {
			t.Errorf("the local run sees %s", k)
		}
		if _, ok := s[k]; ok {
			t.Errorf("the Slurm run sees %s", k)
		}
	}
	// What differs by nature: the run's own paths and id, and what Slurm
	// and the shell add.
	differs := func(k string) bool {
		switch k {
		case "TRAINRUN_RUN_ID", "TRAINRUN_OUTPUTS_DIR", "TRAINRUN_METRICS_FILE", "TRAINRUN_CHECKPOINT_DIR",
			"PWD", "OLDPWD", "SHLVL", "_", "ENVIRONMENT", "HOSTNAME", "TMPDIR":
			return true
		}
		return strings.HasPrefix(k, "SLURM") || strings.HasPrefix(k, "SBATCH_") // sbatch's own, passed on
	}
	keys := map[string]bool{}
	for k := range l {
		keys[k] = true
	}
	for k := range s {
		keys[k] = true
	}
	for k := range keys {
		if differs(k) {
			continue
		}
		lv, lok := l[k]
		sv, sok := s[k]
		if lok != sok || lv != sv {
			t.Errorf("%s: local %q (%v), Slurm %q (%v)", k, lv, lok, sv, sok)
		}
	}
	if l["OMP_NUM_THREADS"] != "1" || s["OMP_NUM_THREADS"] != "1" {
		t.Errorf("OMP_NUM_THREADS from env: local %q, Slurm %q", l["OMP_NUM_THREADS"], s["OMP_NUM_THREADS"])
	}
}

// On an SSH compute, trainrun's own retry resumes from the checkpoint the
// failed attempt left, and the checkpoint directory is gone after success.
func TestSSHRetryResumesFromCheckpoint(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	p := newProject(t, map[string]string{
		"trainrun.hcl": sshCompute("box", s, wd, "") + `
experiment "train" {
  compute       = compute.box
  source_dir    = "src"
  command       = ["sh", "train.sh"]
  outputs       = ["weights"]
  retries       = 1
  retry_backoff = "0s"
}
`,
		"src/train.sh": `ck=$TRAINRUN_CHECKPOINT_DIR
epoch=0 w=1
if [ -f "$ck/state" ]; then read -r epoch w <"$ck/state"; echo "attempt $TRAINRUN_ATTEMPT: resuming from epoch $epoch"; fi
while [ "$epoch" -lt 5 ]; do
	epoch=$((epoch + 1)) w=$((w * 3))
	echo "$epoch $w" >"$ck/state.tmp" && mv "$ck/state.tmp" "$ck/state"
	if [ "$epoch" = 3 ] && [ ! -f "$ck/crashed" ]; then touch "$ck/crashed"; echo crash; exit 1; fi
done
echo "$w" >weights
`,
	})
	res := p.must(0, nil, "apply", "-auto-approve")
	if !strings.Contains(res.stdout, "attempt 2: resuming from epoch 3") {
		t.Errorf("apply:\n%s", res)
	}
	st := p.status(nil)[0]
	if b, err := os.ReadFile(p.path(".trainrun/runs/" + st.ID + "/outputs/weights")); err != nil || string(b) != "243\n" {
		t.Errorf("weights %q %v", b, err)
	}
	if left := checkpointsLeft(t, filepath.Join(s.Home, wd, "checkpoints")); len(left) != 0 {
		t.Errorf("checkpoints left after success: %v", left)
	}
}
