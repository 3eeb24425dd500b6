package state

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Removing the lock file while a writer holds it (the lock error used to
// suggest it) let a second apply in: both wrote one journal. The lock is
// on the directory too, so that nothing but the holder's end releases it.
func TestLockFileRemovedWhileHeld(t *testing.T) {
	dir := t.TempDir()
	cmd, _, out := helper(t, "hold", dir)
	if line, err := out.ReadString('\n'); line != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	lockPath := filepath.Join(dir, lockName)
	for _, replace := range []func() error{
		func() error { return os.Remove(lockPath) },
		func() error { return os.WriteFile(lockPath, nil, 0o600) }, // a new, unlocked file
	} {
		if err := replace(); err != nil {
			t.Fatal(err)
		}
		s := mustOpen(t, dir)
		err := s.Lock(Holder{Command: "second"})
		var le *LockedError
		if !errors.As(err, &le) {
			t.Fatalf("Lock after the lock file was replaced, while pid %d holds the lock: %v", cmd.Process.Pid, err)
		}
		if strings.Contains(err.Error(), "remove") {
			t.Errorf("the message suggests removing something: %v", err)
		}
	}
}

// The holder notices that its lock file was removed or replaced, and puts
// its own back, so that the next process refused is told who holds it.
func TestLockFileRemovedIsPutBack(t *testing.T) {
	dir := t.TempDir()
	a := lockedStore(t, dir)
	lockPath := filepath.Join(dir, lockName)
	for i, replace := range []func() error{
		func() error { return os.Remove(lockPath) },
		func() error {
			if err := os.Remove(lockPath); err != nil {
				return err
			}
			return os.WriteFile(lockPath, []byte("{}"), 0o600)
		},
	} {
		if err := replace(); err != nil {
			t.Fatal(err)
		}
		mustPut(t, a, sampleRun(i))
		h, ok := ReadHolder(dir)
		if !ok || h.PID != os.Getpid() || h.Command != "test" {
			t.Fatalf("after a Put, the lock file says %+v (%v)", h, ok)
		}
		b := mustOpen(t, dir)
		var le *LockedError
		if err := b.Lock(Holder{}); !errors.As(err, &le) || le.Holder.PID != os.Getpid() {
			t.Fatalf("second Lock: %v", err)
		}
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	b := mustOpen(t, dir)
	if err := b.Lock(Holder{}); err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if n := len(b.Runs()); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

// A holder whose directory was moved away and made anew (rm -rf .trainrun
// while it ran, then another apply) writes no more: what it would write
// no longer belongs to the store.
func TestStateDirReplacedStopsWriter(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, ".trainrun")
	a := lockedStore(t, dir)
	mustPut(t, a, sampleRun(1))
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	b := lockedStore(t, dir)
	mustPut(t, b, sampleRun(2))
	err := a.Put(sampleRun(3))
	if err == nil || !strings.Contains(err.Error(), "was removed or replaced") {
		t.Fatalf("Put into a replaced directory: %v", err)
	}
	if err := a.Put(sampleRun(4)); err == nil {
		t.Fatal("a second Put into a replaced directory succeeded")
	}
	if got := len(b.Runs()); got != 1 {
		t.Fatalf("the new store has %d runs", got)
	}
}

// State files that are symbolic links are refused, never read or written
// through: an apply used to truncate the target of a linked lock file.
func TestStateFilesNeverFollowLinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(dir string) error
	}{
		{lockName, func(dir string) error {
			s, err := Open(dir)
			if err == nil {
				err = s.Lock(Holder{})
				s.Close()
			}
			return err
		}},
		{journalName, func(dir string) error { _, err := Open(dir); return err }},
		{snapshotName, func(dir string) error { _, err := Open(dir); return err }},
		{computesName, func(dir string) error { _, err := OpenComputes(dir); return err }},
		{environmentsName, func(dir string) error { _, err := OpenEnvironments(dir); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, ".trainrun")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(root, "precious")
			if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, tc.name)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			err := tc.open(dir)
			var le *LinkError
			if !errors.As(err, &le) || !errors.Is(err, syscall.ELOOP) || !strings.Contains(err.Error(), link+" is a symbolic link") {
				t.Fatalf("opening with %s a link: %v", tc.name, err)
			}
			if data, _ := os.ReadFile(target); string(data) != "keep me\n" {
				t.Fatalf("the link's target was changed: %q", data)
			}
			if tc.name == journalName || tc.name == snapshotName {
				if _, err := Repair(dir, Holder{}); !errors.As(err, &le) {
					t.Fatalf("Repair: %v", err)
				}
			}
		})
	}
	// A FIFO would block a reader for ever.
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, journalName), 0o600); err != nil {
		t.Skip(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open with a FIFO journal: %v", err)
	}
}

func TestCheckRunID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"4f3a2b1c0d9e", true},
		{"r1", true},
		{"venv-1", true},
		{"a.b_c-d", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../../../evilrun", false},
		{"a/b", false},
		{".hidden", false},
		{"-rf", false},
		{"a b", false},
		{"a\nb", false},
		{"a\\b", false},
		{"é", false},
		{strings.Repeat("a", 129), false},
	} {
		if err := CheckRunID(tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckRunID(%q) = %v", tc.id, err)
		}
	}
}

// A run id read from state becomes a path (.trainrun/runs/ID): a tampered
// record must not lead it out of its directory.
func TestTamperedRunIDsRefused(t *testing.T) {
	evil := sampleRun(1)
	evil.ID = "../../../evilrun"
	good := sampleRun(2)
	for _, tc := range []struct {
		name, snap string
		journal    []byte
		want       string
	}{
		{"state.json id", `{"format_version":1,"lineage":"ab","serial":1,"runs":[` + "\n" + toJSONRun(evil) + "\n]}\n", nil, `run id "../../../evilrun" is not an id`},
		{"journal id", "", append(journalBytes(0, false, evil), journalBytes(1, false, good)...), "line 1"},
		{"repro_of", "", journalBytes(0, false, withRun(good, func(r *Run) { r.ReproOf = "../x" })), "repro_of"},
		{"input_runs", "", journalBytes(0, false, withRun(good, func(r *Run) { r.InputRuns = map[string][]string{"data": {"/etc"}} })), "input_runs"},
		{"upstream run:", "", journalBytes(0, false, withRun(good, func(r *Run) { r.Inputs.Upstream = map[string][]string{"input.data": {"run:../../x"}} })), "upstream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			snap := tc.snap
			if snap == "" {
				snap = `{"format_version":1,"lineage":"ab","serial":0,"runs":[` + "\n]}\n"
			}
			if err := os.WriteFile(filepath.Join(dir, snapshotName), []byte(snap), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.journal != nil {
				if err := os.WriteFile(filepath.Join(dir, journalName), tc.journal, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func withRun(r *Run, f func(*Run)) *Run {
	c := r.Clone()
	f(c)
	return c
}

func toJSONRun(r *Run) string {
	b, _ := json.Marshal(r)
	return string(b)
}
