package state

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
)

// The test binary doubles as the helper processes of the lock and crash
// tests, as os/exec's tests do: STATE_TEST_HELPER says which.
func TestMain(m *testing.M) {
	switch os.Getenv("STATE_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "hold":
		os.Exit(helperHold(os.Getenv("STATE_TEST_DIR")))
	case "writer":
		os.Exit(helperWriter(os.Getenv("STATE_TEST_DIR")))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper")
		os.Exit(2)
	}
}

// helperHold takes the lock, says so, and holds it until stdin closes.
func helperHold(dir string) int {
	s, err := Open(dir)
	if err == nil {
		err = s.Lock(Holder{Command: "trainrun apply"})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// helperWriter puts the records of writerRuns as fast as it can, printing
// the serial after each Put returns, until it is killed.
func helperWriter(dir string) int {
	s, err := Open(dir)
	if err == nil {
		err = s.Lock(Holder{Command: "state.test writer"})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s.compactEvery = 100 // compactions every ~50 Puts
	for {
		serial := s.Serial()
		if err := s.Put(writerRuns(serial)...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Stdout.WriteString(strconv.FormatUint(s.Serial(), 10) + "\n")
	}
}

// The writer's records are a function of the serial, so that the whole
// content of a store follows from its serial: record k (serial k) is run
// writerID((k-1) % writerPool) with Attempts = k, and the Put made at
// serial s holds writerBatch(s) records.
const writerPool = 80

func writerID(class uint64) string { return fmt.Sprintf("w%011d", class) }

func writerBatch(s uint64) uint64 { return 1 + s%3 }

func writerRuns(serial uint64) []*Run {
	var runs []*Run
	for k := serial + 1; k <= serial+writerBatch(serial); k++ {
		c := (k - 1) % writerPool
		runs = append(runs, &Run{
			ID: writerID(c),
			// Four runs per instance: the others go to the history.
			Address:     fmt.Sprintf(`experiment.w["i=%d"]`, c%(writerPool/4)),
			Experiment:  "w",
			Fingerprint: fmt.Sprintf("%064x", k),
			Status:      providers.Succeeded,
			Attempts:    int(k),
			CreatedAt:   time.Unix(1700000000+int64(c), 0).UTC(),
		})
	}
	return runs
}

// checkWriterState asserts that s holds exactly what the writer had put
// when its serial was s.Serial().
func checkWriterState(t testing.TB, s *Store) {
	t.Helper()
	if err := writerStateErr(s); err != nil {
		t.Fatal(err)
	}
}

func writerStateErr(s *Store) error {
	serial := s.Serial()
	b := uint64(0)
	for b < serial {
		b += writerBatch(b)
	}
	if b != serial {
		return fmt.Errorf("serial %d is not the end of a Put", serial)
	}
	runs := s.Runs()
	if want := min(serial, writerPool); uint64(len(runs)) != want {
		return fmt.Errorf("serial %d: %d runs, want %d", serial, len(runs), want)
	}
	for _, r := range runs {
		var c uint64
		if _, err := fmt.Sscanf(r.ID, "w%d", &c); err != nil {
			return fmt.Errorf("unexpected run %q", r.ID)
		}
		want := c + 1 + (serial-(c+1))/writerPool*writerPool
		if uint64(r.Attempts) != want {
			return fmt.Errorf("serial %d: run %s holds record %d, want %d", serial, r.ID, r.Attempts, want)
		}
	}
	return nil
}

// sampleRun returns a run of about 1 KB, as trainrun records them.
func sampleRun(i int) *Run {
	exit := 0
	step := 100.0
	start := time.Date(2026, 11, 23, 13, 5, 2, 0, time.UTC).Add(time.Duration(i) * time.Second)
	end := start.Add(42 * time.Second)
	lr, _ := json.Marshal(0.001 * float64(i%10+1))
	batch, _ := json.Marshal(32 << (i % 3))
	params := map[string]json.RawMessage{"lr": lr, "batch": batch}
	addr := fmt.Sprintf(`experiment.train["batch=%s,lr=%s"]`, batch, lr)
	return &Run{
		ID:          fmt.Sprintf("%012x", 0x100000000+i*7919),
		Address:     addr,
		Experiment:  "train",
		Fingerprint: fmt.Sprintf("%064x", i*104729+1),
		Inputs: &FingerprintInputs{
			Snapshot:    fmt.Sprintf("%064x", 12345),
			SourceDir:   "src",
			Command:     []string{"python3", "train.py", "--epochs", "10"},
			Env:         map[string]string{"SEED": "1", "DATA": "data/train.csv"},
			Params:      params,
			Environment: fmt.Sprintf("%064x", 777),
			Upstream:    map[string][]string{"data": {fmt.Sprintf("%064x", 999)}},
			Outputs:     []string{"model.bin"},
		},
		Git:         &Git{Commit: fmt.Sprintf("%040x", 31337), Dirty: i%2 == 0},
		Compute:     "local",
		Environment: "python",
		Params:      params,
		Settings:    Settings{Compute: "local", Resources: providers.Resources{CPUs: 2, GPUs: 1}, Timeout: "2h", Retries: 1},
		Status:      providers.Succeeded,
		ExitCode:    &exit,
		Attempts:    1,
		Handle:      &providers.Handle{Compute: "local", Kind: "local", ID: strconv.Itoa(10000 + i), Dir: fmt.Sprintf("/home/user/proj/.trainrun/work/%012x", i), StartedAt: start, StartTicks: "123456789", GPUs: []int{1, 0}},
		CreatedAt:   start.Add(-time.Second),
		StartedAt:   &start,
		FinishedAt:  &end,
		Dir:         fmt.Sprintf(".trainrun/runs/%012x", i),
		Metrics: map[string]Metric{
			"loss":     {Value: 0.25, Step: &step, Time: end},
			"accuracy": {Value: 0.91, Step: &step, Time: end},
			"grad":     {Value: math.Inf(1)},
		},
		Outputs: fmt.Sprintf("%064x", i+5),
	}
}

// lockedStore opens and locks a store in dir.
func lockedStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(Holder{Command: "test"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// crash drops a writer as a kill would: no compaction, no sync, no
// cleanup of the lock file.
func crash(s *Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal != nil {
		s.journal.Close()
		s.journal = nil
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	if s.lockDir != nil {
		s.lockDir.Close()
		s.lockDir = nil
	}
	s.closed = true
}

func mustOpen(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustPut(t testing.TB, s *Store, runs ...*Run) {
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
