package planner

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/state"
)

// ErrNotReproducible says a recorded run cannot be run again exactly.
var ErrNotReproducible = errors.New("cannot rerun exactly")

// ReproInstance rebuilds, from a run's record, the instance to run again:
// its recorded command or shell line, env, params, outputs, environment,
// compute and settings. cfg, the current configuration, must still have
// the run's compute, and its environment must be the same: envFP, what
// fingerprints hash of it now (EnvironmentFingerprint, or the spec an
// EnvironmentResolver gives), must be what the run recorded.
//
// Records hold sensitive values redacted. For a run that used some, the
// clear values come from cfg's instance at the same address, and only if
// redacting them gives exactly what was recorded and their salted hash is
// the one recorded: the same secrets, or the rerun is refused.
func ReproInstance(cfg *lang.Config, run *state.Run, envFP string) (*lang.Instance, error) {
	in := run.Inputs
	if in == nil || in.Snapshot == "" {
		return nil, fmt.Errorf("%w: run %s has no recorded snapshot", ErrNotReproducible, run.ID)
	}
	if cfg == nil {
		return nil, fmt.Errorf("%w: the configuration could not be loaded, and it says where compute %s is ('trainrun validate' says what is wrong)", ErrNotReproducible, run.Compute)
	}
	if cfg.Computes[run.Compute] == nil {
		return nil, fmt.Errorf("%w: compute %q, where run %s ran, is no longer in the configuration; add it back to rerun there", ErrNotReproducible, run.Compute, run.ID)
	}
	if run.Handle != nil && run.Handle.Kind != "" && cfg.Computes[run.Compute].Kind != run.Handle.Kind {
		return nil, fmt.Errorf("%w: compute %q is now a %s compute; run %s ran on a %s one", ErrNotReproducible, run.Compute, cfg.Computes[run.Compute].Kind, run.ID, run.Handle.Kind)
	}
	if run.Environment != "" && cfg.Environments[run.Environment] == nil {
		return nil, fmt.Errorf("%w: environment %q, which run %s used, is no longer in the configuration", ErrNotReproducible, run.Environment, run.ID)
	}
	if envFP != in.Environment {
		name := run.Environment
		if name == "" {
			name = "host (default)"
		}
		return nil, fmt.Errorf("%w: environment %s changed since run %s; restore its definition to rerun it as it was", ErrNotReproducible, name, run.ID)
	}
	inst := &lang.Instance{
		Address:     run.Address,
		Experiment:  run.Experiment,
		Compute:     run.Compute,
		Environment: run.Environment,
		SourceDir:   in.SourceDir,
		Command:     slices.Clone(in.Command),
		Shell:       in.Shell,
		ParamsFile:  in.ParamsFile,
		Params:      maps.Clone(in.Params),
		Env:         maps.Clone(in.Env),
		Outputs:     slices.Clone(in.Outputs),
		Resources:   run.Settings.Resources,
		Retries:     run.Settings.Retries,
		// The backoff is not recorded: a rerun waits the default.
		RetryBackoff: lang.DefaultRetryBackoff,
	}
	if run.Settings.Timeout != "" {
		d, err := time.ParseDuration(run.Settings.Timeout)
		if err != nil {
			return nil, fmt.Errorf("run %s: recorded timeout %q: %w", run.ID, run.Settings.Timeout, err)
		}
		inst.Timeout = d
	}
	if in.SecretsHash == "" {
		return inst, nil
	}
	var cur *lang.Instance
	for _, c := range cfg.Instances {
		if c.Address == run.Address {
			cur = c
			break
		}
	}
	if cur == nil {
		return nil, fmt.Errorf("%w: run %s was given sensitive values, which are never recorded, and its instance %s is no longer in the configuration to take them from", ErrNotReproducible, run.ID, run.Address)
	}
	now := Inputs(cfg, cur, in.Snapshot, in.Environment, in.Upstream)
	if now.SecretsHash != in.SecretsHash || !slices.Equal(now.Command, in.Command) || now.Shell != in.Shell ||
		!maps.Equal(now.Env, in.Env) || !maps.EqualFunc(now.Params, in.Params, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
		return nil, fmt.Errorf("%w: run %s was given sensitive values, which are never recorded; the configuration gives %s other ones now (or another command, env or params). "+
			"Give the values the run had (TRAINRUN_VAR_NAME, -var or -var-file) to rerun it", ErrNotReproducible, run.ID, run.Address)
	}
	inst.Command, inst.Shell = slices.Clone(cur.Command), cur.Shell
	inst.Env, inst.Params = maps.Clone(cur.Env), maps.Clone(cur.Params)
	return inst, nil
}
