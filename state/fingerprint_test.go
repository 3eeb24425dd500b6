package state

import (
	"slices"
	"testing"
	"time"
)

// TestWithFingerprint: the fingerprint index follows every record of a
// run, through reopening and compaction.
func TestWithFingerprint(t *testing.T) {
	dir := t.TempDir()
	s := lockedStore(t, dir)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func(id, fp string, at int) *Run {
		return &Run{ID: id, Address: "experiment.a", Fingerprint: fp, CreatedAt: t0.Add(time.Duration(at) * time.Second)}
	}
	mustPut(t, s, run("000000000001", "fp1", 1), run("000000000002", "fp1", 2), run("000000000003", "", 3))
	// A run recorded before its fingerprint was known gets it later.
	mustPut(t, s, run("000000000003", "fp2", 3))
	ids := func(s *Store, fp string) []string {
		var out []string
		rs, err := s.WithFingerprint(fp)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	check := func(s *Store, when string) {
		t.Helper()
		if got := ids(s, "fp1"); !slices.Equal(got, []string{"000000000002", "000000000001"}) {
			t.Errorf("%s: fp1 → %q, want both, newest first", when, got)
		}
		if got := ids(s, "fp2"); !slices.Equal(got, []string{"000000000003"}) {
			t.Errorf("%s: fp2 → %q", when, got)
		}
		if got := ids(s, ""); got != nil {
			t.Errorf("%s: the empty fingerprint → %q", when, got)
		}
		if got := ids(s, "nope"); got != nil {
			t.Errorf("%s: unknown → %q", when, got)
		}
	}
	check(s, "written")
	// Moved to another fingerprint: found there only.
	mustPut(t, s, run("000000000001", "fp2", 1))
	if got := ids(s, "fp1"); !slices.Equal(got, []string{"000000000002"}) {
		t.Errorf("after a change: fp1 → %q", got)
	}
	mustPut(t, s, run("000000000001", "fp1", 1))
	s.compactOnClose = 0
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(mustOpen(t, dir), "reopened")
	// The records returned are copies.
	rs, _ := mustOpen(t, dir).WithFingerprint("fp2")
	rs[0].Fingerprint = "x"
	check(mustOpen(t, dir), "after changing a copy")
}
