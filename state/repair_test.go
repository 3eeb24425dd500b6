package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// twoWritersJournal makes the damage of issue #13: two applies wrote one
// journal (one got in after the lock file was removed). The first wrote
// serials 1–5 and 6, the second, which had read serial 3, wrote 4 and 5
// between them.
func twoWritersJournal(t *testing.T, dir string) {
	t.Helper()
	a := lockedStore(t, dir)
	for i := range 3 {
		mustPut(t, a, sampleRun(i))
	}
	crash(a)
	journal := filepath.Join(dir, journalName)
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, journalBytes(3, false, sampleRun(3), sampleRun(4))...)      // the first apply: 4, 5
	data = append(data, journalBytes(3, true, sampleRun(10), sampleRun(11))...)     // the second: 4, 5 in one Put
	data = append(data, journalBytes(5, false, withRun(sampleRun(3), func(r *Run) { // the first again: 6
		r.Attempts = 2
	}))...)
	if err := os.WriteFile(journal, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRepairKeepsEveryIntactRecord(t *testing.T) {
	dir := t.TempDir()
	twoWritersJournal(t, dir)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "line 6: serial 4 where 6 was expected") {
		t.Fatalf("Open of a journal two writers wrote: %v", err)
	}
	// One more line, damaged in the middle.
	journal := filepath.Join(dir, journalName)
	data, _ := os.ReadFile(journal)
	lines := strings.SplitAfter(string(data), "\n")
	bad := []byte(lines[1])
	bad[30] ^= 1
	lines[1] = string(bad)
	os.WriteFile(journal, []byte(strings.Join(lines, "")+"torn tail without newline"), 0o600)

	rep, err := Repair(dir, Holder{Command: "trainrun state repair"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Intact {
		t.Fatal("Repair says the store is intact")
	}
	want := []string{"journal line 2: checksum mismatch", "journal line 9: cut short (no end of line)"}
	if strings.Join(rep.Dropped, "\n") != strings.Join(want, "\n") {
		t.Fatalf("dropped:\n%s\nwant:\n%s", strings.Join(rep.Dropped, "\n"), strings.Join(want, "\n"))
	}
	// sampleRun(1) was only in the damaged line.
	s := mustOpen(t, dir)
	var ids []string
	for _, r := range s.Runs() {
		ids = append(ids, r.ID)
	}
	for _, i := range []int{0, 2, 3, 4, 10, 11} {
		r, err := s.Get(sampleRun(i).ID)
		if err != nil {
			t.Errorf("run %d (%s) lost; have %v", i, sampleRun(i).ID, ids)
			continue
		}
		if i == 3 && r.Attempts != 2 {
			t.Errorf("run 3 holds an earlier record: attempts %d", r.Attempts)
		}
	}
	if rep.Runs != 6 || len(s.Runs()) != 6 || rep.Records != 7 {
		t.Errorf("report %+v; %d runs after", rep, len(s.Runs()))
	}
	if s.Serial() <= 6 {
		t.Errorf("serial %d after the repair: a plan made before it would not be stale", s.Serial())
	}
	// The damaged files are kept.
	if len(rep.Backups) != 2 {
		t.Fatalf("backups %v", rep.Backups)
	}
	for _, b := range rep.Backups {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Error(err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, rep.Backups[1])); !strings.HasSuffix(string(got), "torn tail without newline") {
		t.Errorf("the journal's copy is not the damaged journal")
	}
	// A writer may take over.
	w := lockedStore(t, dir)
	mustPut(t, w, sampleRun(20))
	// A repair waits for no writer: it is refused while one holds the lock.
	appendFile(t, journal, []byte("damage\n"))
	appendFile(t, journal, journalBytes(w.Serial(), false, sampleRun(21)))
	if again, err := Repair(dir, Holder{}); err == nil || !errors.As(err, new(*LockedError)) {
		t.Fatalf("Repair while locked: %+v, %v", again, err)
	}
}

func TestRepairIntactStore(t *testing.T) {
	dir := t.TempDir()
	s := lockedStore(t, dir)
	mustPut(t, s, sampleRun(1), sampleRun(2))
	s.Close()
	before, _ := os.ReadFile(filepath.Join(dir, journalName))
	rep, err := Repair(dir, Holder{})
	if err != nil || !rep.Intact || rep.Runs != 2 || len(rep.Dropped) != 0 {
		t.Fatalf("Repair of an intact store: %+v, %v", rep, err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, journalName))
	if string(before) != string(after) {
		t.Fatal("Repair changed an intact journal")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "damaged") {
			t.Errorf("%s written for an intact store", e.Name())
		}
	}
}

func TestRepairDamagedStateFile(t *testing.T) {
	dir := t.TempDir()
	s := lockedStore(t, dir)
	mustPut(t, s, sampleRun(1), sampleRun(2), sampleRun(3))
	s.compactOnClose = 0
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, snapshotName)
	data, _ := os.ReadFile(snap)
	lines := strings.Split(string(data), "\n")
	lines[2] = lines[2][:len(lines[2])/2] // the second run, cut in half
	os.WriteFile(snap, []byte(strings.Join(lines, "\n")), 0o600)
	if _, err := Open(dir); err == nil {
		t.Fatal("Open of a damaged state.json succeeded")
	}
	rep, err := Repair(dir, Holder{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Dropped) != 1 || !strings.HasPrefix(rep.Dropped[0], "state.json line 3: ") {
		t.Fatalf("dropped %q", rep.Dropped)
	}
	after := mustOpen(t, dir)
	if len(after.Runs()) != 2 || after.Serial() <= 3 {
		t.Fatalf("%d runs at serial %d", len(after.Runs()), after.Serial())
	}
	if _, err := after.Get(sampleRun(2).ID); err == nil {
		t.Fatal("the damaged run is there")
	}
}

// TestEmptySnapshotSaysSo: an empty state.json is reported as such, by
// name, as damage that state repair handles; not as "unexpected end of
// JSON input".
func TestEmptySnapshotSaysSo(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, snapshotName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	var d *damageError
	if err == nil || !strings.Contains(err.Error(), "state.json: the file is empty") || !errors.As(err, &d) {
		t.Fatalf("Open with an empty state.json: %v; want it named, said empty, and repairable", err)
	}
}
