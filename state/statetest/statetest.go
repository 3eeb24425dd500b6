// Package statetest is the conformance suite of state backends. Every
// backend (the local directory, PostgreSQL) runs it and so keeps the
// promises of package state's interfaces: what is put comes back, the
// latest run and the queries answer alike, transactions see each other,
// claims give an instance to one process at a time and end with it, and
// writers that are killed -9 at any moment lose nothing that they were
// told was written and write nothing twice.
//
// A backend's tests call Run, and their TestMain calls Main, since the
// suite starts the test binary again as the other processes it needs:
//
//	func TestMain(m *testing.M) { statetest.Main(m, backend) }
//	func TestConformance(t *testing.T) { statetest.Run(t, backend) }
package statetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Backend is a backend under test.
type Backend struct {
	// New returns where a new, empty record lives (a directory, a
	// database project): a location for Open.
	New func(t testing.TB) string
	// Open opens the record at location; helper processes call it too.
	Open func(location string) (state.Backend, error)
}

// Environment variables of the helper processes.
const (
	envHelper   = "STATETEST_HELPER"
	envLocation = "STATETEST_LOCATION"
	envArg      = "STATETEST_ARG"
)

// Main runs the tests, or, in a process that the suite started, the
// helper it asked for.
func Main(m *testing.M, b Backend) {
	if kind := os.Getenv(envHelper); kind != "" {
		os.Exit(helperMain(b, kind, os.Getenv(envLocation), os.Getenv(envArg)))
	}
	os.Exit(m.Run())
}

// Run runs the conformance suite against b.
func Run(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"LastVersionWins", testLastVersionWins},
		{"PutIsAllOrNothing", testPutAllOrNothing},
		{"Latest", testLatest},
		{"Find", testFind},
		{"List", testList},
		{"WithFingerprint", testWithFingerprint},
		{"Reload", testReload},
		{"Update", testUpdate},
		{"LockedByAnotherProcess", testLockedByProcess},
		{"Claim", testClaim},
		{"ClaimEndsWithItsProcess", testClaimEndsWithProcess},
		{"Records", testRecords},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ExactlyOnce", testExactlyOnce},
		{"KilledWriters", testKilledWriters},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

// open opens the record at loc, closed when the test ends.
func open(t testing.TB, b Backend, loc string) state.Backend {
	t.Helper()
	s, err := b.Open(loc)
	if err != nil {
		t.Fatalf("open %s: %v", loc, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t testing.TB, s state.Recorder, runs ...*state.Run) {
	t.Helper()
	if err := s.Put(runs...); err != nil {
		t.Fatal(err)
	}
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// epoch is when the test runs were created.
var epoch = time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)

// sample returns a run of about 1 KB, as trainrun records them: run i of
// instance experiment.train["i=ADDR"].
func sample(i, addr int) *state.Run {
	exit := 0
	step := 100.0
	start := epoch.Add(time.Duration(i) * time.Second)
	end := start.Add(42 * time.Second)
	p, _ := json.Marshal(addr)
	params := map[string]json.RawMessage{"i": p}
	return &state.Run{
		ID:          fmt.Sprintf("%012x", 0x100000000+i*7919),
		Address:     fmt.Sprintf(`experiment.train["i=%d"]`, addr),
		Experiment:  "train",
		Fingerprint: fmt.Sprintf("%064x", i*104729+1),
		Inputs: &state.FingerprintInputs{
			Snapshot:    fmt.Sprintf("%064x", 12345),
			SourceDir:   "src",
			Command:     []string{"python3", "train.py", "--epochs", "10"},
			Env:         map[string]string{"SEED": "1"},
			Params:      params,
			Environment: fmt.Sprintf("%064x", 777),
			Outputs:     []string{"model.bin"},
		},
		Git:         &state.Git{Commit: fmt.Sprintf("%040x", 31337), Dirty: i%2 == 0},
		Compute:     "local",
		Environment: "python",
		Params:      params,
		Settings:    state.Settings{Compute: "local", Resources: providers.Resources{CPUs: 2}, Timeout: "2h"},
		Status:      providers.Succeeded,
		ExitCode:    &exit,
		Attempts:    1,
		Handle:      &providers.Handle{Compute: "local", Kind: "local", ID: strconv.Itoa(10000 + i), Dir: fmt.Sprintf("/p/.trainrun/local/runs/%d", i), StartedAt: start, StartTicks: "123"},
		CreatedAt:   start.Add(-time.Second),
		StartedAt:   &start,
		FinishedAt:  &end,
		Dir:         fmt.Sprintf("/p/.trainrun/runs/%d", i),
		Metrics:     map[string]state.Metric{"loss": {Value: 0.25, Step: &step, Time: end}},
		Outputs:     fmt.Sprintf("%064x", i+5),
	}
}

func testRoundTrip(t *testing.T, b Backend) {
	loc := b.New(t)
	s := open(t, b, loc)
	if s.Serial() != 0 || s.Lineage() != "" || len(s.Heads()) != 0 {
		t.Fatalf("a new record: serial %d, lineage %q, %d heads", s.Serial(), s.Lineage(), len(s.Heads()))
	}
	runs := []*state.Run{sample(1, 1), sample(2, 2), sample(3, 3)}
	runs[2].ExitCode = nil
	runs[2].Status = providers.Running
	runs[2].FinishedAt = nil
	put(t, s, runs...)
	if s.Serial() != 3 || s.Lineage() == "" {
		t.Fatalf("after a Put of 3 runs: serial %d, lineage %q", s.Serial(), s.Lineage())
	}
	lineage := s.Lineage()
	check := func(name string, s state.Backend) {
		t.Helper()
		for _, r := range runs {
			got, err := s.Get(r.ID)
			if err != nil {
				t.Fatalf("%s: Get(%s): %v", name, r.ID, err)
			}
			if toJSON(t, got) != toJSON(t, r) {
				t.Fatalf("%s: Get(%s):\n%s\nwant\n%s", name, r.ID, toJSON(t, got), toJSON(t, r))
			}
		}
		if s.Serial() != 3 || s.Lineage() != lineage {
			t.Fatalf("%s: serial %d, lineage %q; want 3, %q", name, s.Serial(), s.Lineage(), lineage)
		}
		if _, err := s.Get("nosuchrun"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("%s: Get of an unknown id: %v", name, err)
		}
	}
	check("writer", s)
	check("reader", open(t, b, loc))
	// Copies in and out: changing a run after Put, or what Get returned,
	// changes nothing recorded.
	runs[0].Inputs.Command[0] = "changed"
	got, _ := s.Get(runs[1].ID)
	got.Metrics["loss"] = state.Metric{Value: 1}
	runs[0].Inputs.Command[0] = "python3"
	check("after changing copies", s)
}

func testLastVersionWins(t *testing.T, b Backend) {
	loc := b.New(t)
	s := open(t, b, loc)
	a := sample(1, 1)
	a.Status = providers.Pending
	a.ExitCode, a.FinishedAt, a.Handle = nil, nil, nil
	put(t, s, a)
	a.Status = providers.Running
	a.Handle = &providers.Handle{Compute: "local", Kind: "local", ID: "42"}
	put(t, s, a)
	// Two versions of one run in one Put: the later one wins.
	a2 := a.Clone()
	a2.Status, a2.Attempts = providers.Failed, 2
	a3 := a2.Clone()
	a3.Attempts = 3
	put(t, s, a2, a3)
	for _, s := range []state.Backend{s, open(t, b, loc)} {
		got, err := s.Get(a.ID)
		if err != nil || got.Status != providers.Failed || got.Attempts != 3 {
			t.Fatalf("Get: %+v, %v; want the failed third attempt", got, err)
		}
		if s.Serial() != 4 {
			t.Fatalf("serial %d, want 4", s.Serial())
		}
		if all, _ := s.List(state.Query{}); len(all) != 1 {
			t.Fatalf("%d runs listed, want 1", len(all))
		}
	}
}

func testPutAllOrNothing(t *testing.T, b Backend) {
	s := open(t, b, b.New(t))
	put(t, s, sample(1, 1))
	bad := sample(2, 2)
	bad.Params = map[string]json.RawMessage{"x": json.RawMessage("{")}
	for _, tc := range []struct {
		name string
		run  *state.Run
	}{
		{"nil", nil},
		{"no id", &state.Run{Address: "experiment.x"}},
		{"space in id", &state.Run{ID: "a b"}},
		{"newline in id", &state.Run{ID: "a\nb"}},
		{"bad params", bad},
	} {
		if err := s.Put(sample(3, 3), tc.run); err == nil {
			t.Errorf("%s: Put succeeded", tc.name)
		}
	}
	if s.Serial() != 1 {
		t.Fatalf("failed Puts recorded something: serial %d", s.Serial())
	}
	if _, err := s.Get(sample(3, 3).ID); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("the good run of a failed Put was recorded: %v", err)
	}
}

func testLatest(t *testing.T, b Backend) {
	loc := b.New(t)
	s := open(t, b, loc)
	old, newer, repro := sample(1, 7), sample(2, 7), sample(3, 7)
	repro.ReproOf = newer.ID
	// Same CreatedAt: the greater id wins.
	tieA, tieB := sample(10, 8), sample(11, 8)
	tieA.CreatedAt, tieB.CreatedAt = epoch, epoch
	if tieA.ID > tieB.ID {
		tieA, tieB = tieB, tieA
	}
	live := sample(4, 9)
	live.Status, live.ExitCode, live.FinishedAt = providers.Running, nil, nil
	superseded := sample(0, 9) // older than live, and live itself
	superseded.Status, superseded.ExitCode, superseded.FinishedAt = providers.Running, nil, nil
	put(t, s, repro, newer, old, tieB, tieA, live, superseded)
	for name, s := range map[string]state.Backend{"writer": s, "reader": open(t, b, loc)} {
		for addr, want := range map[string]string{newer.Address: newer.ID, tieA.Address: tieB.ID, live.Address: live.ID, "experiment.none": ""} {
			got := s.Latest(addr)
			if (got == nil) != (want == "") || got != nil && got.ID != want {
				t.Errorf("%s: Latest(%s) = %v, want %q", name, addr, got, want)
			}
		}
		var heads []string
		for _, r := range s.Heads() {
			heads = append(heads, r.Address+" "+r.ID)
		}
		want := []string{newer.Address + " " + newer.ID, tieB.Address + " " + tieB.ID, live.Address + " " + live.ID}
		if !slices.Equal(heads, want) {
			t.Errorf("%s: Heads:\n%s\nwant\n%s", name, strings.Join(heads, "\n"), strings.Join(want, "\n"))
		}
		var lives []string
		for _, r := range s.Live() {
			lives = append(lives, r.ID)
		}
		if !slices.Equal(lives, []string{superseded.ID, live.ID}) {
			t.Errorf("%s: Live = %v, want %v (oldest first)", name, lives, []string{superseded.ID, live.ID})
		}
	}
	// A live run that ends leaves Live.
	live.Status = providers.Succeeded
	put(t, s, live)
	if l := s.Live(); len(l) != 1 || l[0].ID != superseded.ID {
		t.Fatalf("Live after the run ended: %v", l)
	}
}

func testFind(t *testing.T, b Backend) {
	s := open(t, b, b.New(t))
	r1, r2 := sample(1, 1), sample(2, 2)
	r1.ID, r2.ID = "abc123000001", "abd123000002"
	single := sample(3, 0)
	single.ID, single.Address = "ffff00000003", "experiment.solo"
	put(t, s, r1, r2, single)
	for _, tc := range []struct {
		ref, want string
		err       error
	}{
		{ref: r1.ID, want: r1.ID},
		{ref: "abc", want: r1.ID},
		{ref: "abd1", want: r2.ID},
		{ref: r2.Address, want: r2.ID},
		{ref: "experiment.solo", want: single.ID},
		{ref: "ab", err: state.ErrAmbiguous},
		{ref: "experiment.train", err: state.ErrAmbiguous},
		{ref: "zzz", err: state.ErrNotFound},
		{ref: "", err: state.ErrNotFound},
	} {
		got, err := s.Find(tc.ref)
		switch {
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("Find(%q) = %v, %v; want %v", tc.ref, got, err, tc.err)
		case tc.err == nil && (err != nil || got.ID != tc.want):
			t.Errorf("Find(%q) = %v, %v; want %s", tc.ref, got, err, tc.want)
		}
	}
	// An ambiguous prefix names the runs; a sweep's experiment names
	// its instances.
	if _, err := s.Find("ab"); err == nil || !strings.Contains(err.Error(), r1.ID) || !strings.Contains(err.Error(), r2.ID) {
		t.Errorf("Find(ab): %v", err)
	}
	if _, err := s.Find("experiment.train"); err == nil || !strings.Contains(err.Error(), r1.Address) {
		t.Errorf("Find(experiment.train): %v", err)
	}
}

func testList(t *testing.T, b Backend) {
	s := open(t, b, b.New(t))
	var all []*state.Run
	for i := range 30 {
		r := sample(i, i%3)
		if i%5 == 0 {
			r.Status = providers.Failed
		}
		if i == 29 {
			r.Experiment, r.Address = "eval", "experiment.eval"
		}
		all = append(all, r)
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	put(t, s, all[:10]...)
	put(t, s, all[10:]...)
	ids := func(runs []*state.Run) []string {
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	want := func(q state.Query) []string {
		var sel []*state.Run
		for _, r := range all {
			if q.Match(r) {
				sel = append(sel, r)
			}
		}
		slices.SortFunc(sel, func(a, b *state.Run) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		if q.Offset > 0 {
			sel = sel[min(q.Offset, len(sel)):]
		}
		if q.Limit > 0 && len(sel) > q.Limit {
			sel = sel[:q.Limit]
		}
		return ids(sel)
	}
	for _, q := range []state.Query{
		{},
		{Limit: 5},
		{Limit: 5, Offset: 5},
		{Offset: 28},
		{Offset: 40},
		{Address: `experiment.train["i=1"]`},
		{Address: "experiment.train"},
		{Address: "experiment.eval"},
		{Address: "experiment.nope"},
		{Status: []providers.State{providers.Failed}},
		{Status: []providers.State{providers.Failed, providers.Running}, Address: "experiment.train", Limit: 3},
		{Since: epoch.Add(20 * time.Second)},
		{Since: epoch.Add(20 * time.Second), Limit: 2, Offset: 1},
		{Since: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}, // past what nanoseconds since 1970 can say
		{Since: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := s.List(q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if w := want(q); !slices.Equal(ids(got), w) {
			t.Errorf("List(%+v):\n%v\nwant\n%v", q, ids(got), w)
		}
	}
}

func testWithFingerprint(t *testing.T, b Backend) {
	s := open(t, b, b.New(t))
	a, c, d := sample(1, 1), sample(2, 2), sample(3, 3)
	c.Fingerprint = a.Fingerprint
	put(t, s, a, c, d)
	got, err := s.WithFingerprint(a.Fingerprint)
	if err != nil || len(got) != 2 || got[0].ID != c.ID || got[1].ID != a.ID {
		t.Fatalf("WithFingerprint: %v, %v; want %s, %s", got, err, c.ID, a.ID)
	}
	if got, err := s.WithFingerprint("none"); err != nil || len(got) != 0 {
		t.Fatalf("WithFingerprint(none): %v, %v", got, err)
	}
}

func testReload(t *testing.T, b Backend) {
	loc := b.New(t)
	w, r := open(t, b, loc), open(t, b, loc)
	put(t, w, sample(1, 1))
	for i := range 50 {
		put(t, w, sample(i+2, i%5))
		if i%10 == 0 {
			if err := r.Reload(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if r.Serial() != w.Serial() || r.Lineage() != w.Lineage() || toJSON(t, r.Heads()) != toJSON(t, w.Heads()) {
		t.Fatalf("after Reload: serial %d lineage %q; the writer's %d %q", r.Serial(), r.Lineage(), w.Serial(), w.Lineage())
	}
	// A reader's Put catches up with what others wrote first.
	put(t, r, sample(100, 100))
	if r.Serial() != 52 {
		t.Fatalf("serial %d after the reader's Put, want 52", r.Serial())
	}
}

func testUpdate(t *testing.T, b Backend) {
	loc := b.New(t)
	s, other := open(t, b, loc), open(t, b, loc)
	put(t, other, sample(1, 1))
	ctx := context.Background()
	a := sample(2, 1)
	err := s.Update(ctx, func(tx state.Tx) error {
		// Up to date with the other writer, though never reloaded.
		if tx.Serial() != 1 || tx.Latest(a.Address) == nil || tx.Latest(a.Address).ID != sample(1, 1).ID {
			return fmt.Errorf("the transaction does not see the other writer's run: serial %d", tx.Serial())
		}
		if err := tx.Put(a); err != nil {
			return err
		}
		// And sees its own.
		if l := tx.Latest(a.Address); l == nil || l.ID != a.ID {
			return fmt.Errorf("Latest in the transaction after its Put: %v", l)
		}
		if got, err := tx.Get(a.ID); err != nil || got.ID != a.ID {
			return fmt.Errorf("Get in the transaction after its Put: %v, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Serial() != 2 || s.Latest(a.Address).ID != a.ID {
		t.Fatalf("after Update: serial %d", s.Serial())
	}
	// An error from fn writes nothing.
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx state.Tx) error {
		if err := tx.Put(sample(3, 3)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || s.Serial() != 2 {
		t.Fatalf("failed Update: %v, serial %d", err, s.Serial())
	}
	if err := other.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(sample(3, 3).ID); !errors.Is(err, state.ErrNotFound) || other.Serial() != 2 {
		t.Fatalf("a failed Update wrote: %v, serial %d", err, other.Serial())
	}
}

func testLockedByProcess(t *testing.T, b Backend) {
	loc := b.New(t)
	h := startHelper(t, b, "lock", loc, "")
	h.expect(t, "locked")
	s := open(t, b, loc)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Update(ctx, func(tx state.Tx) error { return tx.Put(sample(1, 1)) })
	var locked *state.LockedError
	if !errors.As(err, &locked) || locked.Holder.PID != h.cmd.Process.Pid || locked.Holder.Command != "statetest lock" {
		t.Fatalf("Update while another process holds the lock: %v", err)
	}
	if err := s.Lock(state.Holder{}); !errors.As(err, &locked) {
		t.Fatalf("Lock while another process holds it: %v", err)
	}
	// The holder is killed: the lock is free.
	h.kill()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Update(ctx, func(tx state.Tx) error { return tx.Put(sample(1, 1)) }); err != nil {
		t.Fatalf("Update after the holder was killed: %v", err)
	}
	if err := s.Lock(state.Holder{Command: "test"}); err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	put(t, s, sample(2, 2)) // under the lock
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
	if s.Serial() != 2 {
		t.Fatalf("serial %d, want 2", s.Serial())
	}
}

func testClaim(t *testing.T, b Backend) {
	loc := b.New(t)
	s, other := open(t, b, loc), open(t, b, loc)
	const addr = `experiment.train["i=1"]`
	if _, held, err := s.Claimant(addr); held || err != nil {
		t.Fatalf("Claimant of an unclaimed instance: %v, %v", held, err)
	}
	c, err := s.Claim(context.Background(), addr, state.Holder{Command: "trainrun apply"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Address() != addr {
		t.Fatalf("claim of %q", c.Address())
	}
	h, held, err := other.Claimant(addr)
	if !held || err != nil || h.PID != os.Getpid() || h.Command != "trainrun apply" {
		t.Fatalf("Claimant: %+v, %v, %v", h, held, err)
	}
	// Another claimant waits, and gives up when its context is done.
	start := time.Now() // before the deadline is set: it is measured from then
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = other.Claim(ctx, addr, state.Holder{})
	var claimed *state.ClaimedError
	if !errors.As(err, &claimed) || claimed.Holder.PID != os.Getpid() || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim of a claimed instance: %v", err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("Claim gave up before its context was done")
	}
	// Other instances are free.
	c2, err := other.Claim(context.Background(), `experiment.train["i=2"]`, state.Holder{})
	if err != nil {
		t.Fatalf("Claim of another instance: %v", err)
	}
	c2.Release()
	// A waiting claimant gets the instance once it is released.
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := other.Claim(ctx, addr, state.Holder{})
		if err == nil {
			err = c.Release()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the waiting claimant: %v", err)
	}
	if _, held, _ := s.Claimant(addr); held {
		t.Fatal("still claimed after Release")
	}
	select {
	case <-c.Lost():
		t.Fatal("a released claim says it was lost")
	default:
	}
}

func testClaimEndsWithProcess(t *testing.T, b Backend) {
	loc := b.New(t)
	const addr = `experiment.train["i=1"]`
	h := startHelper(t, b, "claim", loc, addr)
	h.expect(t, "claimed")
	s := open(t, b, loc)
	holder, held, err := s.Claimant(addr)
	if !held || err != nil || holder.PID != h.cmd.Process.Pid {
		t.Fatalf("Claimant: %+v, %v, %v; want pid %d", holder, held, err, h.cmd.Process.Pid)
	}
	h.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := s.Claim(ctx, addr, state.Holder{})
	if err != nil {
		t.Fatalf("Claim after the claimant was killed: %v", err)
	}
	c.Release()
}

func testRecords(t *testing.T, b Backend) {
	loc := b.New(t)
	s := open(t, b, loc)
	comps, err := s.Computes()
	if err != nil {
		t.Fatal(err)
	}
	if comps.Get("gpu") != nil || len(comps.All()) != 0 {
		t.Fatal("a new record has computes")
	}
	rec := &state.Compute{Name: "gpu", Kind: "ssh", AttachedAt: epoch,
		Hosts: []providers.HostFacts{{Host: "a.example.org", OS: "linux", CPUs: 8, Memory: 1 << 34, GPUs: []string{"A100 80 GB"}}}}
	if err := comps.Put(rec); err != nil {
		t.Fatal(err)
	}
	rec2 := *rec
	rec2.Name = "cpu"
	if err := comps.Put(&rec2); err != nil {
		t.Fatal(err)
	}
	envs, err := s.Environments()
	if err != nil {
		t.Fatal(err)
	}
	lock, err := envs.PutLock("numpy==2.0\n")
	if err != nil {
		t.Fatal(err)
	}
	env := &state.Environment{Name: "torch", Compute: "gpu", ComputeKind: "ssh", Location: "/envs/x", Lock: lock, Created: true, PreparedAt: epoch,
		Spec: providers.EnvSpec{ID: "envid", Kind: "python", Requirements: []string{"numpy"}, Attrs: map[string]string{"python": "3.11"}}}
	if err := envs.Put(env); err != nil {
		t.Fatal(err)
	}
	env2 := *env
	env2.Removed = true
	if err := envs.Put(&env2); err != nil { // replaces it
		t.Fatal(err)
	}

	r := open(t, b, loc)
	rc, err := r.Computes()
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.Get("gpu"); got == nil || toJSON(t, got) != toJSON(t, rec) {
		t.Fatalf("compute record read back: %v", got)
	}
	if all := rc.All(); len(all) != 2 || all[0].Name != "cpu" || all[1].Name != "gpu" {
		t.Fatalf("All: %v", all)
	}
	re, err := r.Environments()
	if err != nil {
		t.Fatal(err)
	}
	if all := re.All(); len(all) != 1 || toJSON(t, all[0]) != toJSON(t, &env2) {
		t.Fatalf("environment records read back: %s", toJSON(t, all))
	}
	if got := re.Find("gpu", "envid", ""); got == nil || !got.Removed {
		t.Fatalf("Find: %v", got)
	}
	if got := re.Last("torch", "gpu"); got == nil || got.Location != "/envs/x" {
		t.Fatalf("Last: %v", got)
	}
	if spec, ok := re.Spec("envid"); !ok || spec.Attrs["python"] != "3.11" {
		t.Fatalf("Spec: %v, %v", spec, ok)
	}
	if text, err := re.Lock(lock); err != nil || text != "numpy==2.0\n" {
		t.Fatalf("Lock: %q, %v", text, err)
	}
}

// counterID is the run that the concurrent writers all update.
const counterID = "counter00000"

func counterRun() *state.Run {
	return &state.Run{ID: counterID, Address: "experiment.counter", Experiment: "counter", Status: providers.Running, CreatedAt: epoch}
}

func testConcurrentWriters(t *testing.T, b Backend) {
	// Several processes each increment one run's Attempts in a
	// transaction that also records a run of its own: no increment may
	// be lost or doubled, and each goes with its own run.
	loc := b.New(t)
	s := open(t, b, loc)
	put(t, s, counterRun())
	const procs, each = 4, 40
	var hs []*helper
	for p := range procs {
		hs = append(hs, startHelper(t, b, "increment", loc, fmt.Sprintf("%d:%d", p, each)))
	}
	for _, h := range hs {
		if err := h.wait(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	c, err := s.Get(counterID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Attempts != procs*each {
		t.Fatalf("counter %d, want %d", c.Attempts, procs*each)
	}
	if want := uint64(1 + 2*procs*each); s.Serial() != want {
		t.Fatalf("serial %d, want %d", s.Serial(), want)
	}
	runs, err := s.List(state.Query{Address: "experiment.inc"})
	if err != nil || len(runs) != procs*each {
		t.Fatalf("%d runs of the writers, want %d: %v", len(runs), procs*each, err)
	}
}

func testExactlyOnce(t *testing.T, b Backend) {
	// Applies racing over the same instances, each claiming an instance
	// and starting it only when no run of it is recorded: each instance
	// runs exactly once.
	loc := b.New(t)
	const procs, instances = 5, 40
	var hs []*helper
	for p := range procs {
		hs = append(hs, startHelper(t, b, "apply", loc, fmt.Sprintf("%d:%d", p, instances)))
	}
	started := 0
	for _, h := range hs {
		out, err := io.ReadAll(h.out)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.wait(); err != nil {
			t.Fatalf("apply: %v", err)
		}
		started += strings.Count(string(out), "started ")
	}
	s := open(t, b, loc)
	if started != instances {
		t.Fatalf("%d runs started for %d instances", started, instances)
	}
	runs, err := s.List(state.Query{})
	if err != nil || len(runs) != instances || s.Serial() != instances {
		t.Fatalf("%d runs recorded, serial %d, for %d instances: %v", len(runs), s.Serial(), instances, err)
	}
	for i := range instances {
		if s.Latest(applyAddress(i)) == nil {
			t.Fatalf("%s never ran", applyAddress(i))
		}
	}
}

func testKilledWriters(t *testing.T, b Backend) {
	// Writers increment the counter (and record a run of their own in
	// the same transaction), reporting each transaction that returned;
	// they are killed -9 at random moments and started again. Every
	// reported increment must be there, none may be doubled, and the
	// counter and the writers' runs must always agree.
	loc := b.New(t)
	s := open(t, b, loc)
	put(t, s, counterRun())
	rounds := 15
	if testing.Short() {
		rounds = 5
	}
	reported, kills := 0, 0
	for round := range rounds {
		var hs []*helper
		for p := range 2 {
			hs = append(hs, startHelper(t, b, "increment", loc, fmt.Sprintf("%d:0", round*2+p)))
		}
		counts := make([]chan int, len(hs))
		for i, h := range hs {
			// Kill it only once it writes.
			h.expect(t, "put 0")
			counts[i] = make(chan int, 1)
			go func() {
				n := 1
				sc := bufio.NewScanner(h.out)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "put ") {
						n++
					}
				}
				counts[i] <- n
			}()
		}
		time.Sleep(time.Duration(rand.IntN(50_000)) * time.Microsecond)
		for _, h := range hs {
			h.kill()
			kills++
		}
		for _, c := range counts {
			reported += <-c
		}
		// A database server finishes the commit a killed writer sent,
		// maybe a while after the kill on a busy machine, and only then
		// ends its session and lets the writers' lock go: a transaction
		// of this process waits for that.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := s.Update(ctx, func(state.Tx) error { return nil })
		cancel()
		if err != nil {
			t.Fatalf("round %d: a transaction after kill: %v", round, err)
		}
		if err := s.Reload(); err != nil {
			t.Fatalf("round %d: reload after kill: %v", round, err)
		}
		c, err := s.Get(counterID)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if c.Attempts < reported || c.Attempts > reported+kills {
			t.Fatalf("round %d: counter %d, but the writers reported %d increments (%d kills)", round, c.Attempts, reported, kills)
		}
		runs, err := s.List(state.Query{Address: "experiment.inc"})
		if err != nil || len(runs) != c.Attempts {
			t.Fatalf("round %d: %d writer runs for a counter of %d: %v", round, len(runs), c.Attempts, err)
		}
		if want := uint64(1 + 2*c.Attempts); s.Serial() != want {
			t.Fatalf("round %d: serial %d, want %d", round, s.Serial(), want)
		}
		reported = c.Attempts
		// A fresh reader agrees.
		r, err := b.Open(loc)
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		if r.Serial() != s.Serial() {
			t.Fatalf("round %d: a new reader has serial %d, want %d", round, r.Serial(), s.Serial())
		}
		r.Close()
	}
	if reported == 0 {
		t.Fatal("the writers wrote nothing")
	}
	t.Logf("%d rounds, %d kills, %d transactions", rounds, kills, reported)
}

// helper is a helper process.
type helper struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	once sync.Once
	err  error
}

func startHelper(t *testing.T, b Backend, kind, loc, arg string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+kind, envLocation+"="+loc, envArg+"="+arg)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(h.kill)
	return h
}

// expect reads the helper's next line, which must be line.
func (h *helper) expect(t *testing.T, line string) {
	t.Helper()
	got, err := h.out.ReadString('\n')
	if strings.TrimSpace(got) != line {
		t.Fatalf("helper %s said %q (%v), want %q", h.cmd.Env[len(h.cmd.Env)-3], got, err, line)
	}
}

func (h *helper) wait() error {
	h.once.Do(func() { h.err = h.cmd.Wait() })
	return h.err
}

func (h *helper) kill() {
	h.cmd.Process.Signal(syscall.SIGKILL)
	h.wait()
}

func applyAddress(i int) string { return fmt.Sprintf(`experiment.apply["i=%d"]`, i) }

// helperMain is a helper process: kind says what it does with the record
// at loc.
func helperMain(b Backend, kind, loc, arg string) int {
	s, err := b.Open(loc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	ctx := context.Background()
	switch kind {
	case "lock":
		// Takes the lock and holds it until killed.
		if err := s.Lock(state.Holder{Command: "statetest lock"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "claim":
		// Claims arg and holds it until killed.
		if _, err := s.Claim(ctx, arg, state.Holder{Command: "statetest claim"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("claimed")
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "increment":
		// "P:N": N transactions (0: until killed), each incrementing the
		// counter and recording run inc-P-K.
		var p, n int
		fmt.Sscanf(arg, "%d:%d", &p, &n)
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for k := 0; n == 0 || k < n; k++ {
			err := s.Update(ctx, func(tx state.Tx) error {
				c, err := tx.Get(counterID)
				if err != nil {
					return err
				}
				c.Attempts++
				own := &state.Run{ID: fmt.Sprintf("inc-%d-%d", p, k), Address: "experiment.inc", Experiment: "inc",
					Status: providers.Succeeded, Attempts: c.Attempts, CreatedAt: epoch.Add(time.Duration(k) * time.Millisecond)}
				return tx.Put(c, own)
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Printf("put %d\n", k)
		}
		return 0
	case "apply":
		// "P:N": go through N instances in an order of its own, claim
		// each, and start it (record a run) unless one is recorded.
		var p, n int
		fmt.Sscanf(arg, "%d:%d", &p, &n)
		order := rand.Perm(n)
		for _, i := range order {
			addr := applyAddress(i)
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			c, err := s.Claim(cctx, addr, state.Holder{Command: fmt.Sprintf("statetest apply %d", p)})
			cancel()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			start := false
			err = s.Update(ctx, func(tx state.Tx) error {
				if tx.Latest(addr) != nil {
					return nil // done by another: use its result
				}
				start = true
				return tx.Put(&state.Run{ID: fmt.Sprintf("apply-%d-%d", p, i), Address: addr, Experiment: "apply",
					Status: providers.Succeeded, Attempts: 1, CreatedAt: epoch})
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if start {
				fmt.Printf("started %s\n", addr)
			}
			if err := c.Release(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", kind)
	return 2
}
