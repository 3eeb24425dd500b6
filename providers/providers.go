package providers

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Attr declares one attribute of a compute or environment block.
type Attr struct {
	Name     string
	Type     cty.Type // the value is converted to this type; cty.DynamicPseudoType accepts any
	Required bool
	// Ref, when "compute", says the value must be a compute.NAME reference;
	// the decoded value is then the referenced compute's name as a string.
	Ref       string
	Sensitive bool // the value is a secret: never printed, logged or stored in clear
	Doc       string
}

// Block declares a nested block (such as build { … } in a container
// environment). It is decoded into an object value under its name.
type Block struct {
	Name  string
	Attrs []Attr
}

// Schema is the shape of a kind's block body.
type Schema struct {
	Attrs  []Attr
	Blocks []Block
}

// Attr returns the attribute named name, or nil.
func (s Schema) Attr(name string) *Attr {
	for i := range s.Attrs {
		if s.Attrs[i].Name == name {
			return &s.Attrs[i]
		}
	}
	return nil
}

// Values are the decoded attributes of one block, keyed by attribute name.
// Attributes not written in the configuration are absent.
type Values map[string]cty.Value

// Problem is a provider's complaint about one attribute of its block; the
// configuration loader turns it into a diagnostic at that attribute.
type Problem struct {
	Attr    string // "" for the block as a whole
	Summary string
	Detail  string
}

// ComputeKind is one kind of compute ("local", "ssh", "slurm").
type ComputeKind interface {
	Schema() Schema
	// Validate checks decoded values beyond their types. It must not
	// contact anything.
	Validate(v Values) []Problem
	// Open returns the compute described by v. It must not contact
	// anything either; connections are made lazily by the methods.
	Open(name string, v Values, env Env) (Compute, error)
}

// Env is what a provider may know about the process that runs trainrun.
type Env struct {
	Dir     string // the working directory (where .trainrun/ lives)
	DataDir string // Dir/.trainrun
	// OpenCompute returns another compute of the configuration by name,
	// opened once and shared: a kind may reach its machine through
	// another compute (a Slurm login node through an ssh compute). Nil
	// where there is none. Call it when first needed, never from Open.
	OpenCompute func(name string) (Compute, error)
	// Blob returns the local path of a file with the given SHA-256 that
	// trainrun holds (its content store), or "": a kind that collects
	// over a network need not fetch those. Nil: none.
	Blob func(hash string) string
}

// Registry lists the kinds the command knows about.
type Registry struct {
	Computes     map[string]ComputeKind
	Environments map[string]EnvironmentKind
}

// ComputeKinds returns the compute kind names, sorted.
func (r *Registry) ComputeKinds() []string { return slices.Sorted(maps.Keys(r.Computes)) }

// EnvironmentKinds returns the environment kind names, sorted.
func (r *Registry) EnvironmentKinds() []string { return slices.Sorted(maps.Keys(r.Environments)) }

// Resources is what one run needs from its compute.
type Resources struct {
	CPUs   int   `json:"cpus,omitempty"`
	Memory int64 `json:"memory,omitempty"` // bytes
	GPUs   int   `json:"gpus,omitempty"`
	Nodes  int   `json:"nodes,omitempty"`
}

// File is one regular file or symlink of a snapshot to materialize.
type File struct {
	Path string // slash-separated, relative, never escaping
	Mode uint32 // permission bits; symlinks carry 0o120000 (os.ModeSymlink is not used on the wire)
	Blob string // path of the content on the machine running trainrun
	// Hash is the hex SHA-256 of the content, when known: computes on other
	// machines keep blobs by it and send only those they lack.
	Hash string
}

// RunSpec is everything a compute needs to start one attempt of one run.
type RunSpec struct {
	RunID      string
	Address    string
	Experiment string
	Attempt    int
	// Files is the source snapshot, materialized as the run's working
	// directory.
	Files   []File
	Command []string // exec form; empty when Shell is set
	Shell   string   // run with sh -c
	// Env holds the user's env and the SPEC §4 variables the runtime knows
	// (run id, address, params, …); the compute adds TRAINRUN_OUTPUTS_DIR,
	// TRAINRUN_METRICS_FILE and TRAINRUN_INPUT_* since it owns those paths.
	Env       map[string]string
	Inputs    map[string]string // input name → local directory of collected outputs
	Resources Resources
	GPUs      []int // GPU indices given to this run (CUDA_VISIBLE_DEVICES)
	Timeout   time.Duration
	Outputs   []string // declared output paths, relative to the working directory
	// Launcher, when set, is the run's environment starting the command
	// (a container): the compute runs what it returns in place of it.
	Launcher Launcher
	// Checkpoint, when set, names the run's checkpoint directory on its
	// compute (CheckpointKey): WORKDIR/checkpoints/CHECKPOINT, given to the
	// run as TRAINRUN_CHECKPOINT_DIR and made by the run wrapper when
	// missing. It outlives the run directory: attempts, requeues and
	// re-attached runs of one fingerprint find what earlier ones saved.
	Checkpoint string
	// MaxRequeues caps how many times a compute that restarts runs by
	// itself (a requeued Slurm job) may do so; a start beyond it fails
	// the run. nil: no cap.
	MaxRequeues *int
}

// CheckpointVar is the variable naming a run's checkpoint directory.
const CheckpointVar = "TRAINRUN_CHECKPOINT_DIR"

// CheckpointKey checks that key can name a checkpoint directory: one path
// element of letters, digits, '-' and '_'.
func CheckpointKey(key string) error {
	if key == "" || len(key) > 128 {
		return fmt.Errorf("checkpoint key %q: want 1 to 128 characters", key)
	}
	for _, c := range key {
		switch {
		case c == '-', c == '_', '0' <= c && c <= '9', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		default:
			return fmt.Errorf("checkpoint key %q: only letters, digits, '-' and '_'", key)
		}
	}
	return nil
}

// Checkpointer is implemented by computes that keep runs' checkpoint
// directories (RunSpec.Checkpoint).
type Checkpointer interface {
	// Checkpoints lists the keys of the checkpoint directories the
	// compute holds.
	Checkpoints(ctx context.Context) ([]string, error)
	// RemoveCheckpoint removes the checkpoint directory of key; a missing
	// one is not an error.
	RemoveCheckpoint(ctx context.Context, key string) error
}

// InputCopier is implemented by computes that give a run copies of its
// inputs on their machine (in the run's directory) instead of the
// directories of RunSpec.Inputs themselves.
type InputCopier interface {
	// CopiesInputs reports whether runs get copies.
	CopiesInputs() bool
	// InputFiles hashes the copies run h was given, as they are now: input
	// name → its files (Path relative to the input's directory, Mode,
	// Hash; no Blob), so that trainrun can tell whether the run changed
	// them.
	InputFiles(ctx context.Context, h Handle) (map[string][]File, error)
}

// Handle says where a submitted run lives, so that any later trainrun
// process can find it again. It is recorded in state before apply moves on.
type Handle struct {
	Compute   string    `json:"compute"`
	Kind      string    `json:"kind"`
	ID        string    `json:"id"`  // pid, job id, …
	Dir       string    `json:"dir"` // the run's directory on the compute
	Host      string    `json:"host,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// StartTicks identifies the process beyond its pid (pids are reused).
	StartTicks string `json:"start_ticks,omitempty"`
	// GPUs are the compute's GPU indices the run was given: a later apply
	// that re-attaches to it gives them to no other run.
	GPUs []int `json:"gpus,omitempty"`
}

// State is where a run is in its life.
type State string

const (
	Pending   State = "pending"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
	// Stopped is a run its sweep's early-stopping policy ended: a result,
	// not a failure. Computes never report it; the runtime records it.
	Stopped State = "stopped"
)

// Done reports whether s is final.
func (s State) Done() bool { return s == Succeeded || s == Failed || s == Cancelled || s == Stopped }

// Status is what a compute says about a run.
type Status struct {
	State    State
	ExitCode *int
	Reason   string // why it failed or was cancelled: "timed out after 2h", "exit code 3"
	// Requeues counts the times the compute started the run again by
	// itself (a requeued Slurm job): each was one more attempt. Poll
	// reports it for live runs too.
	Requeues int
	// EndedAt is when the run's process ended, as its compute recorded it
	// (the time of its exit file); zero when unknown.
	EndedAt time.Time
	// StartedAt is when the run's process started (its last start, for a
	// requeued job), by the compute's clock; zero when unknown. From it to
	// EndedAt is the run's own running time, apart from time in a queue,
	// on hold or behind a dropped connection.
	StartedAt time.Time
	// QueuedAt is when the run's last attempt was queued, when that is
	// not the handle's submission: a requeued Slurm job's requeue (Slurm
	// sets its SubmitTime then). From it to StartedAt is that attempt's
	// time in the queue or on hold. Zero when unknown.
	QueuedAt time.Time
}

// Compute is one configured compute. Its methods may be called from several
// goroutines at once.
type Compute interface {
	// Slots is how many runs may be live at once (max_runs).
	Slots() int
	// GPUs is how many GPUs the compute schedules (0: none).
	GPUs(ctx context.Context) int
	// Submit starts the run detached and returns as soon as it is started:
	// it survives the trainrun process.
	Submit(ctx context.Context, spec *RunSpec) (Handle, error)
	// Wait blocks until the run is final or ctx is done.
	Wait(ctx context.Context, h Handle) (Status, error)
	// Poll says where the run is now, without waiting.
	Poll(ctx context.Context, h Handle) (Status, error)
	// Cancel stops a live run (its whole process group or job); a run that
	// is already final is left alone. The run is then reported Cancelled.
	Cancel(ctx context.Context, h Handle) error
	// Log returns the run's log; with follow it keeps reading until the
	// run is final or ctx is done.
	Log(ctx context.Context, h Handle, follow bool) (io.ReadCloser, error)
	// Collect copies the run's log, metrics file and, when outputs is
	// true, its outputs into dst (log, metrics.jsonl, outputs/). When all
	// was copied but outputs held files that are not regular files,
	// directories or links (FIFOs, sockets, devices: no data to copy), it
	// returns a *SkippedError naming them: a warning, not a failure.
	Collect(ctx context.Context, h Handle, spec *RunSpec, dst string, outputs bool) error
	// Remove deletes the run's directory on the compute.
	Remove(ctx context.Context, h Handle) error
	// Close releases connections.
	Close() error
}

// MetricsReader is implemented by computes that can read a run's metrics
// file (TRAINRUN_METRICS_FILE) while the run goes on: sweeps decide on
// live metrics, and status shows them.
type MetricsReader interface {
	// Metrics returns the run's metrics file from byte offset off; a run
	// that has not written a metric yet has an empty one. With follow,
	// reading blocks for new lines until the run is final and the file is
	// drained (then io.EOF), or ctx is done (then ctx's error).
	Metrics(ctx context.Context, h Handle, off int64, follow bool) (io.ReadCloser, error)
}

// Unsupported is returned for what a kind cannot do.
type Unsupported struct{ Kind, What string }

func (e *Unsupported) Error() string {
	return fmt.Sprintf("compute kind %q does not support %s", e.Kind, e.What)
}

// Warmer is implemented by computes that can get ready ahead of their
// first use (an SSH compute dials its machines), so that the first run
// does not wait for it.
type Warmer interface {
	// Warm prepares what it can; errors show at the first real use.
	Warm(ctx context.Context)
}

// DirSizer is implemented by computes that can say how much disk a run's
// directory takes on its machine: what gc reports it frees there.
type DirSizer interface {
	DirSize(ctx context.Context, h Handle) (int64, error)
}

// Recycler is implemented by computes that reuse what finished runs left
// on the machine, so that later runs start sooner: an SSH machine turns a
// finished run's source tree into the next run's, copying only what
// differs, instead of copying the whole tree again.
type Recycler interface {
	// Recycle says the run succeeded, its results are collected and its
	// end is recorded: what it left may be reused (its directory then
	// lacks its source tree).
	Recycle(ctx context.Context, h Handle) error
	// ClearRecycled removes what Recycle kept for reuse (destroy).
	ClearRecycled(ctx context.Context) error
}

// Finder is implemented by computes that can find a run by its id alone.
// trainrun records a run before submitting it and its handle right after;
// killed in between, the next apply asks the compute, so that the run is
// re-attached rather than started twice.
type Finder interface {
	// Lookup returns the handle of the run submitted as runID, and false
	// when no such run was ever started (it is then safe to submit it).
	Lookup(ctx context.Context, runID string) (Handle, bool, error)
}

// Batch is the first attempts of several runs of one experiment that are
// ready to start together.
type Batch struct {
	Experiment string
	// MaxConcurrent bounds how many of the runs may run at once (the
	// sweep's max_concurrent); 0: no bound.
	MaxConcurrent int
	Specs         []*RunSpec
}

// BatchSubmitter is implemented by computes that start many runs in one
// request and schedule them themselves (a Slurm job array). The runtime
// hands such a compute the runs of one experiment that are ready together,
// rather than submitting them one by one through its own slots.
type BatchSubmitter interface {
	// SubmitBatch starts every run of b as Submit would, and returns their
	// handles in the order of b.Specs. It starts all of them or none.
	SubmitBatch(ctx context.Context, b Batch) ([]Handle, error)
}

// HostFacts describe a machine a compute is attached to, as recorded the
// first time it is used.
type HostFacts struct {
	Host   string   `json:"host"`             // as recorded in handles
	OS     string   `json:"os,omitempty"`     // "Debian GNU/Linux 12 (bookworm)", else uname -s
	Kernel string   `json:"kernel,omitempty"` // uname -r
	Arch   string   `json:"arch,omitempty"`   // uname -m
	CPUs   int      `json:"cpus,omitempty"`
	Memory int64    `json:"memory,omitempty"` // bytes
	GPUs   []string `json:"gpus,omitempty"`   // as nvidia-smi names them, with their memory
}

// Attacher is implemented by computes on machines that trainrun attaches
// to (ssh): the first time one is used, plan shows an attach action with
// its machines' facts, and apply records them.
type Attacher interface {
	// Hosts names the machines, as handles record them. It contacts
	// nothing.
	Hosts() []string
	// Facts connects to each machine and returns its facts, in Hosts'
	// order.
	Facts(ctx context.Context) ([]HostFacts, error)
}

// Pinger is implemented by computes that depend on a service that may be
// down (a Slurm controller): plan asks it before it plans runs there, so
// that nothing is submitted to a compute that cannot take runs.
type Pinger interface {
	// Ping returns an error saying what does not answer.
	Ping(ctx context.Context) error
}

// SkippedError is what Collect returns when everything was collected but
// some outputs could not be: FIFOs, sockets and devices hold no data.
// Callers treat it as a warning.
type SkippedError struct {
	// Files are "KIND PATH" with PATH as collected (outputs/…), KIND
	// "FIFO", "socket", "character device", "block device" or "special
	// file".
	Files []string
}

func (e *SkippedError) Error() string {
	return "skipped " + strings.Join(e.Files, ", ") + " (not a regular file, directory or link)"
}
