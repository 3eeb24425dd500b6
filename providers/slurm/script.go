package slurm

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/providers/runner"
)

// Files of a run directory besides the wrapper's (executor.LogFile, …).
const (
	srcDir        = "src"
	outputsDir    = "outputs"
	metricsFile   = "metrics.jsonl"
	envFile       = "job.env"   // the run's environment and command, sourced by the job
	scriptFile    = "job.sh"    // the batch script of a single job
	jobIDFile     = "jobid"     // the job id, written after sbatch and by the job
	batchFile     = "batch"     // "BATCH INDEX" of a run submitted in a job array
	restartsFile  = "restarts"  // SLURM_RESTART_COUNT when the job last started
	reasonFile    = "reason"    // why the job failed before the run started
	cancelledFile = "cancelled" // trainrun cancelled the run
	commentFile   = "comment"   // the job's --comment, which names one submission
)

// Files of a batch directory (WORKDIR/batches/ID).
const (
	tasksFile = "tasks" // line i+1: the run directory of array task i
	outDir    = "out"   // Slurm's own output of task i, in out/i
)

// Exit codes the job script uses when the run could not start.
const (
	exitNotVisible = 97 // the run directory is not visible on the node
	exitSetup      = 98 // a setup line failed
)

// killGrace is how long a timed-out run has between TERM and KILL.
const killGrace = 10 * time.Second

// validName reports whether k can be assigned by a POSIX shell.
func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// runEnv is the environment a run's command sees on top of what the job
// inherits from sbatch: spec.Env and what the compute owns
// (TRAINRUN_OUTPUTS_DIR, TRAINRUN_METRICS_FILE, TRAINRUN_INPUT_*, whose
// directories are in the run directory, on the shared filesystem, and
// TRAINRUN_CHECKPOINT_DIR, checkpoint, when not "").
// TRAINRUN_PATH_PREPEND is returned apart: the job puts it first on the
// node's PATH.
func runEnv(spec *providers.RunSpec, dir, checkpoint string, inputs []string) (env map[string]string, prepend string) {
	env = make(map[string]string, len(spec.Env)+2+len(inputs))
	for k, v := range spec.Env {
		env[k] = v
	}
	prepend = env[providers.PathPrependVar]
	delete(env, providers.PathPrependVar)
	env["TRAINRUN_OUTPUTS_DIR"] = path.Join(dir, outputsDir)
	env["TRAINRUN_METRICS_FILE"] = path.Join(dir, metricsFile)
	delete(env, providers.CheckpointVar)
	if checkpoint != "" {
		env[providers.CheckpointVar] = checkpoint
	}
	for _, name := range inputs {
		env["TRAINRUN_INPUT_"+strings.ToUpper(name)] = path.Join(dir, "inputs", name)
	}
	return env, prepend
}

// envFileContent is job.env: shell code the job sources. It exports the
// run's environment, says which attempt the runtime started, and sets the
// positional parameters to the command the wrapper runs. Every value is
// single-quoted (executor.Quote). Variables whose names a shell cannot
// assign are passed by env(1) in front of the command instead.
func envFileContent(spec *providers.RunSpec, env map[string]string, prepend string, argv []string) ([]byte, error) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# trainrun: the environment and command of run " + oneLine(spec.RunID) + ", sourced by its job.\n")
	var odd []string // NAME=VALUE for names the shell cannot assign
	for _, k := range keys {
		v := env[k]
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("environment variable %q cannot be passed to a process", k)
		}
		if !validName(k) {
			odd = append(odd, k+"="+v)
			continue
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, executor.Quote(v))
	}
	if prepend != "" {
		if strings.IndexByte(prepend, 0) >= 0 {
			return nil, errors.New("TRAINRUN_PATH_PREPEND contains a NUL byte")
		}
		fmt.Fprintf(&b, "PATH=%s${PATH:+:$PATH}; export PATH\n", executor.Quote(prepend))
	}
	attempt := max(spec.Attempt, 1)
	fmt.Fprintf(&b, "trainrun_attempt=%d\n", attempt)
	fmt.Fprintf(&b, "trainrun_timeout=%d\n", seconds(spec.Timeout))
	if spec.MaxRequeues != nil {
		fmt.Fprintf(&b, "trainrun_max_requeues=%d\n", max(*spec.MaxRequeues, 0))
	}
	if len(odd) > 0 {
		if strings.IndexByte(argv[0], '=') >= 0 {
			return nil, fmt.Errorf("the command %q contains '=', which env(1) would take for a variable", argv[0])
		}
		argv = append(append([]string{"env"}, odd...), argv...)
	}
	b.WriteString("set -- " + executor.CommandLine(argv) + "\n")
	return []byte(b.String()), nil
}

// seconds rounds d up to whole seconds; d ≤ 0 is 0.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// oneLine makes s safe inside a shell comment.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// script describes one batch script.
type script struct {
	// Exactly one of RunDir (a single job) and BatchDir (a job array) is
	// set.
	RunDir, BatchDir string
	Title            string   // for the comment at the top
	Setup            []string // shell lines run before the command
	Signal           string   // the signal forwarded to the run ("USR2"); "" for none
	// MultiNode starts the command once per node with srun, with
	// TRAINRUN_NODE_RANK, TRAINRUN_NUM_NODES, MASTER_ADDR and MASTER_PORT
	// (nodes > 1, and tests).
	MultiNode bool
	// Wrapper is the path of the run wrapper on the shared filesystem
	// (runner.Compute.Wrapper installs it there).
	Wrapper string
}

// text returns the batch script. It is POSIX sh and assumes only what a
// compute node has: sh, setsid, sed, and Slurm's own commands.
func (s script) text() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString("# " + oneLine(s.Title) + "\n")
	b.WriteString("# Written by trainrun. The run's environment and command are in RUNDIR/job.env.\n")
	if s.BatchDir != "" {
		fmt.Fprintf(&b, "batch=%s\n", executor.Quote(s.BatchDir))
		b.WriteString(`i=${SLURM_ARRAY_TASK_ID:?not a job array task}
rundir=$(sed -n "$((i + 1))p" "$batch/tasks" 2>/dev/null)
if [ -z "$rundir" ]; then
	echo "trainrun: $batch/tasks has no line for task $i: is the workdir visible on $(hostname)? It must be on a filesystem the compute nodes share." >&2
	exit 97
fi
jobid=${SLURM_ARRAY_JOB_ID}_$i
`)
	} else {
		fmt.Fprintf(&b, "rundir=%s\n", executor.Quote(s.RunDir))
		b.WriteString("jobid=$SLURM_JOB_ID\n")
	}
	b.WriteString(`if ! cd "$rundir" 2>/dev/null; then
	echo "trainrun: $rundir is not visible on $(hostname): the compute's workdir must be on a filesystem the compute nodes share." >&2
	exit 97
fi
exec </dev/null >>log 2>&1
echo "$jobid" >jobid
echo "${SLURM_RESTART_COUNT:-0}" >restarts
# A requeued job starts again: what the last attempt wrote is not this one's.
rm -f exit timedout pid reason
if ! . ./job.env; then
	echo "trainrun: cannot read $rundir/job.env" >reason
	exit 97
fi
TRAINRUN_ATTEMPT=$((trainrun_attempt + ${SLURM_RESTART_COUNT:-0}))
export TRAINRUN_ATTEMPT
[ "${SLURM_RESTART_COUNT:-0}" -eq 0 ] || echo "trainrun: Slurm requeued the job (${SLURM_RESTART_COUNT} times so far): attempt $TRAINRUN_ATTEMPT starts on $(hostname)"
if [ -n "${trainrun_max_requeues-}" ] && [ "${SLURM_RESTART_COUNT:-0}" -gt "$trainrun_max_requeues" ]; then
	echo "Slurm requeued the job ${SLURM_RESTART_COUNT} times, more than max_requeues = $trainrun_max_requeues" >reason
	cat reason >&2
	exit 96
fi
`)
	n := 0
	for _, line := range s.Setup {
		if strings.TrimSpace(line) == "" {
			continue
		}
		n++
		// Braces, so that a line may end in a comment or span several lines.
		fmt.Fprintf(&b, "{ %s\n} || { c=$?; echo \"setup line %d failed (exit $c): \"%s >reason; cat reason >&2; exit %d; }\n",
			line, n, executor.Quote(oneLine(line)), exitSetup)
	}
	if s.MultiNode {
		b.WriteString(`# The first node's address (its NodeAddr, which is its name unless set).
first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)
MASTER_ADDR=$(scontrol show node "$first" 2>/dev/null | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p' | sed -n 1p)
MASTER_ADDR=${MASTER_ADDR:-$first}
MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))
TRAINRUN_NUM_NODES=${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-1}}
export MASTER_ADDR MASTER_PORT TRAINRUN_NUM_NODES
# sbatch --export named the variables the job inherits; srun would pass
# only those on (SLURM_EXPORT_ENV), not the run's own.
SLURM_EXPORT_ENV=ALL
export SLURM_EXPORT_ENV
# srun starts the command once per node; each learns its rank there.
set -- srun --nodes="$TRAINRUN_NUM_NODES" --ntasks="$TRAINRUN_NUM_NODES" --ntasks-per-node=1 --kill-on-bad-exit=1 \
	sh -c 'TRAINRUN_NODE_RANK=${SLURM_NODEID:-0}; export TRAINRUN_NODE_RANK; exec "$@"' trainrun-node "$@"
`)
	}
	fmt.Fprintf(&b, "wrapper=%s\n", executor.Quote(s.Wrapper))
	ignore := ""
	if s.Signal != "" {
		// The wrapper and its watchdog ignore the forwarded signal, which
		// they inherit; the run's programs install their own handler.
		ignore = "trap '' " + s.Signal + "; "
	}
	fmt.Fprintf(&b, "(%sexec setsid -w sh \"$wrapper\" \"$rundir\" \"$trainrun_timeout\" %d -- \"$@\") &\n", ignore, seconds(killGrace))
	b.WriteString(`child=$!
# Signals for the job go to the run's process group, which the wrapper leads.
forward() { read -r p _ 2>/dev/null <pid && [ -n "$p" ] && kill -s "$1" -- "-$p" 2>/dev/null; }
trap 'forward TERM' TERM
`)
	if s.Signal != "" {
		fmt.Fprintf(&b, "trap 'forward %s' %s\n", s.Signal, s.Signal)
	}
	b.WriteString(`while :; do
	wait "$child"
	kill -0 "$child" 2>/dev/null || break
done
code=
read -r code 2>/dev/null <exit
exit "${code:-1}"
`)
	return b.String()
}

// jobName is what squeue shows: the instance address, without control
// characters (it travels as one argv element, never through a shell).
func jobName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "trainrun"
	}
	return s
}

// Comments mark trainrun's jobs, so that Lookup finds a job whose id was
// not recorded.
const (
	runComment   = "trainrun run "
	batchComment = "trainrun batch "
)

// jobArgs are the sbatch options for one job or array of runs that share
// resources and timeout.
type jobArgs struct {
	Name, Comment, Output string
	Resources             providers.Resources
	Timeout               time.Duration
	Tasks, MaxConcurrent  int // Tasks > 0: a job array of that many tasks
}

// sbatchArgv returns the whole sbatch command line: trainrun's options,
// then the compute's sbatch_args (which may override them), then the script.
func (c *Compute) sbatchArgv(j jobArgs, scriptPath string) []string {
	a := []string{"sbatch", "--parsable",
		"--job-name=" + jobName(j.Name),
		"--comment=" + j.Comment,
		"--output=" + j.Output,
		"--open-mode=append",
	}
	o := c.o
	if o.Partition != "" {
		a = append(a, "--partition="+o.Partition)
	}
	if o.Account != "" {
		a = append(a, "--account="+o.Account)
	}
	if o.QOS != "" {
		a = append(a, "--qos="+o.QOS)
	}
	r := j.Resources
	if r.Nodes > 1 {
		a = append(a, "--nodes="+strconv.Itoa(r.Nodes), "--ntasks-per-node=1")
	} else {
		a = append(a, "--nodes=1")
	}
	if r.CPUs > 0 {
		a = append(a, "--cpus-per-task="+strconv.Itoa(r.CPUs))
	}
	if r.Memory > 0 {
		const mib = 1 << 20
		a = append(a, "--mem="+strconv.FormatInt((r.Memory+mib-1)/mib, 10)+"M")
	}
	if r.GPUs > 0 {
		a = append(a, "--gres=gpu:"+strconv.Itoa(r.GPUs))
	}
	if j.Timeout > 0 {
		a = append(a, "--time="+strconv.FormatInt(timeLimit(j.Timeout), 10))
	}
	if o.Requeue {
		a = append(a, "--requeue")
	} else {
		a = append(a, "--no-requeue")
	}
	if o.Signal.Name != "" {
		a = append(a, fmt.Sprintf("--signal=B:%s@%d", o.Signal.Name, o.Signal.Seconds))
	}
	// sbatch runs with only what a local run inherits (sbatchEnv), and
	// the job gets all of that: not the login shell's whole environment.
	// (A list of names would make Slurm load the user's login
	// environment on the node instead: --get-user-env.)
	a = append(a, "--export=ALL")
	if j.Tasks > 0 {
		arr := "--array=0-" + strconv.Itoa(j.Tasks-1)
		if j.MaxConcurrent > 0 && j.MaxConcurrent < j.Tasks {
			arr += "%" + strconv.Itoa(j.MaxConcurrent)
		}
		a = append(a, arr)
	}
	a = append(a, o.SbatchArgs...)
	return append(a, scriptPath)
}

// sbatchEnv runs "$@" (sbatch and its arguments) with only the variables
// a local run inherits (runner.InheritedPattern) and those that configure
// sbatch itself (SBATCH_*, SLURM_CONF), so that its --export=ALL gives the
// job the same environment a local run gets, whatever the login shell
// sets (OPENBLAS_CORETYPE, OMP_NUM_THREADS, …).
var sbatchEnv = `for n in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
	case $n in ` + runner.InheritedPattern() + `|SBATCH_*|SLURM_CONF) ;; *) command unset "$n" 2>/dev/null ;; esac
done
exec "$@"
`

// timeLimit is the job's --time in minutes: the run's timeout, which its
// wrapper enforces to the second, plus the wrapper's grace period, rounded
// up, plus one minute, so that Slurm's limit (checked about once a minute)
// is only a backstop and the run records its own exit code.
func timeLimit(timeout time.Duration) int64 {
	d := timeout + killGrace
	return int64((d+time.Minute-1)/time.Minute) + 1
}

// parseJobID reads sbatch --parsable's answer: "ID" or "ID;CLUSTER".
func parseJobID(out []byte) (string, error) {
	s := strings.TrimSpace(string(out))
	id, _, _ := strings.Cut(s, ";")
	if id == "" || strings.Trim(id, "0123456789") != "" {
		return "", fmt.Errorf("sbatch printed %q, not a job id", s)
	}
	return id, nil
}
