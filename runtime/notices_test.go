package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// A compute's notices, repeated at every poll, become one event per
// change: waiting, requeued with the attempt that follows, resumed.
func TestWaitNoticesOncePerChange(t *testing.T) {
	log := &eventLog{}
	r := &Runtime{Sink: log.sink}
	ctx := r.withNotices(context.Background(), &state.Run{Address: "experiment.a", ID: "r1", Attempts: 1})
	down := providers.Notice{Waiting: "slurm controller unreachable"}
	held := providers.Notice{Waiting: "held (BeginTime 2026-12-07T15:02:00)", Requeues: 1}
	for _, n := range []providers.Notice{
		{}, {}, down, down, down, {}, {},
		held, held, {Requeues: 1}, {Requeues: 1, Running: time.Unix(1, 0)}, {Requeues: 1, Running: time.Unix(1, 0)},
	} {
		providers.Notify(ctx, n)
	}
	var got []string
	for _, ev := range log.events {
		s := string(ev.Type) + " " + ev.Reason
		if ev.Type == RunRequeued {
			s += " attempt " + string(rune('0'+ev.Attempt))
		}
		if ev.Type == RunResumed && ev.Started != nil {
			s += " running"
		}
		got = append(got, s)
	}
	want := []string{
		"run_waiting_on slurm controller unreachable",
		"run_resumed slurm controller unreachable",
		"run_requeued  attempt 2",
		"run_waiting_on held (BeginTime 2026-12-07T15:02:00)",
		"run_resumed held (BeginTime 2026-12-07T15:02:00) running",
	}
	if len(got) != len(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %q, want %q", got, want)
		}
	}
}
