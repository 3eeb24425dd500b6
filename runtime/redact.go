package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/trainrun/trainrun/internal/atomicfile"
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

// RunSecrets returns the secrets to redact from what run prints: those it
// was given (a secret no experiment uses is no business of its log), long
// enough to be found (lang.Redactable). When the run was given values the
// configuration no longer has (a secret changed since), every secret of
// cfg is looked for. Nil without a configuration.
func RunSecrets(cfg *lang.Config, run *state.Run) []string {
	if cfg == nil || !usesSecrets(run) {
		return nil
	}
	for _, inst := range cfg.Instances {
		if inst.Address == run.Address {
			if used := inst.SecretsUsed(cfg.Secrets); lang.SecretsHash(used) == run.Inputs.SecretsHash {
				return lang.Redactable(used)
			}
			break
		}
	}
	return lang.Redactable(cfg.Secrets)
}

func (r *Runtime) runSecrets(run *state.Run) []string { return RunSecrets(r.Config, run) }

// secrets returns the secrets to redact from messages (long enough to be
// found); nil without a configuration.
func (r *Runtime) secrets() []string {
	if r.Config == nil {
		return nil
	}
	return lang.Redactable(r.Config.Secrets)
}

// usesSecrets reports whether run was given a sensitive value.
func usesSecrets(run *state.Run) bool {
	return run.Inputs != nil && run.Inputs.SecretsHash != ""
}

// redactLog redacts a collected log in place, once: what it reads later
// is shown as it is. It reports whether the log is now safe: false
// without a configuration (the secrets are not known), or when redaction
// failed, in which case the clear copy is removed.
func (r *Runtime) redactLog(run *state.Run, path string) bool {
	if r.Config == nil {
		return false
	}
	secrets := r.runSecrets(run)
	if len(secrets) == 0 {
		return true
	}
	err := redactFile(path, secrets)
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
// through a temporary file renamed over it (atomicfile), so that a crash
// leaves either the whole old file or the whole new one. A missing file is
// not an error.
func redactFile(path string, secrets []string) error {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	perm := os.FileMode(0o644)
	if st, err := in.Stat(); err == nil {
		perm = st.Mode().Perm()
	}
	red := lang.NewRedactor(secrets)
	err = atomicfile.WriteWith(path, perm, atomicfile.Options{TempPattern: ".redact-*", Sync: true}, func(w io.Writer) error {
		return red.Copy(w, in)
	})
	if err != nil {
		return fmt.Errorf("redact %s: %w", path, err)
	}
	return nil
}

// redactStream copies r to w with every secret replaced (lang.Redactor).
func redactStream(w io.Writer, r io.Reader, secrets []string) error {
	return lang.NewRedactor(secrets).Copy(w, r)
}
