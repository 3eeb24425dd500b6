package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
)

// history returns n runs of 4 instances, several runs each, one of them
// live, as a store that has been used a while records them.
func history(n int) []*Run {
	var runs []*Run
	for i := range n {
		r := sampleRun(i)
		r.Address = fmt.Sprintf(`experiment.train["i=%d"]`, i%4)
		if i == 5 { // superseded, and still running
			r.Status, r.ExitCode, r.FinishedAt = providers.Running, nil, nil
		}
		runs = append(runs, r)
	}
	return runs
}

// answers is what a store says, for comparing two of them.
func answers(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "serial %d\nheads %s\nlive %s\n", s.Serial(), toJSON(t, s.Heads()), toJSON(t, s.Live()))
	all, err := s.List(Query{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "all %s\n", toJSON(t, all))
	for _, r := range all {
		got, err := s.Get(r.ID)
		if err != nil || toJSON(t, got) != toJSON(t, r) {
			t.Fatalf("Get(%s) = %v, %v; List says %s", r.ID, got, err, toJSON(t, r))
		}
		if f, err := s.Find(r.ID[:10]); err != nil || f.ID != r.ID {
			t.Fatalf("Find(%s) = %v, %v", r.ID[:10], f, err)
		}
	}
	page, _ := s.List(Query{Address: "experiment.train", Limit: 3, Offset: 2})
	fp, _ := s.WithFingerprint(all[len(all)-1].Fingerprint)
	fmt.Fprintf(&b, "page %s\nfp %s\n", toJSON(t, page), toJSON(t, fp))
	return b.String()
}

func TestHistoryHoldsWhatIsNoLongerCurrent(t *testing.T) {
	dir := t.TempDir()
	w := lockedStore(t, dir)
	mustPut(t, w, history(40)...)
	before := answers(t, w)
	if err := w.compact(); err != nil {
		t.Fatal(err)
	}
	// state.json holds the 4 heads and the live run; the rest is history.
	if len(w.runs) != 5 || w.hist.Records != 35 {
		t.Fatalf("after compaction: %d current runs, %d in the history; want 5, 35", len(w.runs), w.hist.Records)
	}
	if got := answers(t, w); got != before {
		t.Fatalf("the writer's answers changed with compaction:\n%s\nwant\n%s", got, before)
	}
	if got := answers(t, mustOpen(t, dir)); got != before {
		t.Fatalf("a reader's answers:\n%s\nwant\n%s", got, before)
	}
	// A run comes back from the history (destroy marks it cleaned): its
	// new version wins, and goes back to the history once compacted.
	old := history(40)[0]
	old.Cleaned = true
	mustPut(t, w, old)
	for _, s := range []*Store{w, mustOpen(t, dir)} {
		if got, err := s.Get(old.ID); err != nil || !got.Cleaned {
			t.Fatalf("Get of a run put again: %v, %v", got, err)
		}
	}
	if err := w.compact(); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dir)
	all, _ := r.List(Query{})
	if len(all) != 40 || r.hist.Records != 36 {
		t.Fatalf("%d runs listed (want 40), %d history records (want 36)", len(all), r.hist.Records)
	}
	if got, err := r.Get(old.ID); err != nil || !got.Cleaned {
		t.Fatalf("Get after the run went back to the history: %v, %v", got, err)
	}
}

func TestHistoryCompactionCutShort(t *testing.T) {
	// A compaction appends to the history, then replaces state.json. A
	// crash between the two leaves lines in the history that state.json
	// does not count: readers ignore them, the next writer cuts them off.
	dir := t.TempDir()
	w := lockedStore(t, dir)
	mustPut(t, w, history(20)...)
	if err := w.compact(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, w, history(40)[20:]...)
	want := answers(t, w)
	snap, _ := os.ReadFile(filepath.Join(dir, snapshotName))
	journal, _ := os.ReadFile(filepath.Join(dir, journalName))
	if err := w.compact(); err != nil {
		t.Fatal(err)
	}
	crash(w)
	os.WriteFile(filepath.Join(dir, snapshotName), snap, 0o600)
	os.WriteFile(filepath.Join(dir, journalName), journal, 0o600)

	if got := answers(t, mustOpen(t, dir)); got != want {
		t.Fatalf("after the crash:\n%s\nwant\n%s", got, want)
	}
	w = lockedStore(t, dir)
	if err := w.compact(); err != nil {
		t.Fatal(err)
	}
	if got := answers(t, mustOpen(t, dir)); got != want {
		t.Fatalf("after the next compaction:\n%s\nwant\n%s", got, want)
	}
	idx, _ := os.ReadFile(filepath.Join(dir, historyIndexName))
	if n := bytes.Count(idx, []byte("\n")); n != 35 {
		t.Fatalf("history.idx has %d lines, want 35 (the cut-short lines cut off)", n)
	}
}

func TestMigrateFromVersion1(t *testing.T) {
	// Version 1 of state.json held every run. It is read as it is; the
	// first writer moves what is no longer current to the history.
	dir := t.TempDir()
	runs := history(30)
	var b bytes.Buffer
	b.WriteString(`{"format_version":1,"lineage":"0123456789abcdef0123456789abcdef","serial":30,"runs":[`)
	for i, r := range runs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n" + toJSON(t, r))
	}
	b.WriteString("\n]}\n")
	if err := os.WriteFile(filepath.Join(dir, snapshotName), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	v1 := mustOpen(t, dir)
	want := answers(t, v1)
	if len(v1.runs) != 30 || v1.format != 1 {
		t.Fatalf("version 1: %d runs in memory, format %d", len(v1.runs), v1.format)
	}
	w := lockedStore(t, dir)
	if err := w.Unlock(); err != nil {
		t.Fatal(err)
	}
	v2 := mustOpen(t, dir)
	if v2.format != formatVersion || len(v2.runs) != 5 || v2.hist.Records != 25 || v2.Lineage() != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("after the first writer: format %d, %d current, %d in the history, lineage %s", v2.format, len(v2.runs), v2.hist.Records, v2.Lineage())
	}
	if got := answers(t, v2); got != want {
		t.Fatalf("after migration:\n%s\nwant\n%s", got, want)
	}
}

func TestHistoryIndexFollowsTheWriter(t *testing.T) {
	// A reader that read the history index reads only what compactions
	// appended since.
	dir := t.TempDir()
	w := lockedStore(t, dir)
	r := mustOpen(t, dir)
	for round := range 5 {
		runs := history(10 * (round + 1))
		for _, x := range runs {
			x.ID = fmt.Sprintf("r%d%s", round, x.ID[2:])
			x.CreatedAt = x.CreatedAt.Add(time.Duration(round) * time.Hour)
		}
		mustPut(t, w, runs...)
		if err := w.compact(); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		all, err := r.List(Query{})
		if err != nil {
			t.Fatal(err)
		}
		if want := 10 * (round + 1) * (round + 2) / 2; len(all) != want {
			t.Fatalf("round %d: %d runs, want %d", round, len(all), want)
		}
		ids := make([]string, len(all))
		for i, x := range all {
			ids[i] = x.ID
		}
		if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
			t.Fatalf("round %d: a run listed twice", round)
		}
	}
}

func TestRepairKeepsTheIntactHistory(t *testing.T) {
	// state.json is damaged past reading its header, and a line of the
	// history index in the middle too: the repair keeps the history up to
	// that line, every current record that decodes, and the damaged
	// files beside the store.
	dir := t.TempDir()
	w := lockedStore(t, dir)
	mustPut(t, w, history(40)...)
	if err := w.compact(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	idx := filepath.Join(dir, historyIndexName)
	data, _ := os.ReadFile(idx)
	lines := strings.SplitAfter(string(data), "\n")
	lines[20] = "garbage\n"
	os.WriteFile(idx, []byte(strings.Join(lines, "")), 0o600)
	snap := filepath.Join(dir, snapshotName)
	data, _ = os.ReadFile(snap)
	os.WriteFile(snap, bytes.Replace(data, []byte(`"history":{`), []byte(`"history":{"x`), 1), 0o600)

	rep, err := Repair(dir, Holder{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Dropped, func(d string) bool { return strings.HasPrefix(d, historyIndexName+" line 21:") }) {
		t.Fatalf("dropped: %q", rep.Dropped)
	}
	if !slices.ContainsFunc(rep.Backups, func(b string) bool { return strings.HasPrefix(b, historyIndexName+".damaged-") }) {
		t.Fatalf("backups: %q", rep.Backups)
	}
	s := mustOpen(t, dir)
	all, err := s.List(Query{})
	if err != nil {
		t.Fatal(err)
	}
	// 20 history records, 5 current ones.
	if len(all) != 25 || rep.Runs != 25 {
		t.Fatalf("%d runs after the repair (it says %d), want 25", len(all), rep.Runs)
	}
	for _, r := range history(40)[:20] {
		if _, err := s.Get(r.ID); err != nil && r.ID != history(40)[5].ID {
			t.Errorf("history record %s lost: %v", r.ID, err)
		}
	}
}

// TestQuotedPrefix checks the index's fast quoted-string reader against
// strconv's, interned or not.
func TestQuotedPrefix(t *testing.T) {
	intern := map[string]string{}
	for _, v := range []string{``, `experiment.train`, `experiment.train["lr=0.1,batch=32"]`, `a\b`, "tab\there", "new\nline", `"`, `\`, `\"`, "é☃", "\x00\xff"} {
		q := strconv.Quote(v)
		for _, rest := range []string{"", ` "next"`, ` tail`} {
			for _, in := range []map[string]string{nil, intern, intern} {
				got, gotRest, err := cutQuoted(q+rest, in)
				if err != nil || got != v || gotRest != rest {
					t.Errorf("cutQuoted(%s) = %q, %q, %v; want %q, %q", q+rest, got, gotRest, err, v, rest)
				}
			}
		}
	}
	for _, bad := range []string{``, `x`, `"open`, `"bad \q escape"`, `"\"`} {
		if _, _, err := cutQuoted(bad, intern); err == nil {
			t.Errorf("cutQuoted(%s): no error", bad)
		}
	}
}
