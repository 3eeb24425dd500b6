package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

func TestOpenLog(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runDir := func(id, log string) string {
		d := filepath.Join(dir, "runs", id)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "log"), []byte(log), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	now := time.Now()
	run := func(id, addr string, status providers.State, attempts int, d string) *state.Run {
		return &state.Run{ID: id, Address: addr, Experiment: "e", Status: status, Attempts: attempts, Dir: d, CreatedAt: now}
	}
	done := run("aaaaaaaaaaaa", "experiment.done", providers.Succeeded, 1, runDir("aaaaaaaaaaaa", "one\ntwo\n"))
	retried := run("bbbbbbbbbbbb", "experiment.retried", providers.Failed, 3, runDir("bbbbbbbbbbbb", "third\n"))
	if err := os.MkdirAll(filepath.Dir(AttemptLog(dir, retried, 1)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(AttemptLog(dir, retried, 1), []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := run("cccccccccccc", "experiment.secret", providers.Running, 1, "")
	secret.Inputs = &state.FingerprintInputs{SecretsHash: "x"}
	queued := run("dddddddddddd", "experiment.queued", providers.Pending, 1, "")
	if err := st.Put(done, retried, secret, queued); err != nil {
		t.Fatal(err)
	}
	comps := NewComputes(nil, nil, providers.Env{Dir: dir, DataDir: dir})
	defer comps.Close()

	for _, tc := range []struct {
		name    string
		ref     string
		attempt int
		log     string // what WriteTo writes
		note    string // in Note
		err     string // in the error instead
	}{
		{name: "collected", ref: done.ID, log: "one\ntwo\n"},
		{name: "by address", ref: done.Address, log: "one\ntwo\n"},
		{name: "last attempt", ref: retried.ID, log: "third\n", note: "This is the log of attempt 3; the logs of 1 earlier attempt are kept: 1"},
		{name: "earlier attempt", ref: retried.ID, attempt: 1, log: "first\n"},
		{name: "attempt not kept", ref: retried.ID, attempt: 2, err: "has no log of attempt 2 apart: the logs of 1 earlier attempt are kept: 1"},
		{name: "attempt not made", ref: retried.ID, attempt: 4, err: "has had 3 attempts"},
		{name: "secrets without a configuration", ref: secret.ID, err: "was given sensitive values and its log is not collected yet"},
		{name: "not started", ref: queued.ID, err: "has no log yet: it is pending"},
		{name: "unknown", ref: "experiment.nothing", err: "experiment.nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := OpenLog(context.Background(), LogRequest{Ref: tc.ref, Attempt: tc.attempt, State: st, Computes: comps, DataDir: dir})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("OpenLog: %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var b strings.Builder
			if _, err := l.WriteTo(&b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.log {
				t.Errorf("log %q, want %q", b.String(), tc.log)
			}
			if !strings.Contains(l.Note, tc.note) || (tc.note == "") != (l.Note == "") {
				t.Errorf("note %q, want %q", l.Note, tc.note)
			}
		})
	}
}

// Following a run that no apply will start is refused, not waited for.
func TestOpenLogFollowWithoutWriter(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	queued := &state.Run{ID: "dddddddddddd", Address: "experiment.queued", Experiment: "queued", Status: providers.Pending, Attempts: 1, CreatedAt: time.Now()}
	if err := st.Put(queued); err != nil {
		t.Fatal(err)
	}
	comps := NewComputes(nil, nil, providers.Env{Dir: dir, DataDir: dir})
	defer comps.Close()
	for ref, want := range map[string]string{
		queued.ID:         "no trainrun apply is running to start it",
		"experiment.none": "experiment.none", // not recorded: not found
	} {
		var said []string
		_, err := OpenLog(context.Background(), LogRequest{Ref: ref, Follow: true, State: st, Computes: comps, DataDir: dir, Wait: func(m string) { said = append(said, m) }})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenLog -f %s: %v, want an error saying %q", ref, err, want)
		}
		if len(said) > 0 {
			t.Errorf("OpenLog -f %s said %q while nobody starts the run", ref, said)
		}
	}
}

// keptLogs is a backend that keeps logs for every checkout, as pgstate does.
type keptLogs struct {
	state.Backend
	logs map[string][]byte
}

func (k *keptLogs) PutLog(id string, log []byte) error { k.logs[id] = log; return nil }

func (k *keptLogs) Log(id string) ([]byte, error) {
	if l, ok := k.logs[id]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("the log of run %s: %w", id, state.ErrNotFound)
}

// A run collected by another checkout is read from the backend; one
// restored through the run cache from a teammate's run, whose log this
// checkout never had, shows the log of the run that made its outputs.
func TestOpenLogKeptByBackend(t *testing.T) {
	dir := t.TempDir()
	local, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	st := &keptLogs{Backend: local, logs: map[string][]byte{"aaaaaaaaaaaa": []byte("made on A\n")}}
	now := time.Now()
	elsewhere := filepath.Join(dir, "elsewhere") // another checkout's results: not here
	ran := &state.Run{ID: "aaaaaaaaaaaa", Address: "experiment.a", Experiment: "a", Status: providers.Succeeded, Attempts: 1, Dir: filepath.Join(elsewhere, "aaaaaaaaaaaa"), CreatedAt: now}
	restored := &state.Run{ID: "bbbbbbbbbbbb", Address: "experiment.b", Experiment: "b", Status: providers.Succeeded, Dir: filepath.Join(dir, "runs", "bbbbbbbbbbbb"), CachedFrom: ran.ID, CreatedAt: now}
	lost := &state.Run{ID: "cccccccccccc", Address: "experiment.c", Experiment: "c", Status: providers.Succeeded, Dir: filepath.Join(dir, "runs", "cccccccccccc"), CachedFrom: "dddddddddddd", CreatedAt: now}
	if err := st.Put(ran, restored, lost); err != nil {
		t.Fatal(err)
	}
	comps := NewComputes(nil, nil, providers.Env{Dir: dir, DataDir: dir})
	defer comps.Close()
	for _, tc := range []struct{ ref, log, err string }{
		{ref: ran.ID, log: "made on A\n"},
		{ref: restored.ID, log: "made on A\n"},
		{ref: lost.ID, err: "the log of run dddddddddddd"},
	} {
		l, err := OpenLog(context.Background(), LogRequest{Ref: tc.ref, State: st, Computes: comps, DataDir: dir})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("OpenLog %s: %v, want an error saying %q", tc.ref, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("OpenLog %s: %v", tc.ref, err)
			continue
		}
		var b strings.Builder
		l.WriteTo(&b)
		l.Close()
		if b.String() != tc.log {
			t.Errorf("log of %s: %q, want %q", tc.ref, b.String(), tc.log)
		}
	}
}
