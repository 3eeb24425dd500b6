package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// Options describe a compute over an executor.
type Options struct {
	Name string // the compute's name, recorded in handles
	Kind string // recorded in handles: "local", …
	Host string // recorded in handles; "" for this machine
	Exec executor.Executor
	// Workdir is an absolute path on the machine; runs live in
	// Workdir/runs/RUN_ID.
	Workdir string
	MaxRuns int // ≥ 1
	GPUs    int // < 0: detect with nvidia-smi -L on first use
	// BaseEnv is what every run's environment starts from, before the
	// run's own env and the variables the compute sets.
	BaseEnv []string
	// KillGrace is how long a timed-out run has between TERM and KILL
	// (default 10 s); CancelGrace the same for a cancelled one (default 5 s).
	KillGrace, CancelGrace time.Duration
}

// Compute runs runs in directories of its workdir, each started detached
// through the executor's run wrapper. Its methods may be called from
// several goroutines at once.
type Compute struct {
	o Options

	gpuMu    sync.Mutex
	gpus     int
	gpusKnow bool // nvidia-smi was asked

	mu sync.Mutex
	// wrapper is the run wrapper's path once installed.
	wrapper string
	// started holds the runs this value started, by run directory, with
	// the executor's exit notification: Wait needs no polling for them.
	started map[string]executor.Process
}

var (
	_ providers.Compute      = (*Compute)(nil)
	_ providers.Checkpointer = (*Compute)(nil)
)

// New returns a compute over o.Exec.
func New(o Options) *Compute {
	if o.MaxRuns < 1 {
		o.MaxRuns = 1
	}
	if o.KillGrace <= 0 {
		o.KillGrace = 10 * time.Second
	}
	if o.CancelGrace <= 0 {
		o.CancelGrace = 5 * time.Second
	}
	return &Compute{o: o, started: make(map[string]executor.Process)}
}

// Files of a run directory besides the wrapper's (executor.LogFile, …).
const (
	srcDir        = "src"
	outputsDir    = "outputs"
	metricsFile   = "metrics.jsonl"
	cancelledFile = "cancelled"
)

func (c *Compute) Slots() int { return c.o.MaxRuns }

// GPUs returns the configured count or, when none was configured, the
// GPUs nvidia-smi lists (detected once; 0 without nvidia-smi). Asking
// stops with ctx, and is asked again next time.
func (c *Compute) GPUs(ctx context.Context) int {
	if c.o.GPUs >= 0 {
		return c.o.GPUs
	}
	c.gpuMu.Lock()
	defer c.gpuMu.Unlock()
	if c.gpusKnow {
		return c.gpus
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := c.o.Exec.Run(tctx, []string{"nvidia-smi", "-L"}, nil)
	if ctx.Err() != nil {
		return 0 // stopped: not known yet
	}
	c.gpusKnow = true
	if err != nil {
		return 0 // no nvidia-smi, or no working driver: no GPUs to schedule
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "GPU ") {
			c.gpus++
		}
	}
	return c.gpus
}

func (c *Compute) Close() error { return nil }

// runDir returns the directory of run id, refusing ids that are not one
// path element.
func (c *Compute) runDir(id string) (string, error) {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return "", fmt.Errorf("run id %q cannot name a directory", id)
	}
	return path.Join(c.o.Workdir, "runs", id), nil
}

// Submit materializes the run's directory and starts the run wrapper. A run
// directory that already exists is an error (matching fs.ErrExist): the
// run may be live, and Remove clears a finished one.
func (c *Compute) Submit(ctx context.Context, spec *providers.RunSpec) (providers.Handle, error) {
	argv, err := Command(spec)
	if err != nil {
		return providers.Handle{}, err
	}
	dir, err := c.runDir(spec.RunID)
	if err != nil {
		return providers.Handle{}, err
	}
	e := c.o.Exec
	// The log exists before the run, for a follower that opens it at
	// once; the metrics file is the run's to create.
	if err := executor.MakeDir(ctx, e, dir, 0o700, []string{srcDir, outputsDir}, []string{executor.LogFile}); err != nil {
		return providers.Handle{}, fmt.Errorf("create run directory: %w", err)
	}
	h, err := c.start(ctx, spec, dir, argv)
	if err != nil {
		// Nothing started: leave no directory behind that would block a
		// second Submit.
		_ = e.RemoveAll(context.WithoutCancel(ctx), dir)
		return providers.Handle{}, err
	}
	return h, nil
}

func (c *Compute) start(ctx context.Context, spec *providers.RunSpec, dir string, argv []string) (providers.Handle, error) {
	e := c.o.Exec
	src := path.Join(dir, srcDir)
	if err := e.Put(ctx, src, spec.Files); err != nil {
		return providers.Handle{}, err
	}
	inputs := spec.Inputs
	if c.CopiesInputs() {
		// The directories are on this machine, not on the compute's.
		names, err := PutInputs(ctx, e, spec.Inputs, dir)
		if err != nil {
			return providers.Handle{}, err
		}
		inputs = make(map[string]string, len(names))
		for _, n := range names {
			inputs[n] = path.Join(dir, inputsDir, n)
		}
	}
	env, err := c.env(ctx, spec, dir, inputs)
	if err != nil {
		return providers.Handle{}, err
	}
	if _, here := e.(executor.Local); here && spec.Checkpoint != "" {
		// Made here, the wrapper finds it and starts no mkdir: a process
		// less per run (every sweep point has a checkpoint directory of
		// its own). Elsewhere the wrapper makes it, saving a round trip.
		p, err := CheckpointDir(c.o.Workdir, spec.Checkpoint)
		if err != nil {
			return providers.Handle{}, err
		}
		if err := e.Mkdir(ctx, p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return providers.Handle{}, fmt.Errorf("make the checkpoint directory: %w", err)
		}
	}
	if spec.Launcher != nil {
		// The environment starts the command (a container); the wrapper
		// runs what it says, so a run is started one way on every compute.
		argv, err = spec.Launcher.Launch(providers.Launch{
			RunDir: dir, WorkDir: src, Argv: argv, Env: passedNames(spec), Mounts: inputDirs(inputs), GPUs: spec.GPUs,
		})
		if err != nil {
			return providers.Handle{}, err
		}
	}
	wrapper, err := c.Wrapper(ctx)
	if err != nil {
		return providers.Handle{}, err
	}
	started := time.Now()
	p, err := e.Start(ctx, dir, executor.WrapperArgv(wrapper, dir, spec.Timeout, c.o.KillGrace, argv), env)
	if err != nil {
		return providers.Handle{}, err
	}
	if p.Done != nil {
		c.mu.Lock()
		c.started[dir] = p
		c.mu.Unlock()
	}
	return providers.Handle{
		Compute:    c.o.Name,
		Kind:       c.o.Kind,
		ID:         strconv.Itoa(p.PID),
		Dir:        dir,
		Host:       c.o.Host,
		StartedAt:  started,
		StartTicks: p.StartTicks,
	}, nil
}

// Wrapper installs the run wrapper in Workdir/bin, once, and returns its
// path (see executor.InstallWrapper).
func (c *Compute) Wrapper(ctx context.Context) (string, error) {
	c.mu.Lock()
	w := c.wrapper
	c.mu.Unlock()
	if w != "" {
		return w, nil
	}
	w, err := executor.InstallWrapper(ctx, c.o.Exec, path.Join(c.o.Workdir, "bin"))
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.wrapper = w
	c.mu.Unlock()
	return w, nil
}

// Command returns the argv that spec runs: its command, or its shell line
// through sh -c. NUL bytes, which no argv can hold, are refused.
func Command(spec *providers.RunSpec) ([]string, error) {
	switch {
	case spec.Shell != "" && len(spec.Command) > 0:
		return nil, errors.New("run has both a command and a shell line")
	case spec.Shell != "":
		if strings.IndexByte(spec.Shell, 0) >= 0 {
			return nil, errors.New("the shell line contains a NUL byte")
		}
		return []string{"sh", "-c", spec.Shell}, nil
	case len(spec.Command) == 0 || spec.Command[0] == "":
		return nil, errors.New("run has no command")
	}
	for _, a := range spec.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("command argument %q contains a NUL byte", a)
		}
	}
	return spec.Command, nil
}

// env returns the run's environment: BaseEnv, then spec.Env, then what the
// compute owns (TRAINRUN_OUTPUTS_DIR, TRAINRUN_METRICS_FILE,
// TRAINRUN_INPUT_*, CUDA_VISIBLE_DEVICES), later ones winning.
func (c *Compute) env(ctx context.Context, spec *providers.RunSpec, dir string, inputs map[string]string) ([]string, error) {
	m := make(map[string]string, len(c.o.BaseEnv)+len(spec.Env)+4+len(inputs))
	for _, kv := range c.o.BaseEnv {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for k, v := range spec.Env {
		m[k] = v
	}
	m["TRAINRUN_OUTPUTS_DIR"] = path.Join(dir, outputsDir)
	m["TRAINRUN_METRICS_FILE"] = path.Join(dir, metricsFile)
	delete(m, providers.CheckpointVar) // the compute's, never the user's
	if spec.Checkpoint != "" {
		p, err := CheckpointDir(c.o.Workdir, spec.Checkpoint)
		if err != nil {
			return nil, err
		}
		m[providers.CheckpointVar] = p
	}
	for name, p := range inputs {
		m["TRAINRUN_INPUT_"+strings.ToUpper(name)] = p
	}
	if len(spec.GPUs) > 0 {
		ids := make([]string, len(spec.GPUs))
		for i, g := range spec.GPUs {
			ids[i] = strconv.Itoa(g)
		}
		m["CUDA_VISIBLE_DEVICES"] = strings.Join(ids, ",")
	} else if c.GPUs(ctx) > 0 {
		m["CUDA_VISIBLE_DEVICES"] = "" // asked for none: sees none
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("environment variable %q cannot be passed to a process", k)
		}
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, nil
}

// passedNames are the variables a launcher passes into the command's
// environment (a container's): the run's own and those the compute sets,
// not what the machine gives every process (PATH, HOME, …), nor
// CUDA_VISIBLE_DEVICES, since a launcher gives the GPUs themselves.
func passedNames(spec *providers.RunSpec) []string {
	names := []string{"TRAINRUN_OUTPUTS_DIR", "TRAINRUN_METRICS_FILE"}
	if spec.Checkpoint != "" {
		names = append(names, providers.CheckpointVar)
	}
	for k := range spec.Env {
		if k != providers.PathPrependVar && k != "CUDA_VISIBLE_DEVICES" && k != "TRAINRUN_OUTPUTS_DIR" && k != "TRAINRUN_METRICS_FILE" {
			names = append(names, k)
		}
	}
	for name := range spec.Inputs {
		names = append(names, "TRAINRUN_INPUT_"+strings.ToUpper(name))
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// inputDirs are the run's input directories, sorted.
func inputDirs(inputs map[string]string) []string {
	dirs := make([]string, 0, len(inputs))
	for _, d := range inputs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// CopiesInputs reports whether runs get copies of their inputs in their
// directories: on a machine other than this one, where the local
// directories of RunSpec.Inputs are not.
func (c *Compute) CopiesInputs() bool {
	_, here := c.o.Exec.(executor.Local)
	return !here
}

// InputFiles hashes the copies of run h's inputs; see
// providers.InputCopier.
func (c *Compute) InputFiles(ctx context.Context, h providers.Handle) (map[string][]providers.File, error) {
	if err := CheckRunDir(h.Dir); err != nil {
		return nil, err
	}
	return InputFiles(ctx, c.o.Exec, h.Dir)
}

// EnvironmentMachine says where environments live: Workdir/envs on the
// compute's machine (providers.EnvironmentHost).
func (c *Compute) EnvironmentMachine(ctx context.Context) (providers.Machine, string) {
	return c.o.Exec, path.Join(c.o.Workdir, "envs")
}

// pid returns the handle's process id.
func pid(h providers.Handle) (int, error) {
	n, err := strconv.Atoi(h.ID)
	if err != nil || n <= 0 || h.Dir == "" {
		return 0, fmt.Errorf("handle %q of %s is not a local run", h.ID, h.Dir)
	}
	return n, nil
}

// Poll says where the run is now.
func (c *Compute) Poll(ctx context.Context, h providers.Handle) (providers.Status, error) {
	p, err := pid(h)
	if err != nil {
		return providers.Status{}, err
	}
	alive, err := c.o.Exec.Alive(ctx, p, h.StartTicks)
	if err != nil {
		return providers.Status{}, err
	}
	return c.status(ctx, h, alive)
}

// Wait waits for a run this value started on the executor's notification,
// and for any other (started by an earlier trainrun) by polling whether its
// wrapper is alive, from every 20 ms up to every second.
func (c *Compute) Wait(ctx context.Context, h providers.Handle) (providers.Status, error) {
	p, err := pid(h)
	if err != nil {
		return providers.Status{}, err
	}
	if done := c.done(h); done != nil {
		select {
		case <-done:
			return c.status(ctx, h, false)
		case <-ctx.Done():
			return providers.Status{}, ctx.Err()
		}
	}
	// Short runs are seen ending soon, long ones every second. A run
	// started a moment ago is not asked about at once: over a network that
	// is a round trip spent on a run that cannot have ended yet.
	delay := 5 * time.Millisecond
	if time.Since(h.StartedAt) > delay {
		delay = 0
	}
	for {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return providers.Status{}, ctx.Err()
		}
		alive, err := c.o.Exec.Alive(ctx, p, h.StartTicks)
		if err != nil {
			return providers.Status{}, err
		}
		if !alive {
			return c.status(ctx, h, false)
		}
		delay = min(max(delay*3/2, 5*time.Millisecond), time.Second)
	}
}

// done returns the exit notification of a run this value started, or nil.
func (c *Compute) done(h providers.Handle) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.started[h.Dir]; ok && strconv.Itoa(p.PID) == h.ID {
		return p.Done
	}
	return nil
}

// status reads how the run ended from its directory; alive says whether
// its wrapper still runs (checked before reading: the wrapper writes the
// exit file before it exits).
func (c *Compute) status(ctx context.Context, h providers.Handle, alive bool) (providers.Status, error) {
	files, err := readFiles(ctx, c.o.Exec, path.Join(h.Dir, executor.ExitFile), path.Join(h.Dir, cancelledFile), path.Join(h.Dir, executor.TimedOutFile))
	if err != nil {
		return providers.Status{}, err
	}
	code, exited := executor.ParseExit(files[0])
	if alive && !exited {
		return providers.Status{State: providers.Running}, nil
	}
	var st providers.Status
	if exited {
		st.ExitCode = &code
	}
	cancelled, timedOut := files[1] != nil, files[2]
	timed := timedOut != nil
	switch {
	case cancelled:
		st.State, st.Reason = providers.Cancelled, "cancelled"
	case timed:
		st.State, st.Reason = providers.Failed, "timed out"
		if d, ok := executor.ParseTimedOut(timedOut); ok {
			st.Reason += " after " + FormatDuration(d)
		}
	case exited && code == 0:
		st.State = providers.Succeeded
	case exited:
		st.State, st.Reason = providers.Failed, fmt.Sprintf("exit code %d", code)
	default:
		st.State, st.Reason = providers.Failed, c.vanished(ctx, h, files[0] != nil)
	}
	if mt, ok := c.o.Exec.(executor.ModTimer); ok && exited {
		if t, err := mt.ModTime(ctx, path.Join(h.Dir, executor.ExitFile)); err == nil {
			st.EndedAt = t
		}
	}
	if !alive {
		st.StartedAt = executor.StartTime(ctx, c.o.Exec, h.Dir)
	}
	return st, nil
}

// lowSpace is the free space below which a file system counts as full: a
// run that ended without an exit code there was most likely stopped by it.
const lowSpace = 1 << 20

// vanished says why a run whose wrapper is gone has no exit code. A
// wrapper writes its exit code unless it is killed or cannot write: a full
// disk is the usual reason, and says so with the workdir's free space. An
// exit file that exists but is incomplete means a write failed.
func (c *Compute) vanished(ctx context.Context, h providers.Handle, exitFile bool) string {
	free, err := FreeSpace(ctx, c.o.Exec, h.Dir)
	workdir := path.Dir(path.Dir(h.Dir))
	switch {
	case err == nil && free < lowSpace:
		return fmt.Sprintf("no space left on the file system of %s (%s free): the run's wrapper could not write its exit code",
			workdir, plural.Count(int(free), "byte"))
	case exitFile && err == nil:
		return fmt.Sprintf("the run's wrapper could not write its exit code to %s (was the file system of %s full? %s free now)",
			path.Join(h.Dir, executor.ExitFile), workdir, plural.Count(int(free), "byte"))
	case exitFile:
		return fmt.Sprintf("the run's wrapper could not write its exit code to %s", path.Join(h.Dir, executor.ExitFile))
	}
	return "the run's process vanished without an exit code"
}

// FreeSpace returns the bytes available to unprivileged users on the file
// system of p, on e's machine (df -P, which every POSIX machine has).
func FreeSpace(ctx context.Context, e executor.Executor, p string) (int64, error) {
	out, err := e.Run(ctx, []string{"df", "-Pk", p}, nil)
	if err != nil {
		return 0, fmt.Errorf("free space on %s: %w", p, err)
	}
	// Filesystem 1024-blocks Used Available Capacity Mounted-on; the
	// file system's name and mount point may hold spaces, the numbers not.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	for i := 3; i < len(f); i++ {
		if !strings.HasSuffix(f[i], "%") {
			continue
		}
		if kb, err := strconv.ParseInt(f[i-1], 10, 64); err == nil && kb >= 0 {
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("free space on %s: unexpected df output %q", p, out)
}

// exitCode reads the exit file; exited is false until it is complete.
func (c *Compute) exitCode(ctx context.Context, dir string) (code int, exited bool, err error) {
	data, err := c.o.Exec.ReadFile(ctx, path.Join(dir, executor.ExitFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	code, exited = executor.ParseExit(data)
	return code, exited, nil
}

// readFiles reads paths, a missing one as nil (see all).
func readFiles(ctx context.Context, e executor.Executor, paths ...string) ([][]byte, error) {
	out := make([][]byte, len(paths))
	reads := make([]func() error, len(paths))
	for i, p := range paths {
		reads[i] = func() error {
			data, err := e.ReadFile(ctx, p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil
			case err == nil && data == nil:
				data = []byte{} // there, and empty
			}
			out[i] = data
			return err
		}
	}
	return out, all(e, reads)
}

func exists(ctx context.Context, e executor.Executor, p string) (bool, error) {
	rc, err := e.Open(ctx, p, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rc.Close()
	return true, nil
}

// FormatDuration writes d the way a user writes a timeout: 2h, 1h30m, 90s
// is 1m30s. It is the one duration that is not how long something took
// (internal/runtext.Elapsed and Ticking say those): a configured value,
// quoted back in a run's reason ("timed out after 2h").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Cancel marks a live run cancelled and sends TERM to its wrapper, which
// passes it once to the run's whole process group; what is left of the
// group after CancelGrace is killed. A final run is left alone.
func (c *Compute) Cancel(ctx context.Context, h providers.Handle) error {
	p, err := pid(h)
	if err != nil {
		return err
	}
	e := c.o.Exec
	alive, err := e.Alive(ctx, p, h.StartTicks)
	if err != nil {
		return err
	}
	if !alive {
		return nil
	}
	if _, exited, err := c.exitCode(ctx, h.Dir); err != nil || exited {
		return err
	}
	marker := path.Join(h.Dir, cancelledFile)
	if err := e.WriteFile(ctx, marker, nil, 0o644); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	if err := e.Signal(ctx, p, syscall.SIGTERM); err != nil {
		if !errors.Is(err, executor.ErrNoProcess) {
			return fmt.Errorf("cancel: %w", err)
		}
		// It ended by itself just now: say how, not "cancelled".
		if _, exited, _ := c.exitCode(ctx, h.Dir); exited {
			_ = e.RemoveAll(ctx, marker)
		}
		return nil
	}
	deadline := time.Now().Add(c.o.CancelGrace)
	for time.Now().Before(deadline) {
		alive, err := e.Alive(ctx, -p, "")
		if err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		if !alive {
			return nil
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if err := e.Signal(ctx, -p, syscall.SIGKILL); err != nil && !errors.Is(err, executor.ErrNoProcess) {
		return fmt.Errorf("cancel: %w", err)
	}
	return nil
}

// Recycle hands the run's source tree to the executor for reuse, when it
// can reuse trees (see executor.TreeRecycler).
func (c *Compute) Recycle(ctx context.Context, h providers.Handle) error {
	tr, ok := c.o.Exec.(executor.TreeRecycler)
	if !ok {
		return nil
	}
	if err := CheckRunDir(h.Dir); err != nil {
		return err
	}
	return tr.RecycleTree(ctx, path.Join(h.Dir, srcDir))
}

// ClearRecycled removes the trees kept for reuse.
func (c *Compute) ClearRecycled(ctx context.Context) error {
	if tr, ok := c.o.Exec.(executor.TreeRecycler); ok {
		return tr.ClearTrees(ctx)
	}
	return nil
}

// CheckRunDir refuses a handle's directory that is not a run directory
// (RUNS/ID, absolute and clean): a handle from a damaged state file must
// not make trainrun remove anything else.
func CheckRunDir(dir string) error {
	if !path.IsAbs(dir) || path.Clean(dir) != dir || path.Base(path.Dir(dir)) != "runs" {
		return fmt.Errorf("%s is not a run directory", dir)
	}
	return nil
}

// Remove deletes the run's directory. A live run is refused: cancel it
// first.
func (c *Compute) Remove(ctx context.Context, h providers.Handle) error {
	p, err := pid(h)
	if err != nil {
		return err
	}
	if err := CheckRunDir(h.Dir); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	alive, err := c.o.Exec.Alive(ctx, p, h.StartTicks)
	if err != nil {
		return err
	}
	if alive {
		if _, exited, err := c.exitCode(ctx, h.Dir); err != nil || !exited {
			return fmt.Errorf("remove %s: the run is still running; cancel it first", h.Dir)
		}
	}
	if err := c.o.Exec.RemoveAll(ctx, h.Dir); err != nil {
		return fmt.Errorf("remove %s: %w", h.Dir, err)
	}
	c.mu.Lock()
	delete(c.started, h.Dir)
	c.mu.Unlock()
	return nil
}

// Lookup finds the run id submitted by an earlier trainrun process that
// died before it recorded the handle (providers.Finder). found is false
// when the run was never started; a directory it left half made is then
// removed, so that the id can be submitted again. StartedAt is not known.
func (c *Compute) Lookup(ctx context.Context, runID string) (h providers.Handle, found bool, err error) {
	dir, err := c.runDir(runID)
	if err != nil {
		return providers.Handle{}, false, err
	}
	e := c.o.Exec
	if ok, err := exists(ctx, e, dir); err != nil || !ok {
		return providers.Handle{}, false, err
	}
	// The wrapper claims the run by creating its pid file exclusively
	// before it starts the command; give one that is just starting time to
	// do so, then claim the run for nobody. A wrapper that comes up later
	// finds the claim taken (or its directory gone) and runs nothing, so
	// the id can be submitted again: a run never executes twice.
	pidFile := path.Join(dir, executor.PidFile)
	found = false
	poll := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	claimAt := time.Now().Add(2 * time.Second)
	// A claim whose pid never gets written: its wrapper failed to write
	// (a full disk) and ran nothing.
	var emptySince time.Time
	for {
		data, err := e.ReadFile(ctx, pidFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return providers.Handle{}, false, err
		}
		if p, ticks, ok := executor.ParsePid(data); ok {
			return providers.Handle{Compute: c.o.Name, Kind: c.o.Kind, ID: strconv.Itoa(p),
				Dir: dir, Host: c.o.Host, StartTicks: ticks}, true, nil
		}
		switch {
		case err == nil && string(data) == abandoned:
			// Claimed for nobody by a trainrun that died before it
			// removed the directory.
		case err == nil:
			// Being written, or never will be.
			if emptySince.IsZero() {
				emptySince = time.Now()
			}
			if time.Since(emptySince) < time.Minute {
				if err := poll(50 * time.Millisecond); err != nil {
					return providers.Handle{}, false, err
				}
				continue
			}
		case time.Now().Before(claimAt):
			if err := poll(50 * time.Millisecond); err != nil {
				return providers.Handle{}, false, err
			}
			continue
		default:
			err := e.CreateFile(ctx, pidFile, []byte(abandoned), 0o644)
			if errors.Is(err, fs.ErrExist) {
				continue // the wrapper came first: read its pid
			}
			if err != nil {
				return providers.Handle{}, false, fmt.Errorf("claim run directory that never started: %w", err)
			}
		}
		if err := e.RemoveAll(ctx, dir); err != nil {
			return providers.Handle{}, false, fmt.Errorf("remove run directory that never started: %w", err)
		}
		return providers.Handle{}, false, nil
	}
}

// inheritedNames are the variables every run inherits from the machine;
// any name beginning LC_ too.
var inheritedNames = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"}

// InheritedPattern is a shell case pattern matching the names Inherited
// passes: "PATH|HOME|…|LC_*".
func InheritedPattern() string {
	return strings.Join(inheritedNames, "|") + "|LC_*"
}

// abandoned is what Lookup writes to the pid file of a run directory
// whose wrapper never claimed it.
const abandoned = "abandoned\n"

// Inherited picks from trainrun's environment what every run sees before
// its own env: where programs are (PATH), who and where the user is, the
// locale, the time zone and the temporary directory. Anything else a run
// needs (LD_LIBRARY_PATH, CONDA_PREFIX, OMP_NUM_THREADS, …) belongs in its
// env, where it is part of the fingerprint. The ssh compute keeps the same
// names on its machines, the slurm compute passes them with sbatch
// --export.
func Inherited(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if slices.Contains(inheritedNames, k) || strings.HasPrefix(k, "LC_") {
			out = append(out, kv)
		}
	}
	return out
}

// checkpointsDir holds the runs' checkpoint directories, by key, beside
// runs/.
const checkpointsDir = "checkpoints"

// CheckpointDir is the checkpoint directory of key below workdir.
func CheckpointDir(workdir, key string) (string, error) {
	if err := providers.CheckpointKey(key); err != nil {
		return "", err
	}
	return path.Join(workdir, checkpointsDir, key), nil
}

// Checkpoints lists the keys of the checkpoint directories in the workdir
// (providers.Checkpointer).
func (c *Compute) Checkpoints(ctx context.Context) ([]string, error) {
	return ListCheckpoints(ctx, c.o.Exec, c.o.Workdir)
}

// ListCheckpoints lists the keys of the checkpoint directories below
// workdir on e's machine.
func ListCheckpoints(ctx context.Context, e executor.Executor, workdir string) ([]string, error) {
	out, err := e.Run(ctx, []string{"sh", "-c", `cd "$1" 2>/dev/null || exit 0; ls -1A`, "sh", path.Join(workdir, checkpointsDir)}, nil)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var keys []string
	for _, k := range strings.Split(string(out), "\n") {
		if providers.CheckpointKey(k) == nil {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// RemoveCheckpoint removes the checkpoint directory of key
// (providers.Checkpointer).
func (c *Compute) RemoveCheckpoint(ctx context.Context, key string) error {
	p, err := CheckpointDir(c.o.Workdir, key)
	if err != nil {
		return err
	}
	if err := c.o.Exec.RemoveAll(ctx, p); err != nil {
		return fmt.Errorf("remove checkpoint %s: %w", p, err)
	}
	return nil
}

// Workdir is where the compute's run directories are: Workdir/runs/ID.
func (c *Compute) Workdir() string { return c.o.Workdir }

// DirSize is how much disk the run's directory takes (providers.DirSizer).
func (c *Compute) DirSize(ctx context.Context, h providers.Handle) (int64, error) {
	if err := CheckRunDir(h.Dir); err != nil {
		return 0, err
	}
	return executor.DiskUsage(ctx, c.o.Exec, h.Dir)
}
