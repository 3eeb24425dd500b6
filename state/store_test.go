package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
)

func TestRoundTrip(t *testing.T) {
	// The same content must come back whether it is read from the
	// journal, from the writer's memory, or from a compacted state.json.
	dir := filepath.Join(t.TempDir(), ".trainrun")
	s := lockedStore(t, dir)
	runs := []*Run{sampleRun(1), sampleRun(2), sampleRun(3)}
	runs[2].Metrics["loss"] = Metric{Value: math.NaN()}
	runs[2].ExitCode = nil
	mustPut(t, s, runs...)
	if s.Serial() != 3 || len(s.Lineage()) != 32 {
		t.Fatalf("serial %d, lineage %q", s.Serial(), s.Lineage())
	}
	want := toJSON(t, runs)
	if got := toJSON(t, s.Runs()); got != want {
		t.Fatalf("writer's runs:\n%s\nwant\n%s", got, want)
	}
	if !math.IsNaN(s.Runs()[2].Metrics["loss"].Value) || !math.IsInf(s.Runs()[0].Metrics["grad"].Value, 1) {
		t.Fatal("non-finite metrics did not survive")
	}
	lineage := s.Lineage()
	crash(s)

	r := mustOpen(t, dir)
	if got := toJSON(t, r.Runs()); got != want {
		t.Fatalf("replayed runs:\n%s\nwant\n%s", got, want)
	}
	if r.Serial() != 3 || r.Lineage() != lineage {
		t.Fatalf("replayed serial %d, lineage %q; want 3, %q", r.Serial(), r.Lineage(), lineage)
	}

	w := lockedStore(t, dir)
	w.compactOnClose = 0
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, journalName)); err != nil || fi.Size() != 0 {
		t.Fatalf("journal not compacted: %v, %v", fi, err)
	}
	c := mustOpen(t, dir)
	if got := toJSON(t, c.Runs()); got != want {
		t.Fatalf("compacted runs:\n%s\nwant\n%s", got, want)
	}
	if c.Serial() != 3 || c.Lineage() != lineage {
		t.Fatalf("compacted serial %d, lineage %q", c.Serial(), c.Lineage())
	}
}

func TestOpenMissingDirCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".trainrun")
	s := mustOpen(t, dir)
	if len(s.Runs()) != 0 || s.Serial() != 0 || s.Lineage() != "" {
		t.Fatalf("empty store: %d runs, serial %d, lineage %q", len(s.Runs()), s.Serial(), s.Lineage())
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open created %s: %v", dir, err)
	}
}

func TestLastWins(t *testing.T) {
	dir := t.TempDir()
	s := lockedStore(t, dir)
	a, b := sampleRun(1), sampleRun(2)
	mustPut(t, s, a, b)
	a.Status, a.Attempts = providers.Failed, 2
	mustPut(t, s, a)
	// Two versions in one Put: the later one wins.
	b.Attempts = 5
	b2 := b.Clone()
	b2.Attempts = 6
	b2.Address = "experiment.moved"
	mustPut(t, s, b, b2)

	check := func(name string, st *Store) {
		t.Helper()
		if got, _ := st.Get(a.ID); got.Status != providers.Failed || got.Attempts != 2 {
			t.Errorf("%s: a = %s attempt %d, want failed attempt 2", name, got.Status, got.Attempts)
		}
		if got, _ := st.Get(b.ID); got.Attempts != 6 {
			t.Errorf("%s: b attempt %d, want 6", name, got.Attempts)
		}
		if n := len(st.Runs()); n != 2 {
			t.Errorf("%s: %d runs, want 2", name, n)
		}
		by := st.ByAddress()
		if len(by[b.Address]) != 0 || len(by["experiment.moved"]) != 1 || len(by[a.Address]) != 1 {
			t.Errorf("%s: ByAddress does not follow the move: %v", name, by)
		}
		if st.Serial() != 5 {
			t.Errorf("%s: serial %d, want 5", name, st.Serial())
		}
	}
	check("writer", s)
	check("journal", mustOpen(t, dir))
	s.compactOnClose = 0
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("state.json", mustOpen(t, dir))
}

func TestLatestAndHistory(t *testing.T) {
	s := lockedStore(t, t.TempDir())
	addr := `experiment.train["lr=0.1"]`
	var runs []*Run
	for i, ago := range []int{3, 1, 2} { // created out of order
		r := sampleRun(i)
		r.Address = addr
		r.CreatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(ago) * time.Hour)
		runs = append(runs, r)
	}
	mustPut(t, s, runs...)
	if got := s.Latest(addr); got == nil || got.ID != runs[1].ID {
		t.Fatalf("Latest = %v, want %s", got, runs[1].ID)
	}
	if s.Latest("experiment.none") != nil {
		t.Fatal("Latest of an address without runs is not nil")
	}
	var ids []string
	for _, r := range s.ByAddress()[addr] {
		ids = append(ids, r.ID)
	}
	if want := []string{runs[0].ID, runs[2].ID, runs[1].ID}; !slices.Equal(ids, want) {
		t.Fatalf("history %v, want oldest first %v", ids, want)
	}
}

func TestPutStoresCopies(t *testing.T) {
	s := lockedStore(t, t.TempDir())
	r := sampleRun(1)
	mustPut(t, s, r)
	want := toJSON(t, r)
	r.Params["lr"][0] = '9'
	r.Inputs.Env["SEED"] = "2"
	r.Inputs.Upstream["data"][0] = "x"
	*r.ExitCode = 7
	r.Metrics["loss"] = Metric{Value: 9}
	got, _ := s.Get(r.ID)
	if toJSON(t, got) != want {
		t.Fatal("changing the run after Put changed the store")
	}
	got.Inputs.Command[0] = "changed"
	got.Handle.ID = "changed"
	*got.StartedAt = time.Time{}
	if again, _ := s.Get(r.ID); toJSON(t, again) != want {
		t.Fatal("changing what Get returned changed the store")
	}
}

func TestPutErrors(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	if err := s.Lock(Holder{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  *Run
	}{
		{"nil", nil},
		{"no id", &Run{}},
		{"space in id", &Run{ID: "a b"}},
		{"newline in id", &Run{ID: "a\nb"}},
		{"bad params", &Run{ID: "abc", Params: map[string]json.RawMessage{"x": json.RawMessage("{")}}},
	} {
		if err := s.Put(sampleRun(2), tc.run); err == nil {
			t.Errorf("%s: Put succeeded", tc.name)
		}
	}
	if s.Serial() != 0 || len(s.Runs()) != 0 {
		t.Fatalf("a failed Put recorded something: serial %d", s.Serial())
	}
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
	// Without the lock, a Put is a transaction of its own: it waits for
	// another writer's lock as long as the lock timeout, then says who
	// holds it.
	if err := s.Put(sampleRun(1)); err != nil || s.Serial() != 1 {
		t.Fatalf("Put after Unlock: %v, serial %d", err, s.Serial())
	}
	lockedStore(t, dir)
	s.SetLockTimeout(30 * time.Millisecond)
	start := time.Now()
	var locked *LockedError
	if err := s.Put(sampleRun(2)); !errors.As(err, &locked) || locked.Holder.PID != os.Getpid() {
		t.Fatalf("Put while another store holds the lock: %v", err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Fatalf("Put gave up after %v, before the lock timeout", waited)
	}
	if s.Serial() != 1 {
		t.Fatalf("serial %d after a Put that could not take the lock", s.Serial())
	}
}

// journalBytes returns the journal lines of Puts of runs, starting after
// serial.
func journalBytes(serial uint64, batch bool, runs ...*Run) []byte {
	var b []byte
	last := serial + 1
	if batch {
		last = serial + uint64(len(runs))
	}
	for i, r := range runs {
		js, _ := json.Marshal(r)
		k := serial + uint64(i) + 1
		if !batch {
			last = k
		}
		b = appendRecord(b, k, last, r.ID, string(js))
	}
	return b
}

func TestTornTailIgnored(t *testing.T) {
	full := journalBytes(2, true, sampleRun(3), sampleRun(4))
	badCRC := bytes.Clone(journalBytes(2, false, sampleRun(3)))
	badCRC[0] ^= 1
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"partial line", full[:len(full)/3]},
		{"line without newline", journalBytes(2, false, sampleRun(3))[:len(journalBytes(2, false, sampleRun(3)))-1]},
		{"complete last line with a bad checksum", badCRC},
		{"Put missing its last record", full[:bytes.IndexByte(full, '\n')+1]},
		{"Put missing its last record, then a torn line", full[:len(full)-5]},
		{"zeros", make([]byte, 4096)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := lockedStore(t, dir)
			mustPut(t, s, sampleRun(1), sampleRun(2))
			crash(s)
			journal := filepath.Join(dir, journalName)
			before, _ := os.ReadFile(journal)
			appendFile(t, journal, tc.tail)

			r := mustOpen(t, dir)
			if r.Serial() != 2 || len(r.Runs()) != 2 {
				t.Fatalf("serial %d, %d runs; want 2, 2", r.Serial(), len(r.Runs()))
			}
			w := lockedStore(t, dir)
			if after, _ := os.ReadFile(journal); !bytes.Equal(after, before) {
				t.Fatalf("the writer did not cut the torn end away: %d bytes, want %d", len(after), len(before))
			}
			mustPut(t, w, sampleRun(5))
			crash(w)
			r = mustOpen(t, dir)
			if r.Serial() != 3 || len(r.Runs()) != 3 {
				t.Fatalf("after a new Put: serial %d, %d runs; want 3, 3", r.Serial(), len(r.Runs()))
			}
		})
	}
}

func TestDamageInTheMiddle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(lines [][]byte) [][]byte
		want   string
	}{
		{"flipped byte", func(l [][]byte) [][]byte { l[1][20] ^= 0x20; return l }, "line 2: checksum mismatch"},
		{"missing line", func(l [][]byte) [][]byte { return slices.Delete(l, 1, 2) }, "line 2: serial 3 where 2 was expected"},
		{"garbage line", func(l [][]byte) [][]byte { return slices.Insert(l, 1, []byte("hello")) }, "line 2: malformed line"},
		{"incomplete Put followed by another", func(l [][]byte) [][]byte {
			b := journalBytes(1, true, sampleRun(7), sampleRun(8))
			return append([][]byte{l[0], b[:bytes.IndexByte(b, '\n')]}, l[1:]...)
		}, "line 3: serial 2 where 3 was expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := lockedStore(t, dir)
			for i := range 3 {
				mustPut(t, s, sampleRun(i))
			}
			crash(s)
			journal := filepath.Join(dir, journalName)
			data, _ := os.ReadFile(journal)
			lines := bytes.SplitAfter(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			for i := range lines {
				lines[i] = bytes.TrimSuffix(lines[i], []byte("\n"))
			}
			lines = tc.damage(lines)
			if err := os.WriteFile(journal, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			if err == nil || !strings.Contains(err.Error(), journal) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v\nwant an error naming %s and %q", err, journal, tc.want)
			}
			w, _ := Open(t.TempDir())
			w.dir = dir
			if err := w.Lock(Holder{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Lock: %v", err)
			}
		})
	}
}

func TestBadStateFile(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{`{"format_version":3,"serial":1,"runs":[]}`, "newer trainrun"},
		{`{"serial":1}`, "not a trainrun state file"},
		{`{"format_version":1,"runs":[{"id":""}]}`, "run 1: run has no id"},
		{`{"format_version":1,"runs":[{"id":"a"},{"id":"a"}]}`, "recorded twice"},
		{`{"format_version":1,`, "unexpected end"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, snapshotName), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), snapshotName) {
			t.Errorf("%s: %v, want an error with %q", tc.content, err, tc.want)
		}
	}
}

func TestMissingStateFile(t *testing.T) {
	// A journal that does not begin at serial 1 needs its state.json.
	dir := t.TempDir()
	s := lockedStore(t, dir)
	mustPut(t, s, sampleRun(1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = lockedStore(t, dir)
	s.compactOnClose = 0
	s.Close()
	s = lockedStore(t, dir)
	mustPut(t, s, sampleRun(2))
	crash(s)
	os.Remove(filepath.Join(dir, snapshotName))
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Open without state.json: %v", err)
	}
}

func TestCompactionCrashBeforeTruncate(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, journalName)
	s := lockedStore(t, dir)
	for i := range 10 {
		mustPut(t, s, sampleRun(i%4))
	}
	want := toJSON(t, s.Runs())
	saved, _ := os.ReadFile(journal)
	// Compact, then put the journal back as it was: a crash between the
	// rename of state.json and the truncation of the journal.
	if err := s.compact(); err != nil {
		t.Fatal(err)
	}
	crash(s)
	if err := os.WriteFile(journal, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	// And a temporary file of a later compaction cut short.
	tmp := filepath.Join(dir, tempPrefix+"123")
	os.WriteFile(tmp, []byte("{"), 0o600)

	r := mustOpen(t, dir)
	if r.Serial() != 10 || toJSON(t, r.Runs()) != want {
		t.Fatalf("replay after the crash: serial %d\n%s\nwant\n%s", r.Serial(), toJSON(t, r.Runs()), want)
	}
	w := lockedStore(t, dir)
	if fi, _ := os.Stat(journal); fi.Size() != 0 {
		t.Fatalf("the writer did not finish the compaction: journal has %d bytes", fi.Size())
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	mustPut(t, w, sampleRun(9))
	crash(w)
	r = mustOpen(t, dir)
	if r.Serial() != 11 || len(r.Runs()) != 5 {
		t.Fatalf("serial %d, %d runs; want 11, 5", r.Serial(), len(r.Runs()))
	}
}

func TestCompactionThreshold(t *testing.T) {
	dir := t.TempDir()
	s := lockedStore(t, dir)
	s.compactEvery = 20
	for i := range 45 {
		mustPut(t, s, sampleRun(i%5))
	}
	// Compacted after records 21 and 42: three left in the journal.
	if s.journalLines != 3 || s.snapSerial != 42 {
		t.Fatalf("journal holds %d lines, snapshot serial %d; want 3, 42", s.journalLines, s.snapSerial)
	}
	// The threshold grows with the number of runs, so that compaction
	// stays O(1) per Put.
	for i := range 30 {
		mustPut(t, s, sampleRun(100+i))
	}
	if s.journalLines != 33 {
		t.Fatalf("journal holds %d lines with 35 runs, want 33 (no compaction)", s.journalLines)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := mustOpen(t, dir); r.Serial() != 75 || len(r.Runs()) != 35 {
		t.Fatalf("serial %d, %d runs; want 75, 35", r.Serial(), len(r.Runs()))
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".trainrun")
	s := lockedStore(t, dir)
	mustPut(t, s, sampleRun(1))
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{
		"":           fs.ModeDir | 0o700,
		snapshotName: 0o600,
		journalName:  0o600,
		lockName:     0o600,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", filepath.Join(dir, name), fi.Mode(), want)
		}
	}
}

func TestFind(t *testing.T) {
	s := lockedStore(t, t.TempDir())
	mk := func(id, addr string, created int) *Run {
		return &Run{ID: id, Address: addr, CreatedAt: time.Unix(int64(created), 0).UTC()}
	}
	mustPut(t, s,
		mk("abc123000001", `experiment.train["lr=0.1"]`, 1),
		mk("abc123000002", `experiment.train["lr=0.1"]`, 3),
		mk("abd000000003", `experiment.train["lr=0.2"]`, 2),
		mk("ffff00000004", "experiment.prep", 1),
	)
	for _, tc := range []struct {
		ref, id string
		err     error
		msg     string
	}{
		{ref: "abc123000001", id: "abc123000001"},
		{ref: "abd", id: "abd000000003"},
		{ref: "f", id: "ffff00000004"},
		{ref: `experiment.train["lr=0.1"]`, id: "abc123000002"},
		{ref: "experiment.prep", id: "ffff00000004"},
		{ref: "abc", err: ErrAmbiguous, msg: `"abc" is the beginning of 2 run ids: abc123000001 (experiment.train["lr=0.1"]), abc123000002`},
		{ref: "ab", err: ErrAmbiguous, msg: "3 run ids"},
		{ref: "experiment.train", err: ErrAmbiguous, msg: `experiment.train has 2 instances; name one: experiment.train["lr=0.1"], experiment.train["lr=0.2"]`},
		{ref: "0", err: ErrNotFound, msg: `"0" is not a run id`},
		{ref: `experiment.train["lr=0.3"]`, err: ErrNotFound},
		{ref: "", err: ErrNotFound},
	} {
		r, err := s.Find(tc.ref)
		switch {
		case tc.err == nil && err != nil:
			t.Errorf("Find(%q): %v", tc.ref, err)
		case tc.err == nil && r.ID != tc.id:
			t.Errorf("Find(%q) = %s, want %s", tc.ref, r.ID, tc.id)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("Find(%q) = %v, %v; want %v", tc.ref, r, err, tc.err)
		case tc.err != nil && !strings.Contains(err.Error(), tc.msg):
			t.Errorf("Find(%q): %q does not say %q", tc.ref, err, tc.msg)
		}
	}
}

func TestNewRunID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewRunID()
		if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestLockedErrorMessage(t *testing.T) {
	e := &LockedError{
		Holder: Holder{PID: 4242, Host: "host1", Command: "trainrun apply", Since: time.Date(2026, 11, 23, 13, 5, 2, 0, time.UTC)},
		Path:   ".trainrun/lock",
	}
	// flock locks are never stale: the message must not suggest removing
	// the file, which would let a second writer in.
	want := "state is locked: trainrun apply (pid 4242 on host1) has held it since 2026-11-23 13:05:02 UTC; wait for it to finish, or stop it (the lock is released when its holder ends, even when it is killed)"
	if e.Error() != want {
		t.Fatalf("got  %s\nwant %s", e.Error(), want)
	}
	if msg := (&LockedError{Path: "x/lock"}).Error(); strings.Contains(msg, "remove") || !strings.Contains(msg, "wait for it to finish") {
		t.Fatalf("unknown holder: %s", msg)
	}
}

func TestLockInProcess(t *testing.T) {
	// flock conflicts between two opens of the file, even in one process.
	dir := t.TempDir()
	a := lockedStore(t, dir)
	b := mustOpen(t, dir)
	err := b.Lock(Holder{})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != os.Getpid() || le.Holder.Command != "test" || le.Path != filepath.Join(dir, lockName) {
		t.Fatalf("second Lock: %v (%+v)", err, le)
	}
	if err := a.Lock(Holder{}); err == nil {
		t.Fatal("locking a locked store twice succeeded")
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock(Holder{}); err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
}

func TestLockSeesEverything(t *testing.T) {
	// A reader opened before a writer's Puts, locking afterwards, must not
	// write on a stale view.
	dir := t.TempDir()
	r := mustOpen(t, dir)
	w := lockedStore(t, dir)
	mustPut(t, w, sampleRun(1), sampleRun(2))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Lock(Holder{}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, r, sampleRun(3))
	if r.Serial() != 3 || len(r.Runs()) != 3 {
		t.Fatalf("serial %d, %d runs; want 3, 3", r.Serial(), len(r.Runs()))
	}
}

func TestReloadFollowsWriter(t *testing.T) {
	dir := t.TempDir()
	w := lockedStore(t, dir)
	w.compactEvery = 5
	r := mustOpen(t, dir)
	for i := range 20 {
		mustPut(t, w, sampleRun(i%3))
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		if r.Serial() != w.Serial() || toJSON(t, r.Runs()) != toJSON(t, w.Runs()) {
			t.Fatalf("after Put %d the reader has serial %d, the writer %d", i+1, r.Serial(), w.Serial())
		}
	}
}

func appendFile(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

func ExampleStore_Find() {
	dir, _ := os.MkdirTemp("", "state")
	defer os.RemoveAll(dir)
	s, _ := Open(dir)
	defer s.Close()
	s.Lock(Holder{Command: "trainrun apply"})
	s.Put(&Run{ID: "3f2a9c01b7e4", Address: `experiment.train["lr=0.1"]`, Status: providers.Running})
	r, _ := s.Find("3f2")
	fmt.Println(r.Address, r.Status)
	// Output: experiment.train["lr=0.1"] running
}

func TestStateFileEditedByHand(t *testing.T) {
	// A state.json not laid out as compaction writes it (reformatted,
	// a field trainrun does not know) reads the same, by the slow path.
	dir := t.TempDir()
	s := lockedStore(t, dir)
	mustPut(t, s, sampleRun(1), sampleRun(2), sampleRun(3))
	want := toJSON(t, s.Runs())
	s.compactOnClose = 0
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, snapshotName)
	data, _ := os.ReadFile(path)
	var snap map[string]any
	if err := json.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	snap["runs"].([]any)[1].(map[string]any)["note"] = "added by hand"
	pretty, _ := json.MarshalIndent(snap, "", "  ")
	if err := os.WriteFile(path, pretty, 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dir)
	if got := toJSON(t, r.Runs()); got != want || r.Serial() != 3 {
		t.Fatalf("serial %d, runs\n%s\nwant\n%s", r.Serial(), got, want)
	}
}

func FuzzOpen(f *testing.F) {
	// Whatever the files hold, reading them gives runs or an error: no
	// panic, and no run without a valid id. (In memory: files would make
	// fuzzing crawl.)
	dir := f.TempDir()
	s, _ := Open(dir)
	s.Lock(Holder{})
	// Small records: the fuzzer minimizes what it finds interesting,
	// slowly when inputs are large.
	small := func(id string, attempts int) *Run {
		return &Run{ID: id, Address: `e.x["a=1"]`, Attempts: attempts, Params: map[string]json.RawMessage{"a": json.RawMessage("1")}}
	}
	s.Put(small("a", 1), small("b", 1))
	s.compact()
	s.Put(small("c", 1))
	s.Put(small("a", 2))
	crash(s)
	snap, _ := os.ReadFile(filepath.Join(dir, snapshotName))
	journal, _ := os.ReadFile(filepath.Join(dir, journalName))
	f.Add(snap, journal)
	f.Add([]byte(nil), journal)
	f.Add(snap, []byte(nil))
	f.Add(snap, journal[:len(journal)-10])
	f.Fuzz(func(t *testing.T, snap, journal []byte) {
		l := &loaded{index: newIndex(0)}
		if snap != nil && l.decodeSnapshot(string(snap)) != nil {
			return
		}
		if l.replay(journal, snap != nil, "journal", "state.json") != nil {
			return
		}
		for id, e := range l.runs {
			if CheckRunID(id) != nil || e.run.ID != id {
				t.Fatalf("run %q filed under %q", e.run.ID, id)
			}
		}
		if l.readOff > int64(len(journal)) || l.serial < l.snapSerial {
			t.Fatalf("read %d of %d bytes, serial %d, snapshot's %d", l.readOff, len(journal), l.serial, l.snapSerial)
		}
	})
}

func TestManyRuns(t *testing.T) {
	// Enough runs for Open to decode on several goroutines.
	dir := t.TempDir()
	s := lockedStore(t, dir)
	var runs []*Run
	for i := range 700 {
		runs = append(runs, sampleRun(i))
	}
	mustPut(t, s, runs[:400]...)
	for _, r := range runs[400:] {
		mustPut(t, s, r)
	}
	want := toJSON(t, s.Runs())
	crash(s)
	if got := toJSON(t, mustOpen(t, dir).Runs()); got != want {
		t.Fatal("the runs replayed from the journal differ")
	}
	s = lockedStore(t, dir)
	s.compactOnClose = 0
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := toJSON(t, mustOpen(t, dir).Runs()); got != want {
		t.Fatal("the runs read from state.json differ")
	}

	// A record that only encoding/json can tell is wrong, amid many: the
	// error names its line.
	journal := filepath.Join(dir, journalName)
	var lines []byte
	for i := range 301 {
		serial := uint64(701 + i)
		if i == 150 {
			lines = appendRecord(lines, serial, serial, "bad", `{"id":"bad","attempts":"x"}`)
			continue
		}
		r := sampleRun(1000 + i)
		js, _ := json.Marshal(r)
		lines = appendRecord(lines, serial, serial, r.ID, string(js))
	}
	appendFile(t, journal, lines)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "line 151: json: cannot unmarshal") {
		t.Fatalf("Open: %v", err)
	}
}
