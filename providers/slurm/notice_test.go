package slurm

import (
	"testing"

	"github.com/trainrun/trainrun/providers"
)

// What the tracking loop sees of a job becomes notices: held and pending
// with their reason, a requeue counted once however it shows (a running
// job pending again, or REQUEUED), running with its start time.
func TestTrackerNotices(t *testing.T) {
	c := New(Options{Name: "c", Requeue: true})
	var got []providers.Notice
	w := &watch{h: providers.Handle{ID: "7"}, done: make(chan outcome, 1), notify: func(n providers.Notice) { got = append(got, n) }}
	c.tr.watches["7"] = []*watch{w}
	steps := []struct {
		info     jobInfo
		waiting  string
		requeues int
		running  bool
	}{
		{jobInfo{true, "PENDING", "", ""}, "", 0, false},
		{jobInfo{true, "PENDING", "Priority", ""}, "pending in queue (reason Priority)", 0, false},
		{jobInfo{true, "RUNNING", "", "2026-12-07T15:00:00"}, "", 0, true},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:02:00"}, "held (BeginTime 2026-12-07T15:02:00)", 1, false},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:02:00"}, "held (BeginTime 2026-12-07T15:02:00)", 1, false},
		{jobInfo{true, "RUNNING", "", "2026-12-07T15:02:05"}, "", 1, true},
		{jobInfo{true, "REQUEUED", "", ""}, "", 2, false},
		{jobInfo{true, "PENDING", "BeginTime", "2026-12-07T15:05:00"}, "held (BeginTime 2026-12-07T15:05:00)", 2, false},
		{jobInfo{true, "PENDING", "JobHeldUser", ""}, "held (reason JobHeldUser)", 2, false},
		{jobInfo{true, "PENDING", "JobArrayTaskLimit", ""}, "", 2, false},
	}
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
