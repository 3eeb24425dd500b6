package runtime

import (
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// EventType names what happened.
type EventType string

// The events an apply emits, in the order a run meets them.
const (
	ApplyStarted  EventType = "apply_started"  // Message: the plan summary
	RunQueued     EventType = "run_queued"     // waiting for upstream runs or a free slot
	RunWaiting    EventType = "run_waiting"    // another process's apply claimed the instance; Message names it
	RunByOther    EventType = "run_by_other"   // another apply carried the instance out since the plan: RunID its run, Status how it ended
	RunStarted    EventType = "run_started"    // submitted to its compute
	RunReattached EventType = "run_reattached" // an earlier apply's run, found live
	RunOutput     EventType = "run_output"     // Line: one line of the run's log
	RunRetrying   EventType = "run_retrying"   // the attempt failed; another follows
	RunFinished   EventType = "run_finished"   // Status final; Tail holds the log's end on failure
	RunSkipped    EventType = "run_skipped"    // an upstream run did not succeed
	RunSuperseded EventType = "run_superseded" // a newer apply runs the instance anew; Message: what happens to this run
	RunDecided    EventType = "run_decided"    // upstream outputs known: Action says whether it runs, Reason why
	RunRestored   EventType = "run_restored"   // restored from the run cache: RunID the new run, Reason whose outputs
	RunDetached   EventType = "run_detached"   // apply stopped waiting; the run goes on
	RunMetrics    EventType = "run_metrics"    // Metrics: a live run's latest values, at most once a second
	RunStopping   EventType = "run_stopping"   // the sweep's early-stopping policy stops the run; Reason says why
	InstanceSaved EventType = "instance_updated"
	Interrupted   EventType = "interrupted" // Message says what happens now
	ApplyDone     EventType = "apply_done"  // Counts summarise
	Warning       EventType = "warning"
	// BatchFailed: a compute refused a batch of runs submitted together
	// (a Slurm job array), Reason why, Counts["runs"] how many. Each run's
	// run_finished follows, with reason "submit: " and the same Reason.
	BatchFailed EventType = "batch_failed"
)

// Event is one thing that happened during an apply. Renderers (the
// terminal, -json, watch) consume them; the runtime never prints.
type Event struct {
	Time     time.Time       `json:"time"`
	Type     EventType       `json:"type"`
	Address  string          `json:"address,omitempty"`
	RunID    string          `json:"run_id,omitempty"`
	Attempt  int             `json:"attempt,omitempty"`
	Compute  string          `json:"compute,omitempty"`
	Status   providers.State `json:"status,omitempty"`
	ExitCode *int            `json:"exit_code,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Line     string          `json:"line,omitempty"`
	Tail     []string        `json:"tail,omitempty"`
	Message  string          `json:"message,omitempty"`
	Started  *time.Time      `json:"started_at,omitempty"`
	// Finished is when a run_finished run ended: before Time for a run
	// that ended while no apply followed it.
	Finished *time.Time     `json:"finished_at,omitempty"`
	Counts   map[string]int `json:"counts,omitempty"`
	Action   string         `json:"action,omitempty"` // run_decided: submit, no-op or update
	// Backoff is how long a run_retrying waits before the next attempt.
	Backoff string `json:"backoff,omitempty"`
	// Metrics are a live run's latest value of each metric (run_metrics).
	Metrics map[string]state.Metric `json:"metrics,omitempty"`
	// Waited is how long the run waited, in seconds (run_resumed).
	Waited float64 `json:"waited_s,omitempty"`
	// Ran is a finished run's own running time, from when its process
	// started to when it ended, and Queued the time before its process
	// started (in a queue, on hold), in seconds (run_finished).
	Ran    *float64 `json:"run_s,omitempty"`
	Queued float64  `json:"queued_s,omitempty"`
}

// Sink receives events. It is called from many goroutines, one event at a
// time: the runtime serializes calls.
type Sink func(Event)
