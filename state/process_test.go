package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helper starts the test binary as the helper process named kind, working
// on the store in dir.
func helper(t *testing.T, kind, dir string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STATE_TEST_HELPER="+kind, "STATE_TEST_DIR="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, stdin, bufio.NewReader(stdout)
}

func TestLockContentionBetweenProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd, stdin, out := helper(t, "hold", dir)
	if line, err := out.ReadString('\n'); line != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	s := mustOpen(t, dir)
	err := s.Lock(Holder{Command: "trainrun plan"})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while another process holds it: %v", err)
	}
	host, _ := os.Hostname()
	if le.Holder.PID != cmd.Process.Pid || le.Holder.Command != "trainrun apply" || le.Holder.Host != host {
		t.Fatalf("holder %+v, want pid %d on %s", le.Holder, cmd.Process.Pid, host)
	}
	if since := time.Since(le.Holder.Since); since < -time.Second || since > time.Minute {
		t.Fatalf("holder since %v", le.Holder.Since)
	}
	for _, want := range []string{fmt.Sprintf("pid %d on %s", cmd.Process.Pid, host), "trainrun apply", "wait for it to finish"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "remove") {
		t.Errorf("%q suggests removing the lock file", err)
	}
	// The holder lets go: the lock is free.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(Holder{}); err != nil {
		t.Fatalf("Lock after the holder exited: %v", err)
	}
}

func TestLockReleasedWhenHolderKilled(t *testing.T) {
	dir := t.TempDir()
	cmd, _, out := helper(t, "hold", dir)
	if line, err := out.ReadString('\n'); line != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	s := mustOpen(t, dir)
	if err := s.Lock(Holder{}); err == nil {
		t.Fatal("Lock succeeded while the helper holds it")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if err := s.Lock(Holder{}); err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
}

func TestCrashAtRandomMoments(t *testing.T) {
	// A child puts records as fast as it can, compacting every ~50 Puts,
	// and is SIGKILLed at a random moment. Every Put it reported must be
	// in the store, which must be exactly the state at some Put's end.
	rounds := 25
	if testing.Short() {
		rounds = 5
	}
	dir := t.TempDir()
	var reported uint64
	midCompaction := 0 // kills while a new state.json was being written
	for round := range rounds {
		cmd, _, out := helper(t, "writer", dir)
		first, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("round %d: the writer did not start: %v", round, err)
		}
		// The kill comes at a random moment once the writer has put
		// at least two compactions' worth of records this round, and
		// enough that the rounds together pass 1000: a busy machine
		// slows the writer, not the test's coverage.
		lines := make(chan string, 1)
		progressed := make(chan struct{})
		go func(target uint64) {
			last, closed := first, false
			for {
				line, err := out.ReadString('\n')
				if err != nil {
					break
				}
				last = line
				if n, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64); err == nil && n >= target && !closed {
					close(progressed)
					closed = true
				}
			}
			if !closed {
				close(progressed)
			}
			lines <- last
		}(reported + uint64(max(100, 1100/rounds)))
		<-progressed
		time.Sleep(time.Duration(rand.IntN(60_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		last := <-lines
		n, err := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
		if err != nil {
			t.Fatalf("round %d: bad report %q", round, last)
		}
		if n < reported {
			t.Fatalf("round %d: serial went back from %d to %d", round, reported, n)
		}
		reported = n
		if tmps, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*")); len(tmps) > 0 {
			midCompaction++
		}

		s, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		if s.Serial() < reported {
			t.Fatalf("round %d: serial %d, but the writer reported %d", round, s.Serial(), reported)
		}
		checkWriterState(t, s)
		reported = s.Serial()
		s.Close()
	}
	s := mustOpen(t, dir)
	if s.snapSerial == 0 || s.Serial() < 1000 || s.hist.Records == 0 {
		t.Fatalf("the test did not exercise compaction: serial %d, snapshot at %d, %d records in the history", s.Serial(), s.snapSerial, s.hist.Records)
	}
	t.Logf("%d rounds, %d records, %d kills while writing state.json", rounds, s.Serial(), midCompaction)
}

func TestReadersDuringCompaction(t *testing.T) {
	// Readers take no lock; a writer compacting under them must never
	// make them fail or go back.
	dir := t.TempDir()
	w := lockedStore(t, dir)
	w.compactEvery = 30
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	reader := func(follow bool) {
		defer wg.Done()
		var last uint64
		var r *Store
		for n := 0; ; n++ {
			select {
			case <-stop:
				if n < 20 {
					errs <- fmt.Errorf("only %d reads", n)
				}
				return
			default:
			}
			var err error
			if follow && r != nil {
				err = r.Reload()
			} else {
				r, err = Open(dir)
			}
			if err != nil {
				errs <- err
				return
			}
			if r.Serial() < last {
				errs <- fmt.Errorf("serial went back from %d to %d", last, r.Serial())
				return
			}
			last = r.Serial()
			if err := writerStateErr(r); err != nil {
				errs <- err
				return
			}
			if !follow {
				r.Close()
			}
		}
	}
	wg.Add(4)
	go reader(false)
	go reader(false)
	go reader(true)
	go reader(true)
	for w.Serial() < 3000 {
		mustPut(t, w, writerRuns(w.Serial())...)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
