package slurm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// These tests need no cluster.

func TestValidate(t *testing.T) {
	str := cty.StringVal
	tests := []struct {
		name string
		v    providers.Values
		want string // the first problem's attribute and a piece of its detail; "" for none
	}{
		{"minimal", providers.Values{"workdir": str("/shared/x")}, ""},
		{"relative workdir, local login", providers.Values{"workdir": str("work")}, ""},
		{"relative workdir with login", providers.Values{"workdir": str("work"), "login": str("gw")}, "workdir: absolute path on the login node"},
		{"backslash", providers.Values{"workdir": str(`/a\b`)}, "workdir: backslash"},
		{"newline partition", providers.Values{"workdir": str("/w"), "partition": str("a\nb")}, "partition: one line"},
		{"signal", providers.Values{"workdir": str("/w"), "signal": str("SIGUSR1@120")}, ""},
		{"bad signal", providers.Values{"workdir": str("/w"), "signal": str("KILL@10")}, "signal: a signal a run can catch"},
		{"bad signal time", providers.Values{"workdir": str("/w"), "signal": str("USR2@soon")}, "signal: whole seconds"},
		{"requeue", providers.Values{"workdir": str("/w"), "requeue": cty.True}, ""},
		{"max_runs 0", providers.Values{"workdir": str("/w"), "max_runs": cty.NumberIntVal(0)}, "max_runs: at least 1"},
		{"gpus fraction", providers.Values{"workdir": str("/w"), "gpus": cty.NumberFloatVal(1.5)}, "gpus: whole number"},
		{"sbatch_args", providers.Values{"workdir": str("/w"), "sbatch_args": cty.ListVal([]cty.Value{str("--exclusive"), str("--constraint=a100")})}, ""},
		{"sbatch_args array", providers.Values{"workdir": str("/w"), "sbatch_args": cty.ListVal([]cty.Value{str("--array=1-3")})}, "sbatch_args: --array"},
		{"sbatch_args export", providers.Values{"workdir": str("/w"), "sbatch_args": cty.ListVal([]cty.Value{str("--export=ALL")})}, "sbatch_args: --export"},
		{"sbatch_args output", providers.Values{"workdir": str("/w"), "sbatch_args": cty.ListVal([]cty.Value{str("-o")})}, "sbatch_args: -o"},
		{"sbatch_args job name", providers.Values{"workdir": str("/w"), "sbatch_args": cty.ListVal([]cty.Value{str("--job-name=x")})}, "sbatch_args: --job-name"},
		{"setup NUL", providers.Values{"workdir": str("/w"), "setup": cty.ListVal([]cty.Value{str("a\x00b")})}, "setup: NUL"},
		{"sensitive workdir", providers.Values{"workdir": str("/w").Mark("sensitive")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := Kind().Validate(tt.v)
			if tt.want == "" {
				if len(problems) > 0 {
					t.Fatalf("problems: %+v", problems)
				}
				return
			}
			attr, detail, _ := strings.Cut(tt.want, ": ")
			if len(problems) == 0 || problems[0].Attr != attr || !strings.Contains(problems[0].Detail, detail) {
				t.Fatalf("problems %+v, want %s", problems, tt.want)
			}
		})
	}
}

func TestSchemaRequiresWorkdirAndRefersLogin(t *testing.T) {
	s := Kind().Schema()
	if a := s.Attr("workdir"); a == nil || !a.Required {
		t.Error("workdir is not required")
	}
	if a := s.Attr("login"); a == nil || a.Ref != "compute" {
		t.Error("login is not a compute reference")
	}
	for _, name := range []string{"partition", "account", "qos", "requeue", "signal", "sbatch_args", "setup", "max_runs", "gpus"} {
		if s.Attr(name) == nil {
			t.Errorf("no attribute %s", name)
		}
	}
}

func TestParseSignal(t *testing.T) {
	tests := map[string]Signal{
		"USR2@90":   {"USR2", 90},
		"usr1":      {"USR1", 60},
		"SIGTERM@0": {"TERM", 0},
		"B:USR2@5":  {"USR2", 5},
		"12@30":     {"USR2", 30},
	}
	for in, want := range tests {
		got, err := parseSignal(in)
		if err != nil || got != want {
			t.Errorf("parseSignal(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KILL", "USR2@-1", "USR2@70000", "R:USR2", "9"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) accepted", in)
		}
	}
}

func TestOpenDefaults(t *testing.T) {
	dir := t.TempDir()
	comp, err := Kind().Open("c", providers.Values{"workdir": cty.StringVal("work"), "requeue": cty.True}, providers.Env{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := comp.(*Compute)
	if c.o.Workdir != filepath.Join(dir, "work") {
		t.Errorf("workdir %s", c.o.Workdir)
	}
	if c.o.Signal != (Signal{"USR2", 90}) {
		t.Errorf("requeue without signal: %+v, want USR2@90", c.o.Signal)
	}
	if c.Slots() != unbounded || c.GPUs(t.Context()) != unbounded {
		t.Errorf("slots %d, gpus %d", c.Slots(), c.GPUs(t.Context()))
	}
	if _, ok := c.o.Exec.(executor.Local); !ok {
		t.Errorf("without login the executor is %T", c.o.Exec)
	}
	// A compute that left the configuration can still be opened, to
	// follow its runs.
	if _, err := Kind().Open("gone", providers.Values{}, providers.Env{Dir: dir}); err != nil {
		t.Errorf("open without values: %v", err)
	}
}

// fakeLogin is a compute that reaches a machine through an executor.
type fakeLogin struct {
	providers.Compute
	e executor.Executor
}

func (f fakeLogin) EnvironmentMachine(ctx context.Context) (providers.Machine, string) {
	return f.e, "/envs"
}

func TestLoginIsReachedThroughAnotherCompute(t *testing.T) {
	opened := 0
	env := providers.Env{OpenCompute: func(name string) (providers.Compute, error) {
		opened++
		if name != "gw" {
			t.Errorf("opened %q", name)
		}
		return fakeLogin{e: executor.Local{}}, nil
	}}
	comp, err := Kind().Open("c", providers.Values{"workdir": cty.StringVal("/shared/w"), "login": cty.StringVal("gw")}, env)
	if err != nil {
		t.Fatal(err)
	}
	if opened != 0 {
		t.Fatal("Open reached the login compute: it must contact nothing")
	}
	c := comp.(*Compute)
	for range 2 {
		if e, err := c.executor(t.Context()); err != nil || e == nil {
			t.Fatalf("executor: %v", err)
		}
	}
	if opened != 1 {
		t.Errorf("the login compute was opened %d times", opened)
	}
	m, dir := c.EnvironmentMachine(t.Context())
	if _, ok := m.(executor.Local); !ok || dir != "/shared/w/envs" {
		t.Errorf("environment machine %T %s", m, dir)
	}
	// A login compute that reaches no machine is refused with a reason.
	env.OpenCompute = func(string) (providers.Compute, error) { return fakeLogin{}.Compute, nil }
	comp, _ = Kind().Open("c", providers.Values{"workdir": cty.StringVal("/w"), "login": cty.StringVal("gw")}, env)
	if _, err := comp.(*Compute).executor(t.Context()); err == nil || !strings.Contains(err.Error(), "cannot be a login node") {
		t.Errorf("login without a machine: %v", err)
	}
}

func TestSbatchArgv(t *testing.T) {
	c := New(Options{Partition: "gpu", Account: "proj42", QOS: "low", Requeue: true, Signal: Signal{"USR2", 90},
		SbatchArgs: []string{"--exclusive", "--constraint=a100|h100"}})
	got := c.sbatchArgv(jobArgs{Name: "experiment.x[\"a\nb\"]", Comment: "trainrun run r1 n", Output: "/w/runs/r1/log",
		Resources: providers.Resources{CPUs: 4, Memory: 16<<30 + 1, GPUs: 2, Nodes: 2}, Timeout: 2 * time.Hour,
		Tasks: 1000, MaxConcurrent: 8}, "/w/job.sh")
	// All of sbatch's environment, which is what a local run inherits (sbatchEnv).
	const export = "--export=ALL"
	want := []string{"sbatch", "--parsable", "--job-name=experiment.x[\"a b\"]", "--comment=trainrun run r1 n",
		"--output=/w/runs/r1/log", "--open-mode=append", "--partition=gpu", "--account=proj42", "--qos=low",
		"--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=4", "--mem=16385M", "--gres=gpu:2", "--time=122",
		"--requeue", "--signal=B:USR2@90", export, "--array=0-999%8", "--exclusive", "--constraint=a100|h100", "/w/job.sh"}
	if !slices.Equal(got, want) {
		t.Errorf("argv\n%q\nwant\n%q", got, want)
	}
	got = New(Options{}).sbatchArgv(jobArgs{Name: "", Comment: "c", Output: "o", Tasks: 3, MaxConcurrent: 5}, "s")
	want = []string{"sbatch", "--parsable", "--job-name=trainrun", "--comment=c", "--output=o", "--open-mode=append",
		"--nodes=1", "--no-requeue", export, "--array=0-2", "s"}
	if !slices.Equal(got, want) {
		t.Errorf("argv\n%q\nwant\n%q", got, want)
	}
}

func TestTimeLimit(t *testing.T) {
	for d, want := range map[time.Duration]int64{time.Second: 2, 50 * time.Second: 2, 51 * time.Second: 3, 2 * time.Hour: 122} {
		if got := timeLimit(d); got != want {
			t.Errorf("timeLimit(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestParseJobID(t *testing.T) {
	for in, want := range map[string]string{"123\n": "123", "77;cluster\n": "77"} {
		if got, err := parseJobID([]byte(in)); err != nil || got != want {
			t.Errorf("parseJobID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "Submitted batch job 5", "12a", ";x"} {
		if _, err := parseJobID([]byte(in)); err == nil {
			t.Errorf("parseJobID(%q) accepted", in)
		}
	}
	for id, ok := range map[string]bool{"1": true, "12_3": true, "12_": false, "_3": false, "1_2_3": false, "": false, "-1": false, "12_[3-5]": false} {
		if validJobID(id) != ok {
			t.Errorf("validJobID(%q) = %v", id, !ok)
		}
	}
}

// The environment file, sourced by sh, gives the command exactly the
// values and arguments it was given, whatever they hold.
func TestEnvFileRoundTrip(t *testing.T) {
	hostile := []string{`it's`, `"q"`, `$(touch pwned)`, "`touch pwned`", `a\b`, "two\nlines", `;touch pwned`, ``, `$HOME`, `*`, "tab\there", "-n"}
	spec := &providers.RunSpec{RunID: "r\nx", Attempt: 3, Timeout: 1500 * time.Millisecond, Env: map[string]string{
		providers.PathPrependVar: "/opt/env bin/bin",
		"odd-name":               "$(touch pwned)",
	}}
	for i, v := range hostile {
		spec.Env["V"+string(rune('A'+i))] = v
	}
	dir := t.TempDir()
	env, prepend := runEnv(spec, "/w/runs/r", "", []string{"data"})
	if env["TRAINRUN_INPUT_DATA"] != "/w/runs/r/inputs/data" || env["TRAINRUN_OUTPUTS_DIR"] != "/w/runs/r/outputs" {
		t.Errorf("compute's variables: %q", env)
	}
	data, err := envFileContent(spec, env, prepend, append([]string{"printf", `%s\0`}, hostile...))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "job.env")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Source it as the job does, then print what it set.
	script := `. "$1" && echo "$trainrun_attempt $trainrun_timeout" && echo "$PATH" && env -0 >env.out && "$@" >args.out`
	cmd := exec.Command("sh", "-c", script, "sh", file)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s\n%s", err, out, data)
	}
	lines := strings.Split(string(out), "\n")
	if lines[0] != "3 2" || lines[1] != "/opt/env bin/bin:/usr/bin:/bin" {
		t.Errorf("attempt, timeout and PATH: %q", lines[:2])
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args.out"))
	if got := strings.Split(strings.TrimSuffix(string(args), "\x00"), "\x00"); !slices.Equal(got, hostile) {
		t.Errorf("arguments %q, want %q", got, hostile)
	}
	envOut, _ := os.ReadFile(filepath.Join(dir, "env.out"))
	have := map[string]string{}
	for _, kv := range strings.Split(string(envOut), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			have[k] = v
		}
	}
	for k, v := range spec.Env {
		if k == providers.PathPrependVar || k == "odd-name" {
			continue // on PATH; passed by env(1), in front of the command
		}
		if have[k] != v {
			t.Errorf("%s = %q, want %q", k, have[k], v)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("a value was run as a command")
	}
	if !strings.Contains(string(data), "set -- env 'odd-name=$(touch pwned)' printf") {
		t.Errorf("the odd name does not go through env(1):\n%s", data)
	}
	// A NUL cannot be passed, and says so.
	spec.Env["BAD"] = "a\x00b"
	if _, err := envFileContent(spec, map[string]string{"BAD": "a\x00b"}, "", []string{"true"}); err == nil {
		t.Error("a NUL byte was accepted")
	}
}

func TestScriptIsValidShell(t *testing.T) {
	for _, s := range []script{
		{RunDir: "/w/runs/it's", Title: "x\ny", Setup: []string{"module load a # c", "if true; then\n :\nfi"}, Signal: "USR2"},
		{BatchDir: "/w/b $(x)", MultiNode: true},
	} {
		text := s.text()
		if out, err := exec.Command("sh", "-n", "-c", text).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v: %s\n%s", err, out, text)
		}
		if strings.Count(text, "\n# ") < 2 || strings.Contains(text, "# x\ny") {
			t.Errorf("title not kept on one comment line:\n%s", text[:200])
		}
	}
}

func TestParseSqueueAndScontrol(t *testing.T) {
	infos := map[string]jobInfo{}
	parseSqueue([]byte("12|RUNNING|None\n13_0|PENDING|JobArrayTaskLimit\nbogus\n13_1|COMPLETED|None\n"+
		"14|PENDING|BeginTime|2026-12-07T19:25:38|2026-12-07T19:23:37\n"), infos)
	want := map[string]jobInfo{"12": {true, "RUNNING", "", "", ""}, "14": {true, "PENDING", "BeginTime", "2026-12-07T19:25:38", "2026-12-07T19:23:37"}, "13_0": {true, "PENDING", "JobArrayTaskLimit", "", ""}, "13_1": {true, "COMPLETED", "", "", ""}}
	for id, w := range want {
		if infos[id] != w {
			t.Errorf("squeue %s: %+v, want %+v", id, infos[id], w)
		}
	}
	// A job name may hold anything, fields included.
	out := "JobId=20 JobName=x JobState=COMPLETED Reason=None UserId=y ArrayJobId=1 UserId=root(0) GroupId=root(0) JobState=RUNNING Reason=None Dependency=(null)\n" +
		"JobId=30 ArrayJobId=30 ArrayTaskId=4-6%2 JobName=experiment.s UserId=root(0) JobState=PENDING Reason=JobArrayTaskLimit\n" +
		"JobId=33 ArrayJobId=30 ArrayTaskId=2 JobName=experiment.s UserId=root(0) JobState=FAILED Reason=NonZeroExitCode\n"
	infos = map[string]jobInfo{}
	parseScontrol([]byte(out), infos)
	want = map[string]jobInfo{
		"20": {true, "RUNNING", "", "", ""}, "30_4": {true, "PENDING", "JobArrayTaskLimit", "", ""}, "30_5": {true, "PENDING", "JobArrayTaskLimit", "", ""},
		"30_6": {true, "PENDING", "JobArrayTaskLimit", "", ""}, "30_2": {true, "FAILED", "NonZeroExitCode", "", ""},
	}
	if len(infos) != len(want) {
		t.Errorf("scontrol: %+v", infos)
	}
	for id, w := range want {
		if infos[id] != w {
			t.Errorf("scontrol %s: %+v, want %+v", id, infos[id], w)
		}
	}
}

// status maps what Slurm says and the run's own files to a run state.
func TestStatusMapping(t *testing.T) {
	type files map[string]string
	tests := []struct {
		name    string
		requeue bool
		info    jobInfo
		files   files
		want    providers.State
		reason  string
		code    int // -1: none
	}{
		{"pending", false, jobInfo{true, "PENDING", "Priority", "", ""}, nil, providers.Pending, "pending: Priority", -1},
		{"configuring", false, jobInfo{true, "CONFIGURING", "", "", ""}, nil, providers.Pending, "configuring", -1},
		{"requeued", false, jobInfo{true, "REQUEUED", "", "", ""}, files{"exit": "143\n"}, providers.Pending, "requeued", -1},
		{"preempted, requeue", true, jobInfo{true, "PREEMPTED", "", "", ""}, nil, providers.Pending, "preempted", -1},
		{"preempted, no requeue", false, jobInfo{true, "PREEMPTED", "", "", ""}, nil, providers.Failed, "Slurm: PREEMPTED", -1},
		{"running", false, jobInfo{true, "RUNNING", "", "", ""}, nil, providers.Running, "", -1},
		{"completing", false, jobInfo{true, "COMPLETING", "", "", ""}, files{"exit": "0\n"}, providers.Running, "", -1},
		{"completed, exit 0", false, jobInfo{true, "COMPLETED", "", "", ""}, files{"exit": "0\n", "restarts": "2\n"}, providers.Succeeded, "", 0},
		{"completed without exit file", false, jobInfo{true, "COMPLETED", "", "", ""}, nil, providers.Failed, "Slurm: COMPLETED, and the run wrote no exit code: is", -1},
		{"completed, half-written exit file", false, jobInfo{true, "COMPLETED", "", "", ""}, files{"exit": "0"}, providers.Failed, "no exit code", -1},
		{"failed with exit code", false, jobInfo{true, "FAILED", "", "", ""}, files{"exit": "3\n"}, providers.Failed, "exit code 3", 3},
		{"failed in setup", false, jobInfo{true, "FAILED", "", "", ""}, files{"reason": "setup line 1 failed (exit 1): module load x\n"}, providers.Failed, "setup line 1 failed (exit 1): module load x", -1},
		{"failed, nothing written", false, jobInfo{true, "FAILED", "", "", ""}, nil, providers.Failed, "visible on the compute nodes", -1},
		{"timed out by the wrapper", false, jobInfo{true, "FAILED", "", "", ""}, files{"exit": "143\n", "timedout": "7200\n"}, providers.Failed, "timed out after 2h", 143},
		{"slurm time limit", false, jobInfo{true, "TIMEOUT", "", "", ""}, files{"exit": "143\n"}, providers.Failed, "Slurm: TIMEOUT (exit code 143)", 143},
		{"out of memory", false, jobInfo{true, "OUT_OF_MEMORY", "", "", ""}, files{"exit": "137\n"}, providers.Failed, "Slurm: OUT_OF_MEMORY (exit code 137)", 137},
		{"node fail", false, jobInfo{true, "NODE_FAIL", "", "", ""}, nil, providers.Failed, "Slurm: NODE_FAIL", -1},
		{"cancelled by trainrun", false, jobInfo{true, "CANCELLED", "", "", ""}, files{"cancelled": ""}, providers.Cancelled, "cancelled", -1},
		{"cancelled by someone", false, jobInfo{true, "CANCELLED", "", "", ""}, files{"exit": "143\n"}, providers.Cancelled, "cancelled in Slurm", 143},
		{"forgotten, exit 0", false, jobInfo{}, files{"exit": "0\n"}, providers.Succeeded, "", 0},
		{"forgotten, exit 1", false, jobInfo{}, files{"exit": "1\n"}, providers.Failed, "exit code 1", 1},
		{"forgotten, cancelled", false, jobInfo{}, files{"cancelled": ""}, providers.Cancelled, "cancelled", -1},
		{"forgotten, nothing", false, jobInfo{}, nil, providers.Failed, "Slurm no longer knows job 5", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := New(Options{Exec: executor.Local{}, Requeue: tt.requeue})
			st, err := c.status(context.Background(), providers.Handle{ID: "5", Dir: dir}, tt.info)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tt.want || !strings.HasPrefix(st.Reason, tt.reason) && !strings.Contains(st.Reason, tt.reason) {
				t.Errorf("%s %q, want %s %q", st.State, st.Reason, tt.want, tt.reason)
			}
			switch {
			case tt.code < 0 && st.ExitCode != nil && st.State.Done():
				t.Errorf("exit code %d, want none", *st.ExitCode)
			case tt.code >= 0 && (st.ExitCode == nil || *st.ExitCode != tt.code):
				t.Errorf("exit code %v, want %d", st.ExitCode, tt.code)
			}
			if tt.files["restarts"] == "2\n" && st.Requeues != 2 {
				t.Errorf("requeues %d, want 2", st.Requeues)
			}
		})
	}
}

func TestOutputPatternAndJobName(t *testing.T) {
	if got := outputPattern("/w/100%/runs/x/log"); got != "/w/100%%/runs/x/log" {
		t.Errorf("outputPattern: %s", got)
	}
	if got := jobName("a\nb\x00c\x7f"); got != "a b c " {
		t.Errorf("jobName: %q", got)
	}
}

type recordingLauncher struct{ got providers.Launch }

func (l *recordingLauncher) Launch(x providers.Launch) ([]string, error) {
	l.got = x
	return append([]string{"podman", "run", "--rm", "img"}, x.Argv...), nil
}

// A container environment's launcher starts the command in the job, with
// the names of the variables to pass in; their values stay in job.env.
func TestPrepareWithLauncher(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "r1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l := &recordingLauncher{}
	c := New(Options{Exec: executor.Local{}, Workdir: filepath.Dir(filepath.Dir(dir))})
	c.multiNode = true
	spec := &providers.RunSpec{RunID: "r1", Attempt: 1, Command: []string{"python", "t.py"}, Launcher: l,
		Env: map[string]string{"TRAINRUN_ATTEMPT": "1", "SECRET": "s3cr3t", "CUDA_VISIBLE_DEVICES": "0"}}
	if err := c.prepare(context.Background(), executor.Local{}, spec, dir); err != nil {
		t.Fatal(err)
	}
	if l.got.RunDir != dir || l.got.WorkDir != filepath.Join(dir, "src") || !slices.Equal(l.got.Argv, spec.Command) {
		t.Errorf("launch %+v", l.got)
	}
	want := []string{"MASTER_ADDR", "MASTER_PORT", "SECRET", "TRAINRUN_ATTEMPT", "TRAINRUN_METRICS_FILE", "TRAINRUN_NODE_RANK", "TRAINRUN_NUM_NODES", "TRAINRUN_OUTPUTS_DIR"}
	if !slices.Equal(l.got.Env, want) {
		t.Errorf("names passed in %q, want %q", l.got.Env, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, envFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\nset -- podman run --rm img python t.py\n") || !strings.Contains(string(data), "export SECRET=s3cr3t\n") {
		t.Errorf("job.env:\n%s", data)
	}
	if fi, _ := os.Stat(filepath.Join(dir, envFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("job.env mode %v, want 0600 (it holds secrets)", fi.Mode().Perm())
	}
}
