package lang

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/policy"
	"github.com/trainrun/trainrun/providers"
)

// Options say where variable values come from and which block kinds exist.
type Options struct {
	Vars     []string // each "NAME=VALUE" from -var, in the order given
	VarFiles []string // -var-file paths, relative to the working directory or absolute
	// Getenv reads the process environment: TRAINRUN_VAR_* values and the
	// env() function. nil means os.Getenv... never: callers pass it, so
	// tests stay hermetic.
	Getenv func(string) string
	// LookupEnv, when set, tells a TRAINRUN_VAR_* set to "" from one not
	// set: an empty value is a value, as Terraform takes it. Without it,
	// Getenv's "" means not set.
	LookupEnv func(string) (string, bool)
	Registry  *providers.Registry
}

// Config is a loaded configuration: every block, evaluated, with sweeps
// expanded into instances.
type Config struct {
	Dir   string               // absolute working directory
	Files map[string]*hcl.File // by file name as given in diagnostics, for rendering them

	Parallelism int // trainrun { parallelism }; 0 when unset

	Variables    map[string]*Variable
	Computes     map[string]*Block // compute blocks by name
	Environments map[string]*Block // environment blocks by name
	Experiments  map[string]*Experiment
	Instances    []*Instance // every instance of every experiment, sorted by Address

	// Graph maps each block address ("experiment.train", "compute.gpu",
	// "environment.torch", "local.x", "var.lr") to the addresses it
	// references, sorted.
	Graph map[string][]string

	// Secrets are the clear values of every sensitive variable (and of
	// sensitive attributes). Never print them; Redact replaces them.
	Secrets []string
}

// Variable is one declared variable with its resolved value.
type Variable struct {
	Name        string
	Type        cty.Type
	Value       cty.Value
	Sensitive   bool
	Description string
	DeclRange   hcl.Range
}

// Block is one compute or environment block, decoded with its kind's schema.
type Block struct {
	Kind      string
	Name      string
	Values    providers.Values
	DeclRange hcl.Range
}

// Address is "compute.NAME" or "environment.NAME" by the block's type.
func (b *Block) Address(typ string) string { return typ + "." + b.Name }

// Experiment is one experiment block.
type Experiment struct {
	Name          string
	DeclRange     hcl.Range
	Instances     []*Instance // sorted by Address
	MaxConcurrent int         // sweep { max_concurrent }; 0 when unset
	// Objective is what the experiment optimizes; nil when undeclared.
	Objective *Objective
	// EarlyStopping is the sweep's early-stopping policy; nil without one.
	EarlyStopping *policy.Stopping
	// Halving is the sweep's successive halving (asha); nil without it.
	Halving *Halving
}

// Include is one file or directory of an experiment's include.
type Include struct {
	Path  string // absolute
	Name  string // its name in the run's working directory: Path's base name
	Given string // as written in the configuration
	Dir   bool
}

// SourceKey identifies the tree a run's working directory starts as: its
// source directory, with what it includes. Instances with the same key
// share one snapshot.
func (in *Instance) SourceKey() string {
	if len(in.Include) == 0 {
		return in.SourceDir
	}
	var b strings.Builder
	b.WriteString(in.SourceDir)
	for _, inc := range in.Include {
		b.WriteString("\x00")
		b.WriteString(inc.Path)
	}
	return b.String()
}

// Instance is one run-able point of an experiment: the experiment itself, or
// one point of its sweep, with every expression evaluated for that point.
type Instance struct {
	Address     string // experiment.NAME or experiment.NAME["k1=v1,k2=v2"]
	Experiment  string
	Key         string // the sweep key (k1=v1,k2=v2); "" without a sweep
	Compute     string // compute block name
	Environment string // environment block name; "" means the default host environment
	SourceDir   string // absolute
	// Include (include) are files and directories outside SourceDir
	// snapshotted with it, each placed at the top of the working
	// directory under its own name.
	Include []Include
	Command []string
	Shell   string
	// Params are the run's parameters, each as canonical JSON (the sweep
	// point overriding params).
	Params map[string]json.RawMessage
	Env    map[string]string
	// Inputs maps each input name to the upstream instance addresses whose
	// outputs it receives (several when the upstream is a sweep).
	Inputs map[string][]string
	// InputKeys holds, for each input that names every instance of a sweep
	// (experiment.X.outputs where X has a sweep), the sweep key of each
	// upstream instance, parallel to Inputs[name]. The run gets one
	// directory per key, and its fingerprint hashes each key with that
	// instance's outputs. Other inputs have no entry.
	InputKeys map[string][]string
	// DependsOn lists the instance addresses this instance waits for:
	// from inputs, depends_on and any other experiment reference. Sorted.
	DependsOn []string
	Outputs   []string
	Resources providers.Resources
	Timeout   time.Duration // 0: none
	Retries   int
	// RetryBackoff (retry_backoff) is the wait before the first retry;
	// each next one waits twice as long, up to MaxRetryBackoff (see
	// RetryWait).
	RetryBackoff time.Duration
	// MaxRequeues (max_requeues) caps how many times the compute may start
	// a run again by itself (a preempted, requeued Slurm job); these
	// starts do not count against Retries. DefaultMaxRequeues when unset.
	MaxRequeues int
	// KeepCheckpoints (keep_checkpoints) keeps a succeeded run's
	// checkpoint directory (TRAINRUN_CHECKPOINT_DIR), which is otherwise
	// removed.
	KeepCheckpoints bool
	// Each is, for an experiment with for_each, the upstream instance
	// this one is matched with (its key is part of this one's).
	Each string
	// ParamsFile (params_file) is where the run's params are written in
	// its working directory, before it starts: YAML or JSON by extension.
	ParamsFile string
	// Metrics (metrics) are JSON or YAML files among the run's outputs
	// whose numbers are recorded as metrics when it ends.
	Metrics []string
	// NoCache (cache = false) says the instance is never restored from an
	// earlier run with its fingerprint: a step whose result is not a
	// function of its inputs.
	NoCache   bool
	DeclRange hcl.Range
	// Rung is the instance's rung in a successive-halving sweep (0 at the
	// smallest budget) and Point its key without the budget, the same at
	// every rung of one point. Both are zero without asha.
	Rung  int
	Point string
}

// DefaultMaxRequeues is max_requeues when an experiment does not say.
const DefaultMaxRequeues = 10

// ParamString is a parameter as a run sees it in TRAINRUN_PARAM_<NAME>:
// strings without quotes, everything else as JSON.
func ParamString(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}

// DefaultRetryBackoff is the wait before a first retry without
// retry_backoff, and MaxRetryBackoff the longest wait between attempts
// (unless retry_backoff itself is longer).
const (
	DefaultRetryBackoff = 10 * time.Second
	MaxRetryBackoff     = 10 * time.Minute
)

// RetryWait is how long to wait before attempt n+1 after attempt n (1, 2,
// …) failed: backoff, doubled for each attempt after the first, capped at
// MaxRetryBackoff or at backoff when it is longer.
func RetryWait(backoff time.Duration, n int) time.Duration {
	if backoff <= 0 || n < 1 {
		return 0
	}
	limit := max(MaxRetryBackoff, backoff)
	d := backoff
	for i := 1; i < n; i++ {
		if d >= limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}
