package state

import (
	"encoding/json"
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
	Inputs      *FingerprintInputs         `json:"inputs,omitempty"`
	Git         *Git                       `json:"git,omitempty"`
	Compute     string                     `json:"compute"`
	Environment string                     `json:"environment,omitempty"`
	Params      map[string]json.RawMessage `json:"params,omitempty"`
	// Settings are what an instance may change without a re-run (compute,
	// resources, timeout, retries), as last applied.
	Settings Settings `json:"settings"`

	Status   providers.State   `json:"status"`
	ExitCode *int              `json:"exit_code"`
	Reason   string            `json:"reason,omitempty"`
	Attempts int               `json:"attempts"`
	Handle   *providers.Handle `json:"handle,omitempty"`

	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`

	Dir     string            `json:"dir,omitempty"` // where its log, metrics and outputs are collected
	Metrics map[string]Metric `json:"metrics,omitempty"`
	// Outputs is the manifest ID of the collected outputs, when collected.
	Outputs string `json:"outputs,omitempty"`
	ReproOf string `json:"repro_of,omitempty"` // the run this one reproduces
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
	// Upstream maps each input name (and depends_on address) to the
	// fingerprints of the instances it depends on.
	Upstream map[string][]string `json:"upstream,omitempty"`
	Outputs  []string            `json:"outputs,omitempty"`
	// SecretsHash is a salted hash of the sensitive values that went in, so
	// that a changed secret changes the fingerprint without being stored.
	SecretsHash string `json:"secrets_hash,omitempty"`
}

// Git is the working directory's commit when the run was created.
type Git struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
}

// Metric is the latest value of one metric.
type Metric struct {
	Value float64   `json:"value"`
	Step  *float64  `json:"step,omitempty"`
	Time  time.Time `json:"time,omitempty"`
}

// Live reports whether the run may still be executing somewhere.
func (r *Run) Live() bool { return !r.Status.Done() }

// Clone returns a deep enough copy to modify and Put again.
func (r *Run) Clone() *Run {
	c := *r
	if r.Metrics != nil {
		c.Metrics = make(map[string]Metric, len(r.Metrics))
		for k, v := range r.Metrics {
			c.Metrics[k] = v
		}
	}
	if r.Handle != nil {
		h := *r.Handle
		c.Handle = &h
	}
	return &c
}
