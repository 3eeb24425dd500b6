package slurm

import (
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/slurmtest"
	"github.com/trainrun/trainrun/providers"
)

// What the tracking loop sees of a job becomes notices: held and pending
// with their reason, a requeue counted once however it shows (a running
// job pending again, or REQUEUED), running with its start time.
func TestTrackerNotices(t *testing.T) {
	checkNotices(t, []noticeStep{
		{jobInfo{true, "PENDING", "", "", ""}, "", 0, false},
		{jobInfo{true, "PENDING", "Priority", "", ""}, "pending in queue (reason Priority)", 0, false},
		{jobInfo{true, "RUNNING", "", "2026-12-07T15:00:00", ""}, "", 0, true},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:02:00", ""}, "held (BeginTime 2026-12-07T15:02:00)", 1, false},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:02:00", ""}, "held (BeginTime 2026-12-07T15:02:00)", 1, false},
		{jobInfo{true, "RUNNING", "", "2026-12-07T15:02:05", ""}, "", 1, true},
		{jobInfo{true, "REQUEUED", "", "", ""}, "", 2, false},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:05:00", ""}, "held (BeginTime 2026-12-07T15:05:00)", 2, false},
		{jobInfo{true, "PENDING", "JobHeldUser", "", ""}, "held (reason JobHeldUser)", 2, false},
		{jobInfo{true, "PENDING", "JobArrayTaskLimit", "", ""}, "", 2, false},
	})
}

// A requeue that came and went between two rounds of the tracking loop,
// the job never seen running (or seen running before and after), is told
// by the job's submit time moving on: Slurm queues a requeued job anew.
func TestTrackerNoticesUnseenRequeue(t *testing.T) {
	checkNotices(t, []noticeStep{
		{jobInfo{true, "PENDING", "", "", "2026-12-07T15:10:00"}, "", 0, false},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:13:00", "2026-12-07T15:11:00"}, "held (BeginTime 2026-12-07T15:13:00)", 1, false},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:13:00", "2026-12-07T15:11:00"}, "held (BeginTime 2026-12-07T15:13:00)", 1, false},
		{jobInfo{true, "RUNNING", "", "2026-12-07T15:13:01", "2026-12-07T15:11:00"}, "", 1, true},
		{jobInfo{true, "RUNNING", "", "2026-12-07T15:20:01", "2026-12-07T15:18:00"}, "", 2, true},
		{jobInfo{true, "RUNNING", "", "2026-12-07T15:20:01", "2026-12-07T15:18:00"}, "", 2, true},
		// Seen running, then pending with its old submit time, then the
		// new one (Slurm sets it once the attempt has completed): once.
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:25:00", "2026-12-07T15:18:00"}, "held (BeginTime 2026-12-07T15:25:00)", 3, false},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:25:00", "2026-12-07T15:23:00"}, "held (BeginTime 2026-12-07T15:25:00)", 3, false},
		{jobInfo{true, "RUNNING", "", "2026-12-07T15:25:01", "2026-12-07T15:23:00"}, "", 3, true},
	})
}

// On the real cluster: a job requeued behind trainrun's back (scontrol
// requeue) is told to the wait as a requeue, then held, then running
// again; the run's times are its last start's.
func TestRequeueBehindTheBackIsNoticed(t *testing.T) {
	t.Parallel()
	c, _ := cluster(t, Options{Requeue: true})
	ctx := ctxFor(t, 3*time.Minute)
	h, err := c.Submit(ctx, newSpec(t, "requeued-notice", map[string]string{"run.sh": `
echo "$TRAINRUN_ATTEMPT" >> "$TRAINRUN_OUTPUTS_DIR/attempts"
[ "$TRAINRUN_ATTEMPT" = 1 ] && sleep 120
echo done
`}, "sh", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var notices []providers.Notice
	seen := func(ok func(providers.Notice) bool) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(notices, ok)
	}
	type result struct {
		st  providers.Status
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := c.Wait(providers.WithNotices(ctx, func(n providers.Notice) {
			mu.Lock()
			notices = append(notices, n)
			mu.Unlock()
		}), h)
		done <- result{st, err}
	}()
	waitFile(t, filepath.Join(h.Dir, "outputs", "attempts"), 2*time.Minute)
	deadline := time.Now().Add(time.Minute)
	for !seen(func(n providers.Notice) bool { return !n.Running.IsZero() }) {
		if time.Now().After(deadline) {
			t.Fatal("no notice of the job running")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, err := exec.Command("scontrol", "requeue", h.ID).CombinedOutput(); err != nil {
		t.Fatalf("scontrol requeue: %v: %s", err, b)
	}
	requeued := time.Now()
	deadline = time.Now().Add(time.Minute)
	for !seen(func(n providers.Notice) bool { return n.Requeues == 1 && n.Waiting != "" }) {
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("no notice of the requeue: %+v", notices)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A requeued job waits a while before it is eligible again.
	if err := slurmtest.Start(t).Release(h.ID, requeued, time.Minute); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the requeued job did not end")
	}
	if r.err != nil || r.st.State != providers.Succeeded || r.st.Requeues != 1 {
		t.Fatalf("status %+v %v\n%s", r.st, r.err, readLog(h))
	}
	if r.st.StartedAt.Before(requeued) || r.st.EndedAt.Before(r.st.StartedAt) {
		t.Errorf("times %v to %v: not the start after the requeue at %v", r.st.StartedAt, r.st.EndedAt, requeued)
	}
	// The attempt was queued again when it was requeued (Slurm's times
	// are to the second; it sets the time once the first attempt has
	// completed, which may be after scontrol returned): its queue time is
	// its hold, not the first attempt's run.
	if q := r.st.QueuedAt; q.Before(requeued.Add(-5*time.Second).Truncate(time.Second)) || q.After(r.st.StartedAt) {
		t.Errorf("queued at %v: not the requeue at %v (started %v)", q, requeued, r.st.StartedAt)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range notices {
		if n.Requeues > 1 {
			t.Errorf("one requeue counted %d times: %+v", n.Requeues, notices)
			break
		}
	}
}

// noticeStep is one round of the tracking loop: what Slurm says of the job,
// and the notice the wait should get.
type noticeStep struct {
	info     jobInfo
	waiting  string
	requeues int
	running  bool
}

// checkNotices feeds the steps to one watch of a fresh tracker, in order.
func checkNotices(t *testing.T, steps []noticeStep) {
	t.Helper()
	c := New(Options{Name: "c", Requeue: true})
	var got []providers.Notice
	w := &watch{h: providers.Handle{ID: "7"}, done: make(chan outcome, 1), notify: func(n providers.Notice) { got = append(got, n) }}
	c.tr.watches["7"] = []*watch{w}
	for i, s := range steps {
		got = nil
		c.tr.seen("7", s.info)
		if len(got) != 1 {
			t.Fatalf("step %d: %d notices", i, len(got))
		}
		n := got[0]
		if n.Waiting != s.waiting || n.Requeues != s.requeues || n.Running.IsZero() == s.running {
			t.Errorf("step %d (%+v): notice %+v, want waiting %q, requeues %d, running %v", i, s.info, n, s.waiting, s.requeues, s.running)
		}
	}
}
