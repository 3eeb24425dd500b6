package slurm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/providers/runner"
)

// jobInfo is what Slurm says of one job (an array task is one job).
type jobInfo struct {
	known  bool   // squeue, scontrol or sacct knows the job
	state  string // PENDING, RUNNING, COMPLETED, …
	reason string // why a pending job waits, as squeue says
	// start is when a running job started, or when a pending one may
	// (its BeginTime, when held for one), as Slurm prints it; "" unknown.
	start string
	// submit is when the job was last queued (squeue's %V: its
	// submission, or its last requeue), as Slurm prints it; "" unknown.
	submit string
}

// Slurm's job states, by what they mean for a run.
var (
	pendingStates = map[string]bool{"PENDING": true, "CONFIGURING": true, "REQUEUED": true,
		"REQUEUE_HOLD": true, "REQUEUE_FED": true, "RESV_DEL_HOLD": true}
	runningStates = map[string]bool{"RUNNING": true, "COMPLETING": true, "SUSPENDED": true,
		"STOPPED": true, "SIGNALING": true, "STAGE_OUT": true, "RESIZING": true}
)

// final reports whether Slurm is done with a job in state. A preempted job
// of a requeueable compute is requeued: it is not done.
func (c *Compute) final(state string) bool {
	if state == "PREEMPTED" {
		return !c.o.Requeue
	}
	return !pendingStates[state] && !runningStates[state] && state != ""
}

// baseID is the job id of an array task's array ("123" of "123_4").
func baseID(id string) string {
	b, _, _ := strings.Cut(id, "_")
	return b
}

// queryJobs asks Slurm about jobs: one squeue call for all of them; when
// squeue fails, scontrol show job; for jobs squeue no longer lists, sacct
// (once it has said accounting is disabled, never again). Jobs none of
// them knows are returned with known false.
func (c *Compute) queryJobs(ctx context.Context, ids []string) (map[string]jobInfo, error) {
	e, err := c.executor(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var bases []string
	for _, id := range ids {
		if !validJobID(id) {
			return nil, fmt.Errorf("%q is not a Slurm job id", id)
		}
		if b := baseID(id); !seen[b] {
			seen[b] = true
			bases = append(bases, b)
		}
	}
	sort.Strings(bases)
	infos := make(map[string]jobInfo, len(ids))
	out, err := e.Run(ctx, []string{"squeue", "--noheader", "--array", "--states=all",
		"--jobs=" + strings.Join(bases, ","), "--format=%i|%T|%r|%S|%V"}, nil)
	switch {
	case err == nil:
		parseSqueue(out, infos)
	case invalidJobID(err):
		// None of them is known any more.
	default:
		if serr := c.scontrol(ctx, e, bases, infos); serr != nil {
			return nil, fmt.Errorf("%w; scontrol: %v", err, serr)
		}
	}
	var missing []string
	for _, id := range ids {
		if !infos[id].known {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 && !c.tr.noSacct.Load() {
		c.sacct(ctx, e, missing, infos)
	}
	return infos, nil
}

// invalidJobID reports whether a Slurm command failed because it knows none
// of the jobs asked about.
func invalidJobID(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Invalid job id")
}

// parseSqueue reads lines of "ID|STATE|REASON|START|SUBMIT" (SUBMIT
// optional).
func parseSqueue(out []byte, infos map[string]jobInfo) {
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(strings.TrimSpace(line), "|", 5)
		if len(f) < 2 || !validJobID(f[0]) {
			continue
		}
		info := jobInfo{known: true, state: f[1]}
		if len(f) >= 3 && f[2] != "None" {
			info.reason = f[2]
		}
		if len(f) >= 4 {
			info.start = slurmTime(f[3])
		}
		if len(f) == 5 {
			info.submit = slurmTime(f[4])
		}
		infos[f[0]] = info
	}
}

func (c *Compute) scontrol(ctx context.Context, e executor.Executor, bases []string, infos map[string]jobInfo) error {
	for _, b := range bases {
		out, err := e.Run(ctx, []string{"scontrol", "--oneliner", "show", "job", b}, nil)
		if invalidJobID(err) {
			continue
		}
		if err != nil {
			return err
		}
		parseScontrol(out, infos)
	}
	return nil
}

// parseScontrol reads scontrol --oneliner show job: one job (or pending
// array tasks, as a range) per line. Fields are read after the job name,
// which may hold anything, even text that looks like fields: the last
// " UserId=" starts the fields that follow it.
func parseScontrol(out []byte, infos map[string]jobInfo) {
	for _, line := range strings.Split(string(out), "\n") {
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "JobId="), " ")
		i := strings.LastIndex(line, " UserId=")
		if !strings.HasPrefix(line, "JobId=") || i < 0 || !validJobID(id) {
			continue
		}
		fields := map[string]string{}
		for _, kv := range strings.Fields(line[i:]) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				if _, dup := fields[k]; !dup {
					fields[k] = v
				}
			}
		}
		// The array fields come before the name; the first " JobName="
		// is the real one.
		head := line[:i]
		if j := strings.Index(head, " JobName="); j >= 0 {
			head = head[:j]
		}
		arrayJob := field(head, "ArrayJobId")
		info := jobInfo{known: true, state: fields["JobState"], start: slurmTime(fields["StartTime"])}
		if r := fields["Reason"]; r != "None" {
			info.reason = r
		}
		if arrayJob == "" {
			infos[id] = info
			continue
		}
		// ArrayTaskId is one task, or pending tasks: "3-5,7%2".
		tasks, _, _ := strings.Cut(field(head, "ArrayTaskId"), "%")
		for _, part := range strings.Split(tasks, ",") {
			lo, hi, isRange := strings.Cut(part, "-")
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if !isRange {
				b, err2 = a, err1
			}
			if err1 != nil || err2 != nil || b < a || b-a > runner.MaxCount {
				continue
			}
			for t := a; t <= b; t++ {
				infos[arrayJob+"_"+strconv.Itoa(t)] = info
			}
		}
	}
}

// field finds KEY=VALUE among the fields before the job name.
func field(head, key string) string {
	for _, kv := range strings.Fields(head) {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func (c *Compute) sacct(ctx context.Context, e executor.Executor, ids []string, infos map[string]jobInfo) {
	out, err := e.Run(ctx, []string{"sacct", "--noheader", "--parsable2", "--allocations",
		"--jobs=" + strings.Join(ids, ","), "--format=JobID,State"}, nil)
	if err != nil {
		// "Slurm accounting storage is disabled", or no sacct at all:
		// either way it will not answer later.
		if strings.Contains(err.Error(), "disabled") || errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "not found") {
			c.tr.noSacct.Store(true)
		}
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		id, state, ok := strings.Cut(strings.TrimSpace(line), "|")
		if !ok || !validJobID(id) {
			continue
		}
		state, _, _ = strings.Cut(state, " ") // "CANCELLED by 0"
		if !infos[id].known {
			infos[id] = jobInfo{known: true, state: state}
		}
	}
}

// status says what Slurm's view and the run's files mean for the run.
func (c *Compute) status(ctx context.Context, h providers.Handle, info jobInfo) (providers.Status, error) {
	if info.known && !c.final(info.state) {
		if runningStates[info.state] {
			return providers.Status{State: providers.Running}, nil
		}
		st := providers.Status{State: providers.Pending, Reason: strings.ToLower(info.state)}
		if info.reason != "" {
			st.Reason += ": " + info.reason
		}
		return st, nil
	}
	e, err := c.executor(ctx)
	if err != nil {
		return providers.Status{}, err
	}
	read := func(name string) ([]byte, bool, error) {
		data, err := e.ReadFile(ctx, path.Join(h.Dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return data, err == nil, err
	}
	var st providers.Status
	st.StartedAt, st.EndedAt = executor.StartTime(ctx, e, h.Dir), executor.EndTime(ctx, e, h.Dir)
	if st.EndedAt.Before(st.StartedAt) {
		st.EndedAt = time.Time{} // an exit file of an attempt before a requeue
	}
	data, _, err := read(executor.ExitFile)
	if err != nil {
		return st, err
	}
	code, exited := executor.ParseExit(data)
	if exited {
		st.ExitCode = &code
	}
	st.Requeues = c.restarts(ctx, h)
	if st.Requeues > 0 {
		st.QueuedAt = parseSlurmTime(info.submit) // its last requeue
	}
	_, cancelled, err := read(cancelledFile)
	if err != nil {
		return st, err
	}
	timedOut, timed, err := read(executor.TimedOutFile)
	if err != nil {
		return st, err
	}
	why, _, err := read(reasonFile)
	if err != nil {
		return st, err
	}
	state := info.state
	slurmSays := "Slurm: " + state
	switch {
	case cancelled:
		st.State, st.Reason = providers.Cancelled, "cancelled"
	case state == "CANCELLED":
		st.State, st.Reason = providers.Cancelled, "cancelled in Slurm (scancel, or the cluster)"
	case timed:
		st.State, st.Reason = providers.Failed, "timed out"
		if d, ok := executor.ParseTimedOut(timedOut); ok {
			st.Reason += " after " + runner.FormatDuration(d)
		}
	case state == "COMPLETED" || state == "FAILED" || !info.known:
		switch {
		case exited && code == 0 && state != "FAILED":
			st.State = providers.Succeeded
		case exited && code != 0:
			st.State, st.Reason = providers.Failed, fmt.Sprintf("exit code %d", code)
		case len(why) > 0:
			st.State, st.Reason = providers.Failed, strings.TrimSpace(string(why))
		case !info.known:
			st.State, st.Reason = providers.Failed, fmt.Sprintf("Slurm no longer knows job %s and the run wrote no exit code", h.ID)
		default:
			st.State = providers.Failed
			st.Reason = fmt.Sprintf("%s, and the run wrote no exit code: is %s visible on the compute nodes? The workdir must be on a filesystem they share", slurmSays, h.Dir)
		}
	default: // TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, …
		st.State, st.Reason = providers.Failed, slurmSays
		if exited {
			st.Reason += fmt.Sprintf(" (exit code %d)", code)
		}
	}
	// When the run ended: when its wrapper wrote the exit file.
	if mt, ok := e.(executor.ModTimer); ok && exited {
		if t, err := mt.ModTime(ctx, path.Join(h.Dir, executor.ExitFile)); err == nil {
			st.EndedAt = t
		}
	}
	return st, nil
}

// cacheFor is how long one squeue answer serves Poll: a plan refreshing a
// thousand live runs of one array costs one squeue call, not a thousand.
const cacheFor = time.Second

// query returns what Slurm says of job id, from an answer younger than
// cacheFor when there is one.
func (c *Compute) query(ctx context.Context, id string) (jobInfo, error) {
	if info, ok := c.tr.cached(id); ok {
		return info, nil
	}
	infos, err := c.queryJobs(ctx, []string{id})
	if err != nil {
		return jobInfo{}, err
	}
	c.tr.store(infos)
	return infos[id], nil
}

// Poll says where the run is now.
func (c *Compute) Poll(ctx context.Context, h providers.Handle) (providers.Status, error) {
	info, err := c.query(ctx, h.ID)
	if err != nil {
		return providers.Status{}, err
	}
	st, err := c.status(ctx, h, info)
	if err == nil && st.State == providers.Running {
		// How often Slurm requeued it so far: the live attempt count.
		st.Requeues = c.restarts(ctx, h)
		if st.Requeues > 0 {
			st.QueuedAt = parseSlurmTime(info.submit)
		}
	}
	return st, err
}

// restarts reads how many times Slurm requeued the run's job, as the job
// wrote it when it last started (SLURM_RESTART_COUNT); 0 when unknown.
func (c *Compute) restarts(ctx context.Context, h providers.Handle) int {
	e, err := c.executor(ctx)
	if err != nil {
		return 0
	}
	data, err := e.ReadFile(ctx, path.Join(h.Dir, restartsFile))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return max(n, 0)
}

// Wait blocks until the run is final. All of the compute's waits share one
// squeue call per round.
func (c *Compute) Wait(ctx context.Context, h providers.Handle) (providers.Status, error) {
	if !validJobID(h.ID) {
		return providers.Status{}, fmt.Errorf("%q is not a Slurm job id", h.ID)
	}
	return c.tr.wait(ctx, h)
}

// Cancel cancels the run's job with scancel, pending or running; a final
// run is left alone. A marker in the run directory says trainrun cancelled
// it, for as long as Slurm remembers nothing.
func (c *Compute) Cancel(ctx context.Context, h providers.Handle) error {
	if !validJobID(h.ID) {
		return fmt.Errorf("%q is not a Slurm job id", h.ID)
	}
	e, err := c.executor(ctx)
	if err != nil {
		return err
	}
	infos, err := c.queryJobs(ctx, []string{h.ID})
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	if info := infos[h.ID]; !info.known || c.final(info.state) {
		return nil
	}
	marker := path.Join(h.Dir, cancelledFile)
	if err := e.WriteFile(ctx, marker, nil, 0o644); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	defer c.tr.kick()
	if _, err := e.Run(ctx, []string{"scancel", h.ID}, nil); err != nil {
		infos, qerr := c.queryJobs(ctx, []string{h.ID})
		if info := infos[h.ID]; qerr == nil && (!info.known || c.final(info.state)) {
			if info.state != "CANCELLED" {
				_ = e.RemoveAll(ctx, marker) // it ended by itself just now
			}
			return nil
		}
		return fmt.Errorf("cancel: %w", err)
	}
	return nil
}

// tracker serves every Wait of one compute with one loop: each round, one
// squeue call for all jobs waited on; final ones are answered, and the
// interval grows from PollMin to PollMax while nothing changes.
type tracker struct {
	c       *Compute
	noSacct atomic.Bool // sacct said accounting is disabled

	mu      sync.Mutex
	watches map[string][]*watch // by job id
	running bool
	wake    chan struct{} // a new wait, a submission or a cancel: poll soon
	cache   map[string]cachedInfo
}

type watch struct {
	h      providers.Handle
	done   chan outcome // buffered: the loop never blocks on it
	notify func(providers.Notice)

	// What the loop has seen of the job, for its notices.
	ran       bool // seen running since its last (re)queueing
	requeued  bool // seen requeued, not yet running again
	requeues  int
	submit    string // when Slurm last queued it, as last seen (jobInfo.submit)
	unreached bool   // the last round could not ask Slurm
}

type outcome struct {
	st  providers.Status
	err error
}

type cachedInfo struct {
	info jobInfo
	at   time.Time
}

func newTracker(c *Compute) *tracker {
	return &tracker{c: c, watches: map[string][]*watch{}, wake: make(chan struct{}, 1), cache: map[string]cachedInfo{}}
}

func (t *tracker) kick() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// submitted notes a new job: jobs start soon after, so poll often again.
func (t *tracker) submitted() { t.kick() }

func (t *tracker) cached(id string) (jobInfo, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ci, ok := t.cache[id]
	if !ok || time.Since(ci.at) > cacheFor {
		return jobInfo{}, false
	}
	return ci.info, true
}

func (t *tracker) store(infos map[string]jobInfo) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, ci := range t.cache {
		if now.Sub(ci.at) > cacheFor {
			delete(t.cache, id)
		}
	}
	for id, info := range infos {
		t.cache[id] = cachedInfo{info, now}
	}
}

func (t *tracker) wait(ctx context.Context, h providers.Handle) (providers.Status, error) {
	w := &watch{h: h, done: make(chan outcome, 1), notify: func(n providers.Notice) { providers.Notify(ctx, n) }}
	t.mu.Lock()
	t.watches[h.ID] = append(t.watches[h.ID], w)
	if !t.running {
		t.running = true
		go t.loop()
	}
	t.mu.Unlock()
	t.kick()
	select {
	case o := <-w.done:
		return o.st, o.err
	case <-ctx.Done():
		t.mu.Lock()
		ws := t.watches[h.ID]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(t.watches, h.ID)
		} else {
			t.watches[h.ID] = ws
		}
		t.mu.Unlock()
		return providers.Status{}, ctx.Err()
	}
}

// roundTimeout bounds one round of queries.
const roundTimeout = 2 * time.Minute

func (t *tracker) loop() {
	delay := t.c.o.PollMin
	last := map[string]string{} // job id → state seen last round
	gone := map[string]bool{}   // job ids listed before, missing last round
	for {
		t.mu.Lock()
		if len(t.watches) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		ids := make([]string, 0, len(t.watches))
		for id := range t.watches {
			ids = append(ids, id)
		}
		t.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
		// What the login node's connection says (ssh unreachable) goes
		// to every wait.
		ctx = providers.WithNotices(ctx, t.broadcast)
		infos, err := t.c.queryJobs(ctx, ids)
		changed := false
		if err != nil {
			t.unreachable(err)
		}
		if err == nil {
			t.store(infos)
			for _, id := range ids {
				info := infos[id]
				prev := last[id]
				if prev != info.state {
					changed = true
					last[id] = info.state
				}
				if !info.known && prev != "" && !gone[id] {
					// Listed last round, not now: a job being requeued
					// is missing for a moment. Gone twice is gone.
					gone[id] = true
					continue
				}
				delete(gone, id)
				t.seen(id, info)
				if info.known && !t.c.final(info.state) {
					continue
				}
				t.finish(ctx, id, info)
				delete(last, id)
			}
		}
		cancel()
		if changed {
			delay = t.c.o.PollMin
		} else {
			delay = min(delay*3/2, t.c.o.PollMax)
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-t.wake:
			timer.Stop()
			delay = t.c.o.PollMin
		}
	}
}

// broadcast sends n to every wait.
func (t *tracker) broadcast(n providers.Notice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ws := range t.watches {
		for _, w := range ws {
			w.notify(n)
		}
	}
}

// unreachable tells every wait that Slurm could not be asked.
func (t *tracker) unreachable(err error) {
	what := "slurm controller unreachable"
	if !controllerDown(err) {
		what = "squeue failed (retrying): " + firstLine(err.Error())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ws := range t.watches {
		for _, w := range ws {
			w.unreached = true
			w.notify(providers.Notice{Waiting: what, Requeues: w.requeues})
		}
	}
}

// seen tells the waits on job id what Slurm says of it, when it means
// something to a person: held, pending for a reason, requeued, running.
func (t *tracker) seen(id string, info jobInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.watches[id] {
		w.unreached = false
		n := providers.Notice{}
		// Queued again since the last round: a requeue that came and
		// went between two rounds, unseen running or pending.
		resubmitted := w.submit != "" && info.submit != "" && info.submit != w.submit
		if info.submit != "" {
			w.submit = info.submit
		}
		switch {
		case !info.known || t.c.final(info.state):
			// Its end is answered next.
		case runningStates[info.state]:
			if resubmitted && !w.requeued {
				w.requeues++
			}
			w.ran, w.requeued = true, false
			n.Running = parseSlurmTime(info.start)
		case strings.HasPrefix(info.state, "REQUEUE") || info.state == "PREEMPTED" || w.ran || resubmitted:
			// Requeued: by scontrol requeue, a preemption or a node
			// failure; seen as such, as a running job pending again, or
			// as a job queued anew (its submit time moved on: the
			// requeue came before any round saw it run).
			if !w.requeued {
				w.requeues++
			}
			w.ran, w.requeued = false, true
			n.Waiting = pendingText(info)
		default:
			n.Waiting = pendingText(info)
		}
		n.Requeues = w.requeues
		w.notify(n)
	}
}

// pendingText says why a pending job waits; "" when it is only about to
// start, or waits for the runs of its own array (max_runs, max_concurrent).
func pendingText(info jobInfo) string {
	switch info.reason {
	case "", "None", "JobArrayTaskLimit", "Prolog":
		return ""
	case "BeginTime":
		if info.start != "" {
			return "held (BeginTime " + info.start + ")"
		}
		return "held (BeginTime)"
	}
	if strings.HasPrefix(info.reason, "JobHeld") || strings.Contains(info.state, "HOLD") {
		return "held (reason " + info.reason + ")"
	}
	return "pending in queue (reason " + info.reason + ")"
}

// slurmTime keeps a time as Slurm prints it ("2026-12-07T15:31:02"), or
// "" for none ("N/A", "Unknown", "None").
func slurmTime(s string) string {
	s = strings.TrimSpace(s)
	if parseSlurmTime(s).IsZero() {
		return ""
	}
	return s
}

// parseSlurmTime reads a time as Slurm prints it, in the local zone.
func parseSlurmTime(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local)
	if err != nil {
		return time.Time{}
	}
	return t
}

// controllerDown reports whether a Slurm command failed because
// slurmctld did not answer.
func controllerDown(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "Unable to contact slurm controller") || strings.Contains(m, "Socket timed out on send/recv") ||
		strings.Contains(m, "Connection refused") && strings.Contains(m, "slurm")
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// finish answers the waits on a job that is final.
func (t *tracker) finish(ctx context.Context, id string, info jobInfo) {
	t.mu.Lock()
	ws := t.watches[id]
	delete(t.watches, id)
	t.mu.Unlock()
	if len(ws) == 0 {
		return
	}
	st, err := t.c.status(ctx, ws[0].h, info)
	for _, w := range ws {
		w.done <- outcome{st, err}
	}
}
