package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Sensitive values reach a run through its command and env, and a run may
// print them. The log it writes on its compute holds them in clear: nothing
// can be done about that while it runs. Once it is final, trainrun keeps no
// clear copy under .trainrun/:
//
//   - the collected log (and each retried attempt's) is redacted as it is
//     collected, so logs, apply's tail and every later reader see
//     "(sensitive)" even where the secrets are not known;
//   - the run's directory on its compute, which holds the log as the run
//     wrote it, is removed once the run is recorded final with its redacted
//     log (as destroy would; the run is then recorded Cleaned). Only runs
//     given a sensitive value lose it: for the others it stays until
//     destroy. (Removed after the record, not before: an apply killed in
//     between must find the run final, not vanished.)
//
// A trainrun that cannot load the configuration does not know the secrets;
// it leaves the recording of such a run to the next apply (see Cancel).
// Files the run writes elsewhere (outputs/, declared outputs) are its
// results and are kept as they are.

// redacted is what a secret becomes, as lang.Redact writes it.
var redacted = []byte("(sensitive)")

// secrets returns the clear values to redact; nil without a configuration.
func (r *Runtime) secrets() []string {
	if r.Config == nil {
		return nil
	}
	return r.Config.Secrets
}

// usesSecrets reports whether run was given a sensitive value.
func usesSecrets(run *state.Run) bool {
	return run.Inputs != nil && run.Inputs.SecretsHash != ""
}

// redactLog redacts a collected log in place. It reports whether the log
// is now safe: false without a configuration (the secrets are not known),
// or when redaction failed, in which case the clear copy is removed.
func (r *Runtime) redactLog(run *state.Run, path string) bool {
	if r.Config == nil {
		return false
	}
	if len(r.Config.Secrets) == 0 {
		return true
	}
	err := redactFile(path, r.Config.Secrets)
	if err == nil {
		return true
	}
	msg := fmt.Sprintf("%v; the collected log may hold sensitive values, so it was removed", err)
	if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		msg = fmt.Sprintf("%v; the collected log may hold sensitive values and could not be removed: %v", err, rmErr)
	}
	r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: msg})
	return false
}

// removeClearLog removes the compute's run directory of a final run that
// was given sensitive values, once its redacted log is collected (safe),
// and marks the run Cleaned. It reports whether it changed run.
func (r *Runtime) removeClearLog(ctx context.Context, comp providers.Compute, run *state.Run, safe bool) bool {
	if !safe || !usesSecrets(run) || run.Handle == nil || run.Cleaned {
		return false
	}
	if err := comp.Remove(ctx, *run.Handle); err != nil {
		r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID,
			Message: "the run's directory on its compute holds its log with sensitive values in clear, and could not be removed: " + err.Error()})
		return false
	}
	run.Cleaned = true
	return true
}

// redactFile replaces every secret in the file at path by "(sensitive)",
// through a temporary file renamed over it, so that a crash leaves either
// the whole old file or the whole new one. A missing file is not an error.
func redactFile(path string, secrets []string) error {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".redact-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is none
	w := bufio.NewWriter(tmp)
	if err := redactStream(w, in, secrets); err != nil {
		tmp.Close()
		return fmt.Errorf("redact %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if st, err := in.Stat(); err == nil {
		_ = os.Chmod(tmp.Name(), st.Mode().Perm())
	}
	return os.Rename(tmp.Name(), path)
}

// redactStream copies r to w with every secret replaced, in bounded memory:
// it holds back the last (longest secret - 1) bytes of what it has read, so
// that a secret split across reads is still found. At each position the
// longest secret that starts there is replaced. A secret is found in each
// of its lang.SecretForms: a run may print it quoted.
func redactStream(w io.Writer, r io.Reader, secrets []string) error {
	var secs [][]byte
	longest := 0
	for _, s := range lang.SecretForms(secrets) {
		if s != "" {
			secs = append(secs, []byte(s))
			longest = max(longest, len(s))
		}
	}
	if len(secs) == 0 {
		_, err := io.Copy(w, r)
		return err
	}
	buf := make([]byte, 0, 64<<10+longest)
	chunk := make([]byte, 64<<10)
	for {
		n, rerr := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		eof := errors.Is(rerr, io.EOF)
		if rerr != nil && !eof {
			return rerr
		}
		// A match must start before limit to be known complete.
		limit := len(buf)
		if !eof {
			limit = len(buf) - (longest - 1)
		}
		i := 0
		next := newMatcher(buf, secs)
		for i < limit {
			at, size := next.from(i)
			if at < 0 || at >= limit {
				if _, err := w.Write(buf[i:limit]); err != nil {
					return err
				}
				i = limit
				break
			}
			if _, err := w.Write(buf[i:at]); err != nil {
				return err
			}
			if _, err := w.Write(redacted); err != nil {
				return err
			}
			i = at + size
		}
		buf = append(buf[:0], buf[min(i, len(buf)):]...)
		if eof {
			return nil
		}
	}
}

// matcher finds secrets in one buffer from left to right, remembering
// where each secret occurs next so that each byte is searched once per
// secret.
type matcher struct {
	buf  []byte
	secs [][]byte
	pos  []int // next index of each secret at or after the last from; -1: none
}

func newMatcher(buf []byte, secs [][]byte) *matcher {
	m := &matcher{buf: buf, secs: secs, pos: make([]int, len(secs))}
	for k, s := range secs {
		m.pos[k] = bytes.Index(buf, s)
	}
	return m
}

// from returns the earliest secret at or after i (the longest where
// several start there); at is -1 when there is none. Calls must not go
// back: i never decreases.
func (m *matcher) from(i int) (at, size int) {
	at = -1
	for k, s := range m.secs {
		if p := m.pos[k]; p >= 0 && p < i {
			if j := bytes.Index(m.buf[i:], s); j >= 0 {
				m.pos[k] = i + j
			} else {
				m.pos[k] = -1
			}
		}
		if p := m.pos[k]; p >= 0 && (at < 0 || p < at || p == at && len(s) > size) {
			at, size = p, len(s)
		}
	}
	return at, size
}
