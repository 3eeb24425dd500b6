package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// LogRequest says which log OpenLog opens, and with what.
type LogRequest struct {
	// Ref is a run's id, or an instance's address (its latest run).
	Ref string
	// Follow follows a live run's log until the run ends, waiting first
	// for a run an apply has yet to start.
	Follow bool
	// Attempt picks an earlier attempt's log; 0 is the last attempt's.
	Attempt int

	Config   *lang.Config // may be nil: the log of a run given secrets is then refused until collected
	State    state.Backend
	Computes *Computes
	DataDir  string // the project's .trainrun
	// Wait, if not nil, is told what OpenLog waits for ("run X is
	// pending; waiting for it to start…"), for the person who waits.
	Wait func(msg string)
}

// Log is a run's log, opened by OpenLog.
type Log struct {
	Run *state.Run
	// Note, when not "", says which attempt's log this is and which
	// earlier ones are kept: for the reader, not part of the log.
	Note    string
	rc      io.ReadCloser
	secrets []string
}

// pendingPoll is how often OpenLog looks whether a pending run has started.
const pendingPoll = 100 * time.Millisecond

// OpenLog opens the log of a run: collected, kept apart for an earlier
// attempt, or read from its compute (followed while the run is live, with
// Follow). A log read from the compute is as the run wrote it: WriteTo
// redacts the secrets the run was given, and without a configuration to
// know them the log of a run given secrets is refused until an apply has
// collected it (collected logs were redacted as they were collected).
//
// With Follow, OpenLog waits while the run is pending: not recorded yet by
// the apply that holds its instance (or the state's lock), recorded but
// not yet started, or queued on its compute. When ctx is done meanwhile,
// it returns ctx's error.
func OpenLog(ctx context.Context, req LogRequest) (*Log, error) {
	st, say := req.State, req.Wait
	if say == nil {
		say = func(string) {}
	}
	run, err := st.Find(req.Ref)
	waiting := false // "waiting for it to start" was said
	if err != nil && req.Follow && errors.Is(err, state.ErrNotFound) && configured(req.Config, req.Ref) && writerActive(st, req.DataDir, req.Ref) {
		// An apply has yet to record it: it waits for a slot, or for its
		// upstream.
		say(fmt.Sprintf("%s is pending; waiting for it to start…", req.Ref))
		waiting = true
		run, err = awaitRecorded(ctx, st, req.DataDir, req.Ref)
	}
	if err == nil && req.Follow && run.Live() {
		run, err = awaitStart(ctx, st, req.Computes, req.DataDir, run, waiting, say)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if req.Config == nil && usesSecrets(run) && (run.Dir == "" || run.Live()) {
		return nil, fmt.Errorf("run %s was given sensitive values and its log is not collected yet, so it may hold them in clear; "+
			"it can be shown only with the configuration loaded, to redact them: give their values with TRAINRUN_VAR_NAME ('trainrun validate' says what is missing)", run.ID)
	}
	earlier := AttemptLogs(req.DataDir, run)
	var rc io.ReadCloser
	switch {
	case req.Attempt > 0 && req.Attempt < run.Attempts:
		if !slices.Contains(earlier, req.Attempt) {
			return nil, fmt.Errorf("run %s has no log of attempt %d apart: %s", run.ID, req.Attempt, attemptsKept(earlier))
		}
		rc, err = os.Open(AttemptLog(req.DataDir, run, req.Attempt))
	case req.Attempt > run.Attempts:
		return nil, fmt.Errorf("run %s has had %s", run.ID, plural.Count(run.Attempts, "attempt"))
	case run.Dir != "" && !run.Live():
		rc, err = os.Open(filepath.Join(run.Dir, "log"))
		if k, ok := st.(state.LogKeeper); ok && errors.Is(err, fs.ErrNotExist) {
			// Collected by another checkout, maybe on another machine:
			// the backend kept it.
			var data []byte
			data, err = k.Log(run.ID)
			if errors.Is(err, state.ErrNotFound) && run.CachedFrom != "" {
				// Restored through the run cache from a teammate's
				// run: its log is the log of the run that made the
				// outputs it restored.
				data, err = k.Log(run.CachedFrom)
			}
			if err == nil {
				rc = io.NopCloser(bytes.NewReader(data))
			}
		}
	case run.Handle != nil:
		var comp providers.Compute
		if comp, err = req.Computes.ForHandle(run.Handle); err == nil {
			rc, err = comp.Log(ctx, *run.Handle, req.Follow && run.Live())
		}
	default:
		return nil, fmt.Errorf("run %s has no log yet: it is %s", run.ID, run.Status)
	}
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", run.ID, err)
	}
	l := &Log{Run: run, rc: rc}
	if req.Attempt == 0 && len(earlier) > 0 {
		l.Note = fmt.Sprintf("This is the log of attempt %d; %s (trainrun logs -attempt N %s).", run.Attempts, attemptsKept(earlier), run.ID)
	}
	// A collected log was redacted as it was collected: shown as it is,
	// not redacted again.
	if run.Dir == "" || run.Live() {
		l.secrets = RunSecrets(req.Config, run)
	}
	return l, nil
}

// WriteTo writes the log to w, line by line as it comes, with the secrets
// the run was given redacted. It returns when the log ends (a followed
// run's, when the run ends) or cannot be read further.
func (l *Log) WriteTo(w io.Writer) (int64, error) {
	br := bufio.NewReader(l.rc)
	var n int64
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			m, werr := io.WriteString(w, lang.Redact(line, l.secrets))
			n += int64(m)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Close closes the log.
func (l *Log) Close() error { return l.rc.Close() }

// attemptsKept says which earlier attempts' logs are kept.
func attemptsKept(ns []int) string {
	if len(ns) == 0 {
		return "no earlier attempt's log is kept apart (attempts a Slurm requeue started share one log)"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return "the logs of " + plural.Count(len(ns), "earlier attempt") + " are kept: " + strings.Join(s, ", ")
}

// configured reports whether ref is the address of an instance of cfg
// (without a configuration, whether it reads as one).
func configured(cfg *lang.Config, ref string) bool {
	if cfg == nil {
		return strings.HasPrefix(ref, "experiment.")
	}
	for _, in := range cfg.Instances {
		if in.Address == ref {
			return true
		}
	}
	return false
}

// writerActive reports whether a live trainrun may still start a run of
// the instance at addr: an apply holds its claim (or, as an older trainrun
// did, the state's lock in dataDir).
func writerActive(st state.Backend, dataDir, addr string) bool {
	if _, held, err := st.Claimant(addr); held && err == nil {
		return true
	}
	h, ok := state.ReadHolder(dataDir)
	return ok && !h.Gone()
}

// awaitRecorded waits until a run of the instance at addr is recorded, as
// long as a writer holds the state.
func awaitRecorded(ctx context.Context, st state.Backend, dataDir, addr string) (*state.Run, error) {
	for {
		if !sleep(ctx, pendingPoll, Options{}) {
			return nil, ctx.Err()
		}
		if err := st.Reload(); err != nil {
			return nil, err
		}
		if run := st.Latest(addr); run != nil {
			return run, nil
		}
		if !writerActive(st, dataDir, addr) {
			return nil, fmt.Errorf("%s was not started: the trainrun that held the state has ended", addr)
		}
	}
}

// awaitStart waits until a live run has started, saying so when it has
// not: recorded but not yet submitted (an apply starts it next), or
// submitted but queued on its compute (a Slurm job waiting for nodes).
// It returns the run as recorded once it has a handle, or once it is
// final. A queued run is left to the log follower, which waits for output.
// waiting says that it was said already.
func awaitStart(ctx context.Context, st state.Backend, comps *Computes, dataDir string, run *state.Run, waiting bool, say func(string)) (*state.Run, error) {
	if run.Handle == nil {
		if !writerActive(st, dataDir, run.Address) {
			return nil, fmt.Errorf("run %s is %s and no trainrun apply is running to start it; 'trainrun apply' starts it", run.ID, run.Status)
		}
		if !waiting {
			say(fmt.Sprintf("run %s is %s; waiting for it to start…", run.ID, run.Status))
		}
		for run.Handle == nil && run.Live() {
			if !sleep(ctx, pendingPoll, Options{}) {
				return nil, ctx.Err()
			}
			if err := st.Reload(); err != nil {
				return nil, err
			}
			r, err := st.Get(run.ID)
			if err != nil {
				return nil, err
			}
			run = r
			if run.Handle == nil && run.Live() && !writerActive(st, dataDir, run.Address) {
				return nil, fmt.Errorf("run %s was not started: the trainrun that held the state has ended", run.ID)
			}
		}
		return run, nil
	}
	comp, err := comps.ForHandle(run.Handle)
	if err != nil {
		return run, nil // Log says why
	}
	if s, err := comp.Poll(ctx, *run.Handle); err == nil && s.State == providers.Pending && !waiting {
		why := ""
		if s.Reason != "" {
			why = " (" + s.Reason + ")"
		}
		say(fmt.Sprintf("run %s is pending%s; waiting for it to start…", run.ID, why))
	}
	return run, nil
}
