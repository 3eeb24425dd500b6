package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/trainrun/trainrun/providers"
)

// storeWith returns a directory holding n sample runs of about 1 KB,
// compacted into state.json when compacted, else all in the journal.
func storeWith(b *testing.B, n int, compacted bool) string {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Lock(Holder{}); err != nil {
		b.Fatal(err)
	}
	s.compactEvery = 1 << 30
	for i := range n {
		if err := s.Put(sampleRun(i)); err != nil {
			b.Fatal(err)
		}
	}
	if compacted {
		s.compactOnClose = 0
	} else {
		s.compactOnClose = 1 << 30
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

func benchmarkOpen(b *testing.B, n int, compacted bool) {
	dir := storeWith(b, n, compacted)
	var size int64
	for _, name := range []string{snapshotName, journalName} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			size += fi.Size()
		}
	}
	b.SetBytes(size)
	for b.Loop() {
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.runs) != n {
			b.Fatalf("%d runs, want %d", len(s.runs), n)
		}
		s.Close()
	}
}

// BenchmarkOpen1000 is what every trainrun plan pays: 1000 runs of ~1 KB.
func BenchmarkOpen1000(b *testing.B) { benchmarkOpen(b, 1000, true) }

// BenchmarkOpen1000Journal is the same, all in the journal.
func BenchmarkOpen1000Journal(b *testing.B) { benchmarkOpen(b, 1000, false) }

// BenchmarkOpen1000Plan adds what the planner does next: Latest for every
// instance.
func BenchmarkOpen1000Plan(b *testing.B) {
	dir := storeWith(b, 1000, true)
	s, _ := Open(dir)
	var addrs []string
	for _, r := range s.Runs() {
		addrs = append(addrs, r.Address)
	}
	s.Close()
	for b.Loop() {
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range addrs {
			if s.Latest(a) == nil {
				b.Fatal("no run")
			}
		}
		s.Close()
	}
}

// BenchmarkPut is one run transition with 10,000 runs recorded: its cost
// must not grow with them (compactions included, amortized).
func BenchmarkPut(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			dir := storeWith(b, n, true)
			s, err := Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Lock(Holder{}); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			r := sampleRun(n / 2)
			for b.Loop() {
				r.Attempts++
				if err := s.Put(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLatest1000(b *testing.B) {
	dir := storeWith(b, 1000, true)
	s, _ := Open(dir)
	var addrs []string
	for _, r := range s.Runs() {
		addrs = append(addrs, r.Address)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, a := range addrs {
			if s.Latest(a) == nil {
				b.Fatal("no run")
			}
		}
	}
}

// BenchmarkWithFingerprint is the run cache's lookup with 100,000 runs
// recorded: an index, against the scan it replaces.
func BenchmarkWithFingerprint(b *testing.B) {
	const n = 100_000
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Lock(Holder{}); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]*Run, 0, 1000)
	for i := range n {
		batch = append(batch, sampleRun(i))
		if len(batch) == cap(batch) {
			if err := s.Put(batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	fp := sampleRun(n / 2).Fingerprint
	b.Run("index", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rs, err := s.WithFingerprint(fp); err != nil || len(rs) != 1 {
				b.Fatalf("%d runs", len(rs))
			}
		}
	})
	// The least a scan costs: no copies, no locks.
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			found := 0
			for _, e := range s.runs {
				if e.run.Fingerprint == fp {
					found++
				}
			}
			if found != 1 {
				b.Fatalf("%d runs", found)
			}
		}
	})
}

// BenchmarkClaimAndRecord is what concurrent applies add to each run: the
// instance claimed, the run recorded three times (pending, running,
// succeeded) each in a transaction of its own, the claim released. Its
// peer, Locked, records the same three times under a lock held throughout,
// as one apply alone did before applies ran side by side.
func BenchmarkClaimAndRecord(b *testing.B) {
	for _, mode := range []string{"Locked", "Claimed"} {
		b.Run(mode, func(b *testing.B) {
			dir := storeWith(b, 1000, true)
			s, err := Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if mode == "Locked" {
				if err := s.Lock(Holder{}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				r := sampleRun(i)
				r.ID = fmt.Sprintf("%012x", 1<<40+i)
				var c Claim
				if mode == "Claimed" {
					if c, err = s.Claim(ctx, r.Address, Holder{}); err != nil {
						b.Fatal(err)
					}
				}
				for _, st := range []providers.State{providers.Pending, providers.Running, providers.Succeeded} {
					r.Status = st
					if err := s.Put(r); err != nil {
						b.Fatal(err)
					}
				}
				if c != nil {
					if err := c.Release(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkQuery100k is what status, runs -limit 50 and show cost with
// 100,000 runs recorded over 30 instances: the store opened afresh each
// time, as each command opens it, then queried.
func BenchmarkQuery100k(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	s, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Lock(Holder{}); err != nil {
		b.Fatal(err)
	}
	batch := make([]*Run, 0, 1000)
	for i := range n {
		batch = append(batch, sampleRun(i))
		if len(batch) == cap(batch) {
			if err := s.Put(batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	old := sampleRun(n / 2).ID // in the history
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for _, q := range []struct {
		name string
		f    func(s *Store) error
	}{
		{"Heads", func(s *Store) error {
			if len(s.Heads()) != 30 {
				return fmt.Errorf("not 30 heads")
			}
			return nil
		}},
		{"List50", func(s *Store) error {
			rs, err := s.List(Query{Limit: 50})
			if err == nil && len(rs) != 50 {
				err = fmt.Errorf("%d runs", len(rs))
			}
			return err
		}},
		{"Get", func(s *Store) error { _, err := s.Get(old); return err }},
		{"Find", func(s *Store) error { _, err := s.Find(old); return err }},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				if err := q.f(s); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
