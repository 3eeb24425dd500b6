package pgstate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/pgtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
	"github.com/trainrun/trainrun/state/pgstate"
)

func benchRun(i int) *state.Run {
	exit := 0
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return &state.Run{ID: fmt.Sprintf("%012x", 0x100000000+i), Address: fmt.Sprintf(`experiment.train["i=%d"]`, i%1000), Experiment: "train",
		Fingerprint: fmt.Sprintf("%064x", i), Status: providers.Succeeded, ExitCode: &exit, Attempts: 1, CreatedAt: t, StartedAt: &t, FinishedAt: &t,
		Compute: "local", Dir: fmt.Sprintf("/p/.trainrun/runs/%d", i)}
}

// BenchmarkClaimRecord is what an apply asks of the database per run:
// claim the instance, record the run started, record it ended, release.
func BenchmarkClaimRecord(b *testing.B) {
	srv := pgtest.Start(b)
	defer srv.Stop()
	ctx := context.Background()
	s, err := pgstate.Open(ctx, srv.NewDatabase(b), "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := range b.N {
		r := benchRun(i)
		c, err := s.Claim(ctx, r.Address, state.Holder{Command: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		r.Status = providers.Running
		if err := s.Put(r); err != nil {
			b.Fatal(err)
		}
		r.Status = providers.Succeeded
		if err := s.Put(r); err != nil {
			b.Fatal(err)
		}
		if err := c.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen100k is what status costs over 100,000 recorded runs of
// 1,000 instances: open the record (the latest run of each instance) and
// list the heads.
func BenchmarkOpen100k(b *testing.B) {
	srv := pgtest.Start(b)
	defer srv.Stop()
	ctx := context.Background()
	conn := srv.NewDatabase(b)
	s, err := pgstate.Open(ctx, conn, "bench")
	if err != nil {
		b.Fatal(err)
	}
	for k := 0; k < 100_000; k += 2000 {
		var runs []*state.Run
		for i := k; i < k+2000; i++ {
			runs = append(runs, benchRun(i))
		}
		if err := s.Put(runs...); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	b.ResetTimer()
	for range b.N {
		s, err := pgstate.Open(ctx, conn, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if h := s.Heads(); len(h) != 1000 {
			b.Fatalf("%d heads", len(h))
		}
		s.Close()
	}
}
