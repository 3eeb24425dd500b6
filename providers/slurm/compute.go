package slurm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/providers/runner"
)

// Options describe a Slurm compute.
type Options struct {
	Name string // the compute's name, recorded in handles
	// Host is recorded in handles: the login compute's name, "" for this
	// machine.
	Host string
	// Exec reaches the login node; when nil, Login is called once to get
	// it, when first needed.
	Exec  executor.Executor
	Login func(ctx context.Context) (executor.Executor, error)
	// Workdir is an absolute path on the login node, on a filesystem the
	// compute nodes share: runs live in Workdir/runs/RUN_ID, job arrays'
	// files in Workdir/batches/ID. "" allows only following recorded runs.
	Workdir                 string
	Partition, Account, QOS string
	Requeue                 bool
	Signal                  Signal // forwarded to the run; zero: none
	SbatchArgs, Setup       []string
	MaxRuns                 int // < 1: no bound but Slurm's
	GPUs                    int // < 0: no bound but Slurm's
	// PollMin and PollMax bound the interval between two squeue calls
	// while runs are waited on: it grows from PollMin while nothing
	// changes. Defaults: 200 ms and 5 s.
	PollMin, PollMax time.Duration
}

// unbounded is what Slots and GPUs say when nothing bounds them but Slurm.
const unbounded = 1 << 10

// Compute runs runs as Slurm batch jobs. Its methods may be called from
// several goroutines at once.
type Compute struct {
	o Options

	execMu sync.Mutex
	exec   executor.Executor
	files  *runner.Compute // the runner's collection, over the same executor

	tr *tracker

	// multiNode starts every run through srun, as runs of several nodes
	// are (tests on a one-node cluster).
	multiNode bool
	maxArray  int // tasks per job array; 0 until asked (under execMu)
}

var (
	_ providers.Compute         = (*Compute)(nil)
	_ providers.BatchSubmitter  = (*Compute)(nil)
	_ providers.Finder          = (*Compute)(nil)
	_ providers.EnvironmentHost = (*Compute)(nil)
	_ providers.Checkpointer    = (*Compute)(nil)
	_ providers.Pinger          = (*Compute)(nil)
)

// New returns a compute over o.
func New(o Options) *Compute {
	if o.PollMin <= 0 {
		o.PollMin = 200 * time.Millisecond
	}
	if o.PollMax < o.PollMin {
		o.PollMax = max(5*time.Second, o.PollMin)
	}
	c := &Compute{o: o}
	c.tr = newTracker(c)
	return c
}

// executor returns the login node's executor, reaching it on first use.
func (c *Compute) executor(ctx context.Context) (executor.Executor, error) {
	c.execMu.Lock()
	defer c.execMu.Unlock()
	if c.exec != nil {
		return c.exec, nil
	}
	e := c.o.Exec
	if e == nil {
		if c.o.Login == nil {
			return nil, fmt.Errorf("compute %q has no login node", c.o.Name)
		}
		var err error
		if e, err = c.o.Login(ctx); err != nil {
			return nil, err
		}
	}
	c.exec = e
	c.files = runner.New(runner.Options{Name: c.o.Name, Kind: "slurm", Host: c.o.Host, Exec: e, Workdir: c.o.Workdir, GPUs: 0})
	return e, nil
}

func (c *Compute) Slots() int {
	if c.o.MaxRuns > 0 {
		return c.o.MaxRuns
	}
	return unbounded
}

func (c *Compute) GPUs(ctx context.Context) int {
	if c.o.GPUs >= 0 {
		return c.o.GPUs
	}
	return unbounded
}

func (c *Compute) Close() error { return nil }

// EnvironmentMachine says where environments live: Workdir/envs on the
// login node, which the compute nodes share (providers.EnvironmentHost).
func (c *Compute) EnvironmentMachine(ctx context.Context) (providers.Machine, string) {
	e, err := c.executor(ctx)
	if err != nil {
		return brokenMachine{err}, ""
	}
	return e, path.Join(c.o.Workdir, "envs")
}

// brokenMachine is the machine of a compute whose login node cannot be
// reached: every call says why.
type brokenMachine struct{ err error }

func (m brokenMachine) Run(context.Context, []string, io.Reader) ([]byte, error) { return nil, m.err }
func (m brokenMachine) ReadFile(context.Context, string) ([]byte, error)         { return nil, m.err }
func (m brokenMachine) WriteFile(context.Context, string, []byte, os.FileMode) error {
	return m.err
}
func (m brokenMachine) Mkdir(context.Context, string, os.FileMode) error { return m.err }
func (m brokenMachine) RemoveAll(context.Context, string) error          { return m.err }
func (m brokenMachine) Put(context.Context, string, []providers.File) error {
	return m.err
}

// runDir returns the directory of run id, refusing ids that are not one
// path element.
func (c *Compute) runDir(id string) (string, error) {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00\n") {
		return "", fmt.Errorf("run id %q cannot name a directory", id)
	}
	if c.o.Workdir == "" {
		return "", fmt.Errorf("compute %q has no workdir", c.o.Name)
	}
	return path.Join(c.o.Workdir, "runs", id), nil
}

// Submit makes the run's directory and submits one batch job for it. A run
// directory that already exists is an error (matching fs.ErrExist).
func (c *Compute) Submit(ctx context.Context, spec *providers.RunSpec) (providers.Handle, error) {
	e, err := c.executor(ctx)
	if err != nil {
		return providers.Handle{}, err
	}
	dir, err := c.runDir(spec.RunID)
	if err != nil {
		return providers.Handle{}, err
	}
	if err := e.Mkdir(ctx, dir, 0o700); err != nil {
		return providers.Handle{}, fmt.Errorf("create run directory: %w", err)
	}
	h, err := c.submitOne(ctx, e, spec, dir)
	if err != nil {
		// Nothing was submitted: leave no directory that would block a
		// second Submit.
		_ = e.RemoveAll(context.WithoutCancel(ctx), dir)
		return providers.Handle{}, err
	}
	return h, nil
}

func (c *Compute) submitOne(ctx context.Context, e executor.Executor, spec *providers.RunSpec, dir string) (providers.Handle, error) {
	if err := c.prepare(ctx, e, spec, dir); err != nil {
		return providers.Handle{}, err
	}
	wrapper, err := c.files.Wrapper(ctx)
	if err != nil {
		return providers.Handle{}, err
	}
	s := script{RunDir: dir, Title: "trainrun job of run " + spec.RunID + ": " + spec.Address,
		Setup: c.o.Setup, Signal: c.o.Signal.Name, MultiNode: c.multiNode || spec.Resources.Nodes > 1, Wrapper: wrapper}
	scriptPath := path.Join(dir, scriptFile)
	if err := e.WriteFile(ctx, scriptPath, []byte(s.text()), 0o700); err != nil {
		return providers.Handle{}, err
	}
	// The comment names this submission alone (a retry's job has the
	// same run id), for Lookup to find it in the queue.
	nonce, err := randomHex(6)
	if err != nil {
		return providers.Handle{}, err
	}
	comment := runComment + spec.RunID + " " + nonce
	if err := e.WriteFile(ctx, path.Join(dir, commentFile), []byte(comment+"\n"), 0o644); err != nil {
		return providers.Handle{}, err
	}
	argv := c.sbatchArgv(jobArgs{Name: spec.Address, Comment: comment,
		Output: outputPattern(path.Join(dir, executor.LogFile)), Resources: spec.Resources, Timeout: spec.Timeout}, scriptPath)
	started := time.Now()
	id, err := c.sbatch(ctx, e, argv)
	if err != nil {
		return providers.Handle{}, err
	}
	// Submitted: from here on the run exists, whatever else fails.
	_ = e.WriteFile(context.WithoutCancel(ctx), path.Join(dir, jobIDFile), []byte(id+"\n"), 0o644)
	c.tr.submitted()
	return c.handle(id, dir, started), nil
}

func (c *Compute) handle(id, dir string, started time.Time) providers.Handle {
	return providers.Handle{Compute: c.o.Name, Kind: "slurm", ID: id, Dir: dir, Host: c.o.Host, StartedAt: started}
}

// sbatch submits and returns the job id.
func (c *Compute) sbatch(ctx context.Context, e executor.Executor, argv []string) (string, error) {
	out, err := e.Run(ctx, append([]string{"sh", "-c", sbatchEnv, "sh"}, argv...), nil)
	if controllerDown(err) {
		return "", c.controllerError(err)
	}
	if err != nil {
		return "", fmt.Errorf("sbatch: %w", err)
	}
	return parseJobID(out)
}

// ControllerError says a compute's Slurm controller did not answer.
type ControllerError struct {
	Compute string
	Detail  string // what the Slurm command said
}

func (e *ControllerError) Error() string {
	return fmt.Sprintf("the Slurm controller of compute %q does not answer (%s)", e.Compute, e.Detail)
}

// controllerError makes err, a Slurm command's failure to reach
// slurmctld, one line that says so.
func (c *Compute) controllerError(err error) error {
	msg := firstLine(err.Error())
	if i := strings.LastIndex(msg, "error: "); i >= 0 {
		msg = msg[i+len("error: "):]
	}
	return &ControllerError{Compute: c.o.Name, Detail: msg}
}

// pingTimeout bounds Ping.
const pingTimeout = 30 * time.Second

// Ping asks slurmctld whether it is up (providers.Pinger).
func (c *Compute) Ping(ctx context.Context) error {
	e, err := c.executor(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	out, err := e.Run(ctx, []string{"scontrol", "ping"}, nil)
	switch {
	case err != nil && !controllerDown(err) && !strings.Contains(string(out), "DOWN"):
		return fmt.Errorf("compute %q: scontrol ping: %w", c.o.Name, err)
	case err != nil || !strings.Contains(string(out), " UP"):
		detail := strings.TrimSpace(string(out))
		if err != nil && detail == "" {
			return c.controllerError(err)
		}
		return &ControllerError{Compute: c.o.Name, Detail: "scontrol ping: " + firstLine(detail)}
	}
	return nil
}

// prepare materializes a run directory: the source snapshot, the inputs,
// an empty log, outputs/ and job.env.
func (c *Compute) prepare(ctx context.Context, e executor.Executor, spec *providers.RunSpec, dir string) error {
	argv, err := runner.Command(spec)
	if err != nil {
		return err
	}
	src := path.Join(dir, srcDir)
	if err := e.Mkdir(ctx, src, 0o755); err != nil {
		return err
	}
	if err := e.Put(ctx, src, spec.Files); err != nil {
		return err
	}
	if err := e.Mkdir(ctx, path.Join(dir, outputsDir), 0o755); err != nil {
		return err
	}
	if err := e.WriteFile(ctx, path.Join(dir, executor.LogFile), nil, 0o644); err != nil {
		return err
	}
	inputs, err := runner.PutInputs(ctx, e, spec.Inputs, dir)
	if err != nil {
		return err
	}
	checkpoint := ""
	if spec.Checkpoint != "" {
		if checkpoint, err = runner.CheckpointDir(c.o.Workdir, spec.Checkpoint); err != nil {
			return err
		}
	}
	env, prepend := runEnv(spec, dir, checkpoint, inputs)
	if spec.Launcher != nil {
		names := make([]string, 0, len(env)+4)
		for k := range env {
			if k != "CUDA_VISIBLE_DEVICES" {
				names = append(names, k)
			}
		}
		names = append(names, "TRAINRUN_ATTEMPT")
		if c.multiNode || spec.Resources.Nodes > 1 {
			names = append(names, "TRAINRUN_NODE_RANK", "TRAINRUN_NUM_NODES", "MASTER_ADDR", "MASTER_PORT")
		}
		sort.Strings(names)
		names = slices.Compact(names)
		mounts := make([]string, len(inputs))
		for i, n := range inputs {
			mounts[i] = path.Join(dir, "inputs", n)
		}
		argv, err = spec.Launcher.Launch(providers.Launch{RunDir: dir, WorkDir: src, Argv: argv, Env: names, Mounts: mounts})
		if err != nil {
			return err
		}
	}
	data, err := envFileContent(spec, env, prepend, argv)
	if err != nil {
		return err
	}
	// 0600: the environment may hold secrets.
	return e.WriteFile(ctx, path.Join(dir, envFile), data, 0o600)
}

// maxPrepare bounds how many run directories of a batch are made at once.
const maxPrepare = 8

// SubmitBatch submits the runs of b as job arrays: one per set of runs that
// share resources and timeout (usually one), so a sweep of any size is one
// sbatch call. It submits all of them or none.
func (c *Compute) SubmitBatch(ctx context.Context, b providers.Batch) ([]providers.Handle, error) {
	if len(b.Specs) == 0 {
		return nil, nil
	}
	e, err := c.executor(ctx)
	if err != nil {
		return nil, err
	}
	type key struct {
		r providers.Resources
		t time.Duration
	}
	groups := map[key][]int{}
	var order []key
	for i, s := range b.Specs {
		k := key{s.Resources, s.Timeout}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	handles := make([]providers.Handle, len(b.Specs))
	var jobs []string // arrays submitted so far
	var dirs []string
	maxTasks := c.maxArraySize(ctx, e)
	for _, k := range order {
		idx := groups[k]
		for start := 0; start < len(idx); start += maxTasks {
			chunk := idx[start:min(start+maxTasks, len(idx))]
			specs := make([]*providers.RunSpec, len(chunk))
			for j, i := range chunk {
				specs[j] = b.Specs[i]
			}
			hs, err := c.submitArray(ctx, e, b, specs)
			if err != nil {
				// All or none: take back the arrays already submitted.
				bg := context.WithoutCancel(ctx)
				if len(jobs) > 0 {
					_, _ = e.Run(bg, append([]string{"scancel"}, jobs...), nil)
				}
				for _, d := range dirs {
					_ = e.RemoveAll(bg, d)
				}
				return nil, err
			}
			jobs = append(jobs, baseID(hs[0].ID))
			for j, i := range chunk {
				handles[i] = hs[j]
				dirs = append(dirs, hs[j].Dir)
			}
		}
	}
	return handles, nil
}

// maxArraySize is how many tasks one job array may have: the cluster's
// MaxArraySize (asked once; 1001, Slurm's default, when it cannot be
// read). A larger sweep is several arrays.
func (c *Compute) maxArraySize(ctx context.Context, e executor.Executor) int {
	c.execMu.Lock()
	defer c.execMu.Unlock()
	if c.maxArray > 0 {
		return c.maxArray
	}
	c.maxArray = 1001
	out, err := e.Run(ctx, []string{"scontrol", "show", "config"}, nil)
	if err != nil {
		return c.maxArray
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "MaxArraySize" {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				c.maxArray = n
			}
		}
	}
	return c.maxArray
}

func (c *Compute) submitArray(ctx context.Context, e executor.Executor, b providers.Batch, specs []*providers.RunSpec) ([]providers.Handle, error) {
	if c.o.Workdir == "" {
		return nil, fmt.Errorf("compute %q has no workdir", c.o.Name)
	}
	id, err := newBatchID()
	if err != nil {
		return nil, err
	}
	bdir := path.Join(c.o.Workdir, "batches", id)
	dirs := make([]string, len(specs))
	for i, s := range specs {
		if dirs[i], err = c.runDir(s.RunID); err != nil {
			return nil, err
		}
	}
	made := make([]bool, len(specs))
	cleanup := func() {
		bg := context.WithoutCancel(ctx)
		for i, ok := range made {
			if ok {
				_ = e.RemoveAll(bg, dirs[i])
			}
		}
		_ = e.RemoveAll(bg, bdir)
	}
	if err := e.Mkdir(ctx, bdir, 0o700); err != nil {
		return nil, fmt.Errorf("create batch directory: %w", err)
	}
	if err := e.Mkdir(ctx, path.Join(bdir, outDir), 0o700); err != nil {
		cleanup()
		return nil, err
	}
	p := pool.New().WithErrors().WithContext(ctx).WithMaxGoroutines(maxPrepare).WithCancelOnError()
	for i, s := range specs {
		p.Go(func(ctx context.Context) error {
			if err := e.Mkdir(ctx, dirs[i], 0o700); err != nil {
				return fmt.Errorf("create run directory: %w", err)
			}
			made[i] = true
			if err := c.prepare(ctx, e, s, dirs[i]); err != nil {
				return fmt.Errorf("run %s: %w", s.RunID, err)
			}
			return e.WriteFile(ctx, path.Join(dirs[i], batchFile), []byte(id+" "+strconv.Itoa(i)+"\n"), 0o644)
		})
	}
	if err := p.Wait(); err != nil {
		cleanup()
		return nil, err
	}
	var tasks strings.Builder
	multi := c.multiNode
	for i, d := range dirs {
		tasks.WriteString(d + "\n")
		multi = multi || specs[i].Resources.Nodes > 1
	}
	if err := e.WriteFile(ctx, path.Join(bdir, tasksFile), []byte(tasks.String()), 0o644); err != nil {
		cleanup()
		return nil, err
	}
	wrapper, err := c.files.Wrapper(ctx)
	if err != nil {
		cleanup()
		return nil, err
	}
	s := script{BatchDir: bdir, Title: fmt.Sprintf("trainrun job array %s: %s of experiment.%s", id, plural.Count(len(specs), "run"), b.Experiment),
		Setup: c.o.Setup, Signal: c.o.Signal.Name, MultiNode: multi, Wrapper: wrapper}
	scriptPath := path.Join(bdir, scriptFile)
	if err := e.WriteFile(ctx, scriptPath, []byte(s.text()), 0o700); err != nil {
		cleanup()
		return nil, err
	}
	throttle := b.MaxConcurrent
	if c.o.MaxRuns > 0 && (throttle <= 0 || c.o.MaxRuns < throttle) {
		throttle = c.o.MaxRuns
	}
	argv := c.sbatchArgv(jobArgs{Name: "experiment." + b.Experiment, Comment: batchComment + id,
		Output: outputPattern(path.Join(bdir, outDir)) + "/%a", Resources: specs[0].Resources, Timeout: specs[0].Timeout,
		Tasks: len(specs), MaxConcurrent: throttle}, scriptPath)
	started := time.Now()
	job, err := c.sbatch(ctx, e, argv)
	if err != nil {
		cleanup()
		return nil, err
	}
	_ = e.WriteFile(context.WithoutCancel(ctx), path.Join(bdir, jobIDFile), []byte(job+"\n"), 0o644)
	c.tr.submitted()
	hs := make([]providers.Handle, len(specs))
	for i := range specs {
		hs[i] = c.handle(job+"_"+strconv.Itoa(i), dirs[i], started)
	}
	return hs, nil
}

// outputPattern escapes p for sbatch --output, which expands %j, %a and
// the like: "%%" is a "%".
func outputPattern(p string) string { return strings.ReplaceAll(p, "%", "%%") }

func newBatchID() (string, error) {
	r, err := randomHex(6)
	return time.Now().UTC().Format("20060102-150405-") + r, err
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Collect copies the run's log, metrics and outputs from its directory on
// the shared filesystem, as every runner does.
func (c *Compute) Collect(ctx context.Context, h providers.Handle, spec *providers.RunSpec, dst string, outputs bool) error {
	if _, err := c.executor(ctx); err != nil {
		return err
	}
	return c.files.Collect(ctx, h, spec, dst, outputs)
}

// Remove deletes the run's directory, and the files of its job array once
// no run of the array is left. A live run is refused: cancel it first.
func (c *Compute) Remove(ctx context.Context, h providers.Handle) error {
	if err := runner.CheckRunDir(h.Dir); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	e, err := c.executor(ctx)
	if err != nil {
		return err
	}
	info, err := c.query(ctx, h.ID)
	if err != nil {
		return fmt.Errorf("remove %s: %w", h.Dir, err)
	}
	if info.known && !c.final(info.state) {
		return fmt.Errorf("remove %s: job %s is %s; cancel it first", h.Dir, h.ID, info.state)
	}
	batch, _ := e.ReadFile(ctx, path.Join(h.Dir, batchFile))
	if err := e.RemoveAll(ctx, h.Dir); err != nil {
		return fmt.Errorf("remove %s: %w", h.Dir, err)
	}
	if id, idx, ok := parseBatchFile(batch); ok {
		bdir := path.Join(path.Dir(path.Dir(h.Dir)), "batches", id)
		if _, err := e.Run(ctx, []string{"sh", "-c", cleanBatch, "trainrun-clean", bdir, strconv.Itoa(idx)}, nil); err != nil {
			return fmt.Errorf("remove %s: %w", bdir, err)
		}
	}
	return nil
}

// cleanBatch removes task $2's output from batch directory $1, and the
// whole batch directory once none of its runs' directories is left.
const cleanBatch = `batch=$1
rm -f -- "$batch/out/$2"
[ -r "$batch/tasks" ] || exit 0
while IFS= read -r d; do
	[ -e "$d" ] && exit 0
done <"$batch/tasks"
rm -rf -- "$batch"
`

// parseBatchFile parses "BATCH INDEX".
func parseBatchFile(data []byte) (id string, idx int, ok bool) {
	id, n, found := strings.Cut(strings.TrimSpace(string(data)), " ")
	if !found || id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return "", 0, false
	}
	idx, err := strconv.Atoi(n)
	if err != nil || idx < 0 {
		return "", 0, false
	}
	return id, idx, true
}

// Lookup finds a run submitted by an earlier trainrun process that died
// before it recorded the handle (providers.Finder): by the job id the run
// directory holds (written after sbatch, and by the job when it starts),
// else by the comment of a queued job. found is false when the run was
// never submitted; a directory it left half made is then removed.
func (c *Compute) Lookup(ctx context.Context, runID string) (providers.Handle, bool, error) {
	dir, err := c.runDir(runID)
	if err != nil {
		return providers.Handle{}, false, err
	}
	e, err := c.executor(ctx)
	if err != nil {
		return providers.Handle{}, false, err
	}
	if _, err := e.ReadFile(ctx, path.Join(dir, envFile)); errors.Is(err, fs.ErrNotExist) {
		// job.env is written before any sbatch: without it, nothing was
		// submitted (a directory without it is half made).
		if err := e.RemoveAll(ctx, dir); err != nil {
			return providers.Handle{}, false, fmt.Errorf("remove run directory that was never submitted: %w", err)
		}
		return providers.Handle{}, false, nil
	} else if err != nil {
		return providers.Handle{}, false, err
	}
	if data, err := e.ReadFile(ctx, path.Join(dir, jobIDFile)); err == nil {
		if id := strings.TrimSpace(string(data)); validJobID(id) {
			return c.handle(id, dir, time.Time{}), true, nil
		}
	}
	comment, _ := e.ReadFile(ctx, path.Join(dir, commentFile))
	batch, _ := e.ReadFile(ctx, path.Join(dir, batchFile))
	bid, idx, inBatch := parseBatchFile(batch)
	if inBatch {
		data, err := e.ReadFile(ctx, path.Join(c.o.Workdir, "batches", bid, jobIDFile))
		if id := strings.TrimSpace(string(data)); err == nil && validJobID(id) {
			return c.handle(id+"_"+strconv.Itoa(idx), dir, time.Time{}), true, nil
		}
	}
	// Submitted, perhaps, with the job id never written down: ask Slurm.
	out, err := e.Run(ctx, []string{"squeue", "--me", "--noheader", "--array", "--states=all", "--format=%i|%k"}, nil)
	if err != nil {
		return providers.Handle{}, false, fmt.Errorf("squeue: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		id, got, ok := strings.Cut(strings.TrimSpace(line), "|")
		if !ok {
			continue
		}
		switch {
		case len(comment) > 0 && got == strings.TrimSpace(string(comment)):
			return c.handle(id, dir, time.Time{}), true, nil
		case inBatch && got == batchComment+bid && strings.HasSuffix(id, "_"+strconv.Itoa(idx)):
			return c.handle(id, dir, time.Time{}), true, nil
		}
	}
	// Never submitted (or submitted, never started, and forgotten by
	// Slurm): nothing runs it, and it may be submitted again.
	if err := e.RemoveAll(ctx, dir); err != nil {
		return providers.Handle{}, false, fmt.Errorf("remove run directory that was never submitted: %w", err)
	}
	return providers.Handle{}, false, nil
}

// validJobID accepts "123" and "123_4".
func validJobID(id string) bool {
	base, task, isTask := strings.Cut(id, "_")
	digits := func(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
	return digits(base) && (!isTask || digits(task))
}

// CopiesInputs reports that runs get copies of their inputs in their
// directories, where the compute nodes see them.
func (c *Compute) CopiesInputs() bool { return true }

// InputFiles hashes the copies of run h's inputs; see
// providers.InputCopier.
func (c *Compute) InputFiles(ctx context.Context, h providers.Handle) (map[string][]providers.File, error) {
	if err := runner.CheckRunDir(h.Dir); err != nil {
		return nil, err
	}
	e, err := c.executor(ctx)
	if err != nil {
		return nil, err
	}
	return runner.InputFiles(ctx, e, h.Dir)
}

// DirSize is how much disk the run's directory takes on the cluster's
// shared file system (providers.DirSizer).
func (c *Compute) DirSize(ctx context.Context, h providers.Handle) (int64, error) {
	if err := runner.CheckRunDir(h.Dir); err != nil {
		return 0, err
	}
	e, err := c.executor(ctx)
	if err != nil {
		return 0, err
	}
	return executor.DiskUsage(ctx, e, h.Dir)
}

// Checkpoints lists the checkpoint directories in the workdir
// (providers.Checkpointer).
func (c *Compute) Checkpoints(ctx context.Context) ([]string, error) {
	e, err := c.executor(ctx)
	if err != nil {
		return nil, err
	}
	return runner.ListCheckpoints(ctx, e, c.o.Workdir)
}

// RemoveCheckpoint removes the checkpoint directory of key
// (providers.Checkpointer).
func (c *Compute) RemoveCheckpoint(ctx context.Context, key string) error {
	if _, err := c.executor(ctx); err != nil {
		return err
	}
	return c.files.RemoveCheckpoint(ctx, key)
}
