package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trainrun/trainrun/providers"
)

// The interfaces below are what the rest of trainrun asks of a place that
// records runs. Each is named for what its callers do with it; Backend is
// all of them, what a command opens. *Store, a directory on the local disk,
// is one Backend; a PostgreSQL database shared by a team is another. Every
// backend passes the conformance suite of package state/statetest.
//
// Every backend keeps the current records in memory: the latest run of
// every instance and every run that may still be executing. Those answers
// (Current) never fail and cost no round trip; Reload brings them up to
// date with what other processes wrote. The rest of the history is read on
// demand (History), which may fail.

// Current is the part of the record that planning, status and compare
// read: the latest run of each instance and the live runs. Its answers come
// from memory and are as fresh as the last Reload or Put of this process.
type Current interface {
	// Serial counts the records ever put. It only grows, so a plan made
	// at one serial is stale when the serial has moved.
	Serial() uint64
	// Lineage identifies the record: random, fixed when it is first
	// written ("" before), so that a plan is never applied to another
	// project's record.
	Lineage() string
	// Latest returns the newest run (by CreatedAt, then ID) of the
	// instance at address, or nil. Reproductions (ReproOf set) are left
	// out: re-running an old run checks it; it does not make it current.
	Latest(address string) *Run
	// Heads returns the latest run of every instance that has one, by
	// address.
	Heads() []*Run
	// Live returns every run that may still be executing (not Done),
	// oldest first, superseded ones included.
	Live() []*Run
}

// History answers questions about any run ever recorded: what show, logs,
// runs, rerun, checkout, the run cache and the web UI ask.
type History interface {
	// Get returns the run with this exact id, or an error wrapping
	// ErrNotFound.
	Get(id string) (*Run, error)
	// Find resolves what a user typed to name a run: a run id, a unique
	// prefix of one, or an instance address meaning its latest run.
	// Errors wrap ErrNotFound or ErrAmbiguous.
	Find(ref string) (*Run, error)
	// List returns the runs q selects, newest first (by CreatedAt, then
	// ID, descending).
	List(q Query) ([]*Run, error)
	// WithFingerprint returns the runs whose fingerprint is fp, newest
	// first: what the run cache looks for.
	WithFingerprint(fp string) ([]*Run, error)
}

// Query selects runs for History.List. The zero Query selects every run.
type Query struct {
	// Address selects the runs of one instance, or, as
	// "experiment.NAME", those of every instance of an experiment.
	Address string
	// Status selects runs in any of these states; none selects all.
	Status []providers.State
	// Since selects runs created at or after it, when it is not zero.
	Since time.Time
	// Offset skips that many of the runs selected, newest first, and
	// Limit returns at most that many (0: all): pages of a long history.
	Offset, Limit int
}

// Match reports whether q selects r, its filters apart from paging.
func (q *Query) Match(r *Run) bool {
	if q.Address != "" && r.Address != q.Address && "experiment."+r.Experiment != q.Address {
		return false
	}
	if len(q.Status) > 0 {
		ok := false
		for _, s := range q.Status {
			ok = ok || r.Status == s
		}
		if !ok {
			return false
		}
	}
	return q.Since.IsZero() || !r.CreatedAt.Before(q.Since)
}

// Recorder records runs: what apply, cancel, destroy and rerun do as runs
// move on.
type Recorder interface {
	// Put records runs: each becomes the latest record of its run, all
	// of them or none. It stores copies. When it returns nil, the records
	// survive the death of the process; Sync makes them survive a power
	// loss (a backend that is a database has them on its disk already).
	// Put takes the lock for the moment it writes, unless the caller
	// holds it (Locker); it waits for it at most as long as the backend's
	// lock timeout.
	Put(runs ...*Run) error
	// Sync makes everything put so far survive a power loss.
	Sync() error
}

// Updater runs short transactions: read the current record, decide, write,
// with no other writer in between. Concurrent applies decide with it which
// of them starts an instance.
type Updater interface {
	// Update calls fn with the record as it is now, under the lock, and
	// writes what fn put when fn returns nil: all of it or none. It waits
	// for the lock until ctx is done (-lock-timeout), returning a
	// *LockedError naming the holder then. fn must be short: other
	// writers wait meanwhile.
	Update(ctx context.Context, fn func(Tx) error) error
}

// Tx is the record inside a transaction (Updater.Update): up to date with
// every writer, and what the transaction put so far.
type Tx interface {
	Serial() uint64 // of the record as the transaction found it
	Latest(address string) *Run
	Get(id string) (*Run, error)
	Put(runs ...*Run) error
}

// Claimer gives instances to one apply at a time. An apply claims each
// instance before it starts a run of it and keeps the claim until the run
// is recorded as ended (or left running, re-attachable, when the apply is
// interrupted). Another apply that plans the same instance waits for the
// claim and then reads the instance's latest run, using its result instead
// of starting it again. Claims end with the process that holds them,
// however it ends: the kernel releases a local backend's flock(2), and a
// database ends a dead client's session.
type Claimer interface {
	// Claim claims the instance at address for h. When another process
	// holds it, Claim waits until it is released or ctx is done, and
	// then returns a *ClaimedError naming the holder. A Claim with a ctx
	// that is already done tries once.
	Claim(ctx context.Context, address string, h Holder) (Claim, error)
	// Claimant says who holds the claim on address, if anyone.
	Claimant(address string) (Holder, bool, error)
}

// Claim is an instance claimed by this process.
type Claim interface {
	Address() string
	// Lost is closed if the claim ended without Release: the backend's
	// session ended (the database restarted). Another apply may then
	// claim the instance, so the holder must start nothing more of it
	// before it claims it again.
	Lost() <-chan struct{}
	// Release gives the instance up.
	Release() error
}

// Locker makes one process the only writer for as long as it holds the
// lock: what an apply does until applies run side by side with claims.
type Locker interface {
	// Lock takes the lock for h, or returns a *LockedError naming the
	// holder at once.
	Lock(h Holder) error
	Unlock() error
}

// Backend is a place that records runs, with everything trainrun asks of
// it: a command opens one and hands the parts its callees need to them.
type Backend interface {
	Current
	History
	Recorder
	Updater
	Claimer
	Locker
	// Reload reads what other processes wrote since the backend was
	// opened or last reloaded, for readers that follow writers.
	Reload() error
	// Computes returns the facts of the computes trainrun attached to.
	Computes() (ComputeRecords, error)
	// Environments returns the environments prepared on computes.
	Environments() (EnvironmentRecords, error)
	Close() error
}

// ComputeRecords are the records of attached computes (see Compute).
type ComputeRecords interface {
	// Get returns the record of the compute named name, or nil.
	Get(name string) *Compute
	// All returns every record, by name.
	All() []*Compute
	// Put records rec, replacing the record of the same name.
	Put(rec *Compute) error
}

// EnvironmentRecords are the records of environments prepared on computes
// (see Environment) and of their resolved package sets.
type EnvironmentRecords interface {
	// All returns every record, oldest first.
	All() []*Environment
	// Find returns the record of environment id at location on compute
	// (any location when location is ""), or nil.
	Find(compute, id, location string) *Environment
	// Last returns the record that environment block name prepared last
	// on compute, or nil.
	Last(name, compute string) *Environment
	// Spec returns the spec of environment id as recorded on any compute.
	Spec(id string) (providers.EnvSpec, bool)
	// Put records rec, replacing the record of the same environment at
	// the same place.
	Put(rec *Environment) error
	// PutLock stores a resolved package set and returns its hash.
	PutLock(text string) (string, error)
	// Lock returns the package set stored under hash.
	Lock(hash string) (string, error)
}

// LogKeeper keeps the collected logs of finished runs where every checkout
// of the project reads them: a backend shared by a team (pgstate) is one.
// The local backend is not: a run's log is in its results directory.
type LogKeeper interface {
	// PutLog keeps log as the collected log of run id. A log longer than
	// MaxKeptLog is kept from its end.
	PutLog(id string, log []byte) error
	// Log returns the kept log of run id, or an error wrapping
	// ErrNotFound.
	Log(id string) ([]byte, error)
}

// MaxKeptLog is how much of a run's log a LogKeeper keeps: its last 16 MiB.
const MaxKeptLog = 16 << 20

// ClaimedError is the error of Claim when another process holds the claim.
type ClaimedError struct {
	Address string
	Holder  Holder // zero when the holder has not said who it is
	Err     error  // why Claim stopped waiting: ctx's error
}

func (e *ClaimedError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("%s is claimed by another trainrun that has not said who it is", e.Address)
	}
	return fmt.Sprintf("%s is claimed by %s (pid %d on %s) since %s", e.Address, orDefault(h.Command, "another trainrun"),
		h.PID, orDefault(h.Host, "an unknown host"), h.Since.UTC().Format("2006-01-02 15:04:05 UTC"))
}

func (e *ClaimedError) Unwrap() error { return e.Err }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ErrClosed is what a closed backend answers.
var ErrClosed = errors.New("state is closed")
