package state

import (
	"testing"
	"time"
)

// TestLatestLeavesOutReproductions: a rerun of an old run is history, not
// the instance's current run; an address names its latest real run.
func TestLatestLeavesOutReproductions(t *testing.T) {
	s := lockedStore(t, t.TempDir())
	addr := "experiment.train"
	orig, repro := sampleRun(1), sampleRun(2)
	orig.Address, repro.Address = addr, addr
	orig.CreatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	repro.CreatedAt = orig.CreatedAt.Add(time.Hour)
	repro.ReproOf = orig.ID
	mustPut(t, s, orig, repro)
	if got := s.Latest(addr); got == nil || got.ID != orig.ID {
		t.Errorf("Latest = %v, want the original %s", got, orig.ID)
	}
	if got, err := s.Find(addr); err != nil || got.ID != orig.ID {
		t.Errorf("Find(address) = %v, %v; want the original", got, err)
	}
	if got, err := s.Find(repro.ID); err != nil || got.ID != repro.ID {
		t.Errorf("Find(id) = %v, %v; want the reproduction by its id", got, err)
	}
	if got := len(s.ByAddress()[addr]); got != 2 {
		t.Errorf("history has %d runs, want both", got)
	}
	only := lockedStore(t, t.TempDir())
	mustPut(t, only, repro)
	if got := only.Latest(addr); got != nil {
		t.Errorf("Latest with only a reproduction = %s, want none", got.ID)
	}
}
