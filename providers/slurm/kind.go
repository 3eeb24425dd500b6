package slurm

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/providers/runner"
)

// Kind returns the "slurm" compute kind.
func Kind() providers.ComputeKind { return kind{} }

type kind struct{}

// DefaultSignal is sent to a requeueable run's batch shell 90 s before its
// time limit (and at preemption where the cluster is configured to), and
// forwarded to the run: USR2, since NCCL catches USR1.
const DefaultSignal = "USR2@90"

func (kind) Schema() providers.Schema {
	return providers.Schema{Attrs: []providers.Attr{
		{Name: "login", Type: cty.String, Ref: "compute", Doc: "The compute whose machine runs sbatch, squeue and scancel (an ssh compute: the cluster's login node). Default: this machine."},
		{Name: "workdir", Type: cty.String, Required: true, Doc: "Where run directories are made, on a filesystem the compute nodes share. Absolute when login is set; otherwise relative paths are relative to the working directory."},
		{Name: "partition", Type: cty.String, Doc: "sbatch --partition. Default: the cluster's default partition."},
		{Name: "account", Type: cty.String, Doc: "sbatch --account."},
		{Name: "qos", Type: cty.String, Doc: "sbatch --qos."},
		{Name: "requeue", Type: cty.Bool, Doc: "Preempted jobs, and jobs of failed nodes, are requeued (sbatch --requeue) and sent signal first; each start counts as an attempt. Default: false (--no-requeue)."},
		{Name: "signal", Type: cty.String, Doc: `Signal sent to the run before its time limit, as SIG@SECONDS (sbatch --signal=B:SIG@SECONDS, forwarded to the run's processes). Default with requeue: "` + DefaultSignal + `".`},
		{Name: "sbatch_args", Type: cty.List(cty.String), Doc: "Further sbatch options, passed as they are (each one argument), after trainrun's own."},
		{Name: "setup", Type: cty.List(cty.String), Doc: "Shell lines the job runs before the command, such as module load cuda/12.1; a line that fails fails the run."},
		{Name: "max_runs", Type: cty.Number, Doc: "How many of this compute's runs may run at once; a job array's throttle (%N) too. Default: as many as Slurm gives."},
		{Name: "gpus", Type: cty.Number, Doc: "How many GPUs this compute's runs may hold at once. Default: as many as Slurm gives."},
	}}
}

func (kind) Validate(v providers.Values) []providers.Problem {
	_, problems := decode(v)
	return problems
}

// settings are the decoded attributes; -1 means "not set" for counts.
type settings struct {
	login, workdir          string
	partition, account, qos string
	requeue                 bool
	signal                  Signal
	sbatchArgs, setup       []string
	maxRuns, gpus           int
	signalSet               bool
}

// Signal is what sbatch --signal=B:NAME@SECONDS says.
type Signal struct {
	Name    string // "USR2"; "" for none
	Seconds int
}

func decode(v providers.Values) (settings, []providers.Problem) {
	s := settings{maxRuns: -1, gpus: -1}
	var problems []providers.Problem
	bad := func(attr, detail string) {
		problems = append(problems, providers.Problem{Attr: attr, Summary: "Invalid " + attr, Detail: detail})
	}
	str := func(name string, dst *string) {
		val, ok := get(v, name)
		if !ok {
			return
		}
		val, err := convert.Convert(val, cty.String)
		if err != nil || val.IsNull() {
			bad(name, name+" must be a string.")
			return
		}
		*dst = val.AsString()
		if *dst == "" || strings.ContainsAny(*dst, "\x00\n\r") {
			bad(name, name+" must be a non-empty string on one line.")
		}
	}
	str("login", &s.login)
	str("workdir", &s.workdir)
	str("partition", &s.partition)
	str("account", &s.account)
	str("qos", &s.qos)
	if strings.IndexByte(s.workdir, '\\') >= 0 {
		bad("workdir", "workdir cannot contain a backslash: sbatch takes it for an escape in the job's output file name.")
	}
	if s.login != "" && s.workdir != "" && !path.IsAbs(s.workdir) {
		bad("workdir", "workdir must be an absolute path on the login node, such as /shared/trainrun, when login is set.")
	}
	if val, ok := get(v, "requeue"); ok {
		if b, err := convert.Convert(val, cty.Bool); err != nil || b.IsNull() {
			bad("requeue", "requeue must be true or false.")
		} else {
			s.requeue = b.True()
		}
	}
	var sig string
	str("signal", &sig)
	if sig != "" {
		parsed, err := parseSignal(sig)
		if err != nil {
			bad("signal", err.Error())
		}
		s.signal, s.signalSet = parsed, true
	}
	list := func(name string, dst *[]string) {
		val, ok := get(v, name)
		if !ok {
			return
		}
		val, err := convert.Convert(val, cty.List(cty.String))
		if err != nil || val.IsNull() || !val.IsWhollyKnown() {
			bad(name, name+" must be a list of strings.")
			return
		}
		for _, e := range val.AsValueSlice() {
			if e.IsNull() {
				bad(name, name+" cannot hold null.")
				return
			}
			x := e.AsString()
			if strings.IndexByte(x, 0) >= 0 {
				bad(name, name+" cannot hold a NUL byte.")
				return
			}
			*dst = append(*dst, x)
		}
	}
	list("sbatch_args", &s.sbatchArgs)
	list("setup", &s.setup)
	for _, a := range s.sbatchArgs {
		if why := reservedOption(a); why != "" {
			bad("sbatch_args", why)
		}
	}
	if n, p := runner.Count(v, "max_runs", 1, runner.MaxCount); p != nil {
		problems = append(problems, *p)
	} else {
		s.maxRuns = n
	}
	if n, p := runner.Count(v, "gpus", 0, runner.MaxCount); p != nil {
		problems = append(problems, *p)
	} else {
		s.gpus = n
	}
	return s, problems
}

// get returns a set, known, non-null attribute, unmarked.
func get(v providers.Values, name string) (cty.Value, bool) {
	val, ok := v[name]
	if !ok || !val.IsWhollyKnown() || val.IsNull() {
		return cty.NilVal, false
	}
	val, _ = val.UnmarkDeep() // a value derived from a sensitive variable
	return val, true
}

// reservedOption says why a sbatch option cannot be passed through: it
// would break how trainrun finds, tracks or logs the job.
func reservedOption(a string) string {
	name, _, _ := strings.Cut(a, "=")
	switch name {
	case "--array", "-a":
		return "sbatch_args cannot set --array: trainrun makes job arrays of sweeps itself (max_concurrent is the throttle)."
	case "--output", "-o", "--error", "-e", "--open-mode":
		return "sbatch_args cannot set " + name + ": the job's output goes into the run's log, which trainrun reads."
	case "--parsable", "--wrap", "--wait", "-W", "--test-only", "--chdir", "-D":
		return "sbatch_args cannot set " + name + ": trainrun submits the run's own batch script and reads the job id sbatch prints."
	case "--export", "--export-file", "--get-user-env":
		return "sbatch_args cannot set " + name + ": a run sees the same environment on every compute, the few variables trainrun passes and its own env (where it is part of the fingerprint)."
	case "--job-name", "-J", "--comment":
		return "sbatch_args cannot set " + name + ": trainrun names each job after its run, to find it again."
	}
	return ""
}

// signalNumbers are the signals --signal may name that a run may want to
// catch, with their Linux numbers (a number is accepted too).
var signalNumbers = map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "USR1": 10, "USR2": 12, "ALRM": 14,
	"TERM": 15, "CONT": 18, "URG": 23, "XCPU": 24, "WINCH": 28, "PWR": 30}

// parseSignal parses [B:]SIG[@SECONDS]: a name, with or without SIG, or a
// number. SECONDS defaults to 60, as in sbatch; at most 65535.
func parseSignal(s string) (Signal, error) {
	name, secs, hasSecs := strings.Cut(strings.TrimPrefix(s, "B:"), "@")
	name = strings.TrimPrefix(strings.ToUpper(name), "SIG")
	if n, err := strconv.Atoi(name); err == nil {
		for k, num := range signalNumbers {
			if num == n {
				name = k
			}
		}
	}
	if _, ok := signalNumbers[name]; !ok {
		names := make([]string, 0, len(signalNumbers))
		for k := range signalNumbers {
			names = append(names, k)
		}
		sort.Strings(names)
		return Signal{}, fmt.Errorf("signal must be SIGNAL@SECONDS with a signal a run can catch (%s), such as %q.", strings.Join(names, ", "), DefaultSignal)
	}
	sig := Signal{Name: name, Seconds: 60}
	if hasSecs {
		n, err := strconv.Atoi(secs)
		if err != nil || n < 0 || n > 65535 {
			return Signal{}, fmt.Errorf("signal %q: the time after @ must be whole seconds from 0 to 65535.", s)
		}
		sig.Seconds = n
	}
	return sig, nil
}

// Open returns the compute. It contacts nothing: the login compute is
// opened when first needed. A compute opened without values (one that left
// the configuration) can still follow, cancel and collect recorded runs,
// through this machine.
func (kind) Open(name string, v providers.Values, env providers.Env) (providers.Compute, error) {
	s, problems := decode(v)
	if len(problems) > 0 {
		return nil, fmt.Errorf("compute %q: %s", name, problems[0].Detail)
	}
	if s.requeue && !s.signalSet {
		s.signal, _ = parseSignal(DefaultSignal)
	}
	o := Options{
		Name:       name,
		Partition:  s.partition,
		Account:    s.account,
		QOS:        s.qos,
		Requeue:    s.requeue,
		Signal:     s.signal,
		SbatchArgs: s.sbatchArgs,
		Setup:      s.setup,
		MaxRuns:    s.maxRuns,
		GPUs:       s.gpus,
	}
	if s.login == "" {
		o.Exec = executor.Local{}
		if s.workdir != "" {
			w, err := runner.ResolveWorkdir(s.workdir, env)
			if err != nil {
				return nil, fmt.Errorf("compute %q: %w", name, err)
			}
			o.Workdir = w
		}
	} else {
		o.Host = s.login
		o.Workdir = path.Clean(s.workdir)
		login, open := s.login, env.OpenCompute
		o.Login = func(ctx context.Context) (executor.Executor, error) {
			if open == nil {
				return nil, fmt.Errorf("login compute %q cannot be reached from here", login)
			}
			c, err := open(login)
			if err != nil {
				return nil, fmt.Errorf("login compute %q: %w", login, err)
			}
			return ExecutorOf(ctx, c, login)
		}
	}
	return New(o), nil
}

// ExecutorOf returns the executor that reaches the machine of compute c
// (named name, for errors): the machine it holds environments on
// (providers.EnvironmentHost) when that is an executor. Reaching it stops
// with ctx.
func ExecutorOf(ctx context.Context, c providers.Compute, name string) (executor.Executor, error) {
	why := errors.New("it reaches no machine that runs commands (use an ssh compute)")
	if h, ok := c.(providers.EnvironmentHost); ok {
		if m, _ := h.EnvironmentMachine(ctx); m != nil {
			if e, ok := m.(executor.Executor); ok {
				return e, nil
			}
			// A machine that cannot be reached says why.
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if _, err := m.Run(ctx, []string{"true"}, nil); err != nil {
				why = err
			}
		}
	}
	return nil, fmt.Errorf("compute %q cannot be a login node: %w", name, why)
}
