package state

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/trainrun/trainrun/providers"
)

// Run is the record of one run: one execution of one instance. Every
// transition is persisted as a whole new version of this record.
type Run struct {
	ID          string `json:"id"`
	Address     string `json:"address"`
	Experiment  string `json:"experiment"`
	Fingerprint string `json:"fingerprint"`
	// Inputs is what went into the fingerprint, secrets redacted.
	Inputs      *FingerprintInputs `json:"inputs,omitempty"`
	Git         *Git               `json:"git,omitempty"`
	Compute     string             `json:"compute"`
	Environment string             `json:"environment,omitempty"`
	// Env is what the environment was on the compute when the run started.
	Env    *RunEnvironment            `json:"env,omitempty"`
	Params map[string]json.RawMessage `json:"params,omitempty"`
	// Settings are what an instance may change without a re-run (compute,
	// resources, timeout, retries), as last applied.
	Settings Settings `json:"settings"`

	Status   providers.State `json:"status"`
	ExitCode *int            `json:"exit_code"`
	Reason   string          `json:"reason,omitempty"`
	Attempts int             `json:"attempts"`
	// Requeues counts the attempts its compute started by itself (a
	// preempted, requeued Slurm job): capped by max_requeues, not by
	// retries.
	Requeues int `json:"requeues,omitempty"`
	// Environ is the environment the run's command was given on its
	// compute (what the run wrapper recorded), sensitive values redacted.
	Environ map[string]string `json:"environ,omitempty"`
	Handle  *providers.Handle `json:"handle,omitempty"`

	// User and Host are who created the run and on which machine: the
	// user trainrun ran as and its host's name.
	User string `json:"user,omitempty"`
	Host string `json:"host,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	// StartedAt is when its first attempt was submitted to its compute.
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// RunningAt is when the process of its last attempt started (after
	// any queue or hold; a requeued job's last start), by the compute's
	// clock, as far as the compute could tell: the run's own running time
	// is from it to FinishedAt, when its process ended (RunTime).
	RunningAt *time.Time `json:"running_at,omitempty"`
	// QueuedAt is when its last attempt was queued, when that was not its
	// handle's submission: a requeued Slurm job's last requeue. Its queue
	// time is from it to RunningAt (QueueTime); the attempts before are
	// neither that nor its running time.
	QueuedAt *time.Time `json:"queued_at,omitempty"`

	Dir     string            `json:"dir,omitempty"` // where its log, metrics and outputs are collected
	Metrics map[string]Metric `json:"metrics,omitempty"`
	// Outputs is the manifest ID of the collected outputs, when collected.
	Outputs string `json:"outputs,omitempty"`
	// Warnings are what collecting the run found amiss without failing
	// it, e.g. "outputs: skipped FIFO outputs/x (not a regular file,
	// directory or link)".
	Warnings []string `json:"warnings,omitempty"`
	ReproOf  string   `json:"repro_of,omitempty"` // the run this one reproduces
	// CachedFrom is the run whose outputs and metrics this one was
	// restored from (the run cache): nothing ran.
	CachedFrom string `json:"cached_from,omitempty"`
	// InputRuns maps each input name to the upstream runs whose collected
	// outputs the run was given, in the order of Inputs.Upstream.
	InputRuns map[string][]string `json:"input_runs,omitempty"`
	// Cleaned says destroy removed the run's directory on its compute.
	Cleaned bool `json:"cleaned,omitempty"`

	// EarlyStopping is the early-stopping policy of the run's sweep when
	// it was created (policy.Stopping.String), "" without one: a stopped
	// run runs again when its sweep's policy changes.
	EarlyStopping string `json:"early_stopping,omitempty"`
	// StopReason is why the policy stops the run. It is recorded before
	// the run is stopped, so that a later apply that re-attaches to the
	// run finishes stopping it; the run then ends with status stopped and
	// this reason.
	StopReason string `json:"stop_reason,omitempty"`
	// PromotedFrom is, for a run at a rung of successive halving above
	// the first, the run at the rung below that earned the promotion;
	// Promotion says how it ranked there.
	PromotedFrom string `json:"promoted_from,omitempty"`
	Promotion    string `json:"promotion,omitempty"`

	// Uncollected marks, in a refreshed view of the state (it is never
	// recorded), a run that ended while no apply followed it: its end and
	// metrics are what its compute says, its results are not collected
	// until the next apply.
	Uncollected bool `json:"-"`
}

// Settings are the parts of an instance that do not force a new run.
type Settings struct {
	Compute   string              `json:"compute"`
	Resources providers.Resources `json:"resources"`
	Timeout   string              `json:"timeout,omitempty"`
	Retries   int                 `json:"retries,omitempty"`
}

// FingerprintInputs lists what a fingerprint hashes, as recorded with a run.
type FingerprintInputs struct {
	Snapshot    string                     `json:"snapshot"`
	SourceDir   string                     `json:"source_dir"`
	Command     []string                   `json:"command,omitempty"`
	Shell       string                     `json:"shell,omitempty"`
	Env         map[string]string          `json:"env,omitempty"`
	Params      map[string]json.RawMessage `json:"params,omitempty"`
	Environment string                     `json:"environment"`
	// Upstream maps each input ("input.NAME") and each other dependency
	// (by address) to the content hashes of the outputs of the instances
	// it names, in their address order: what the run was given, not how
	// it was made (a changed upstream with the same outputs re-runs
	// nothing downstream).
	Upstream map[string][]string `json:"upstream,omitempty"`
	// UpstreamKeys holds, for each input that names every instance of a
	// sweep, the sweep key of each upstream instance, parallel to
	// Upstream[input]: the fingerprint hashes which instance gave what.
	// Runs recorded before keys were hashed have none.
	UpstreamKeys map[string][]string `json:"upstream_keys,omitempty"`
	Outputs      []string            `json:"outputs,omitempty"`
	// ParamsFile is where the params were written in the working
	// directory (params_file): part of what the run saw.
	ParamsFile string `json:"params_file,omitempty"`
	// MetricsFiles are the files among the outputs read as metrics
	// (metrics): recorded, not hashed, like Outputs.
	MetricsFiles []string `json:"metrics_files,omitempty"`
	// SecretsHash is a salted hash of the sensitive values that went in, so
	// that a changed secret changes the fingerprint without being stored.
	SecretsHash string `json:"secrets_hash,omitempty"`
}

// RunEnvironment is what a run's environment was on its compute.
type RunEnvironment struct {
	ID       string `json:"id"`                 // the environment's content hash (providers.EnvSpec.ID)
	Location string `json:"location,omitempty"` // its directory, image or interpreter there
	Lock     string `json:"lock,omitempty"`     // hash of its resolved package set (Environments.Lock)
	Digest   string `json:"digest,omitempty"`   // a container image's id
}

// Git is the working directory's commit when the run was created.
type Git struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
}

// Metric is the latest value of one metric. Values that JSON has no number
// for (NaN, ±Inf: a diverging loss) are recorded as the strings "NaN",
// "+Inf" and "-Inf".
type Metric struct {
	Value float64   `json:"value"`
	Step  *float64  `json:"step,omitempty"`
	Time  time.Time `json:"time,omitzero"`
}

// jsonMetric is Metric on the wire.
type jsonMetric struct {
	Value jsonFloat  `json:"value"`
	Step  *jsonFloat `json:"step,omitempty"`
	Time  time.Time  `json:"time,omitzero"`
}

// MarshalJSON encodes m, non-finite values included.
func (m Metric) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonMetric{Value: jsonFloat(m.Value), Step: (*jsonFloat)(m.Step), Time: m.Time})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (m *Metric) UnmarshalJSON(data []byte) error {
	var j jsonMetric
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*m = Metric{Value: float64(j.Value), Step: (*float64)(j.Step), Time: j.Time}
	return nil
}

// jsonFloat is a float64 that encodes NaN and infinities as strings.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

func (f *jsonFloat) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case `"NaN"`:
		*f = jsonFloat(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// RunTime is the run's own running time: from when its process started
// to when it ended (now, while it runs), without the time it waited in a
// queue, on hold, or for trainrun to collect it. ok is false when the
// run never started. Runs recorded without their process's start count
// from their submission.
func (r *Run) RunTime(now time.Time) (d time.Duration, ok bool) {
	start, end := r.RunningAt, r.FinishedAt
	if start == nil {
		start = r.StartedAt
	}
	if start == nil {
		return 0, false
	}
	if end == nil {
		if r.Status.Done() {
			return 0, false
		}
		end = &now
	}
	return max(end.Sub(*start), 0), true
}

// QueueTime is how long the run's last attempt waited between its
// submission (or its requeue, QueuedAt) and the start of its process (a
// Slurm queue or hold); 0 when unknown.
func (r *Run) QueueTime() time.Duration {
	if r.RunningAt == nil {
		return 0
	}
	if r.QueuedAt != nil {
		return max(r.RunningAt.Sub(*r.QueuedAt), 0)
	}
	if r.Handle == nil || r.Handle.StartedAt.IsZero() {
		return 0
	}
	return max(r.RunningAt.Sub(r.Handle.StartedAt), 0)
}

// Live reports whether the run may still be executing somewhere.
func (r *Run) Live() bool { return !r.Status.Done() }

// Clone returns a copy that shares nothing with r, to modify and Put again.
func (r *Run) Clone() *Run {
	c := *r
	c.Inputs = r.Inputs.clone()
	if r.Git != nil {
		g := *r.Git
		c.Git = &g
	}
	if r.Env != nil {
		e := *r.Env
		c.Env = &e
	}
	c.Params = cloneRaw(r.Params)
	c.ExitCode = clonePtr(r.ExitCode)
	if r.Handle != nil {
		h := *r.Handle
		c.Handle = &h
	}
	c.InputRuns = cloneStrings(r.InputRuns)
	c.Environ = maps.Clone(r.Environ)
	c.StartedAt = clonePtr(r.StartedAt)
	c.FinishedAt = clonePtr(r.FinishedAt)
	c.RunningAt = clonePtr(r.RunningAt)
	c.QueuedAt = clonePtr(r.QueuedAt)
	if r.Metrics != nil {
		c.Metrics = make(map[string]Metric, len(r.Metrics))
		for k, v := range r.Metrics {
			v.Step = clonePtr(v.Step)
			c.Metrics[k] = v
		}
	}
	return &c
}

func (in *FingerprintInputs) clone() *FingerprintInputs {
	if in == nil {
		return nil
	}
	c := *in
	c.Command = slices.Clone(in.Command)
	c.Env = maps.Clone(in.Env)
	c.Params = cloneRaw(in.Params)
	c.Upstream = cloneStrings(in.Upstream)
	c.UpstreamKeys = cloneStrings(in.UpstreamKeys)
	c.Outputs = slices.Clone(in.Outputs)
	c.MetricsFiles = slices.Clone(in.MetricsFiles)
	return &c
}

func cloneStrings(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	c := make(map[string][]string, len(m))
	for k, v := range m {
		c[k] = slices.Clone(v)
	}
	return c
}

func cloneRaw(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return nil
	}
	c := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		c[k] = slices.Clone(v)
	}
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
