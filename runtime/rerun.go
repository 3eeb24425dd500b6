package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// Checkout writes the source snapshot run used into dst, which must be
// empty or not exist, as the run saw it: symlinks as they were, wherever
// they point (snapshot.Store.Checkout). It returns the snapshot's manifest.
func Checkout(ctx context.Context, store *snapshot.Store, run *state.Run, dst string) (*snapshot.Manifest, error) {
	m, err := recordedSnapshot(ctx, store, run)
	if err != nil {
		return nil, err
	}
	if err := store.Checkout(m, dst); err != nil {
		return nil, fmt.Errorf("check out run %s: %w", run.ID, err)
	}
	return m, nil
}

// ExportOutputs writes run's collected outputs into dir (trainrun
// outputs): from the content store, or from its collected directory under
// dataDir when they were never stored. See snapshot.Store.Export.
func ExportOutputs(ctx context.Context, store *snapshot.Store, dataDir string, run *state.Run, dir string, force bool) (*snapshot.ExportResult, error) {
	if run.Status != providers.Succeeded || run.Outputs == "" {
		return nil, fmt.Errorf("run %s (%s) is %s: it has no collected outputs", run.ID, run.Address, run.Status)
	}
	var m *snapshot.Manifest
	switch id, unstored := strings.CutPrefix(run.Outputs, "run:"); {
	case run.Outputs == planner.EmptyOutputs:
		m = snapshot.NewManifest(nil)
	case unstored:
		var err error
		if m, err = store.PutTree(filepath.Join(dataDir, "runs", id, "outputs")); err != nil {
			return nil, fmt.Errorf("the outputs of run %s were never stored, and its collected copy cannot be read: %w", run.ID, err)
		}
	default:
		var err error
		if m, err = store.Fetch(ctx, run.Outputs); err != nil {
			return nil, fmt.Errorf("the content store no longer holds the outputs of run %s (trainrun gc may have freed them): %w", run.ID, err)
		}
	}
	return store.Export(m, dir, force)
}

// recordedSnapshot loads the snapshot run used, checking that the store
// still holds every file of it.
func recordedSnapshot(ctx context.Context, store *snapshot.Store, run *state.Run) (*snapshot.Manifest, error) {
	if run.Inputs == nil || run.Inputs.Snapshot == "" {
		return nil, fmt.Errorf("run %s has no recorded source snapshot", run.ID)
	}
	m, err := store.Fetch(ctx, run.Inputs.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("the content store no longer holds the snapshot of run %s: %w", run.ID, err)
	}
	return m, nil
}

// Reproduction is how a rerun compares with the run it reproduces.
type Reproduction struct {
	Run, Original *state.Run
	// Compared says both runs succeeded with recorded outputs; then Same
	// says whether their content hashes are equal, and Diff how their
	// files differ when not.
	Compared bool
	Same     bool
	Diff     snapshot.Change
}

// Rerun runs orig again as a new run marked as its reproduction: the same
// source snapshot, command or shell line, env, params and environment, on
// the same compute with the same settings, given the very input files orig
// was given. Sensitive values come from the configuration, as
// planner.ReproInstance explains. The new run never becomes its
// instance's current run. The error is for what kept it from running; a
// failed rerun is reported in the Reproduction.
func (r *Runtime) Rerun(ctx context.Context, orig *state.Run, opts Options) (*Reproduction, error) {
	if orig.Live() {
		return nil, fmt.Errorf("run %s is still %s; rerun it once it has ended", orig.ID, orig.Status)
	}
	envFP, err := r.environmentFingerprint(ctx, orig.Environment, orig.Compute)
	if err != nil {
		return nil, err
	}
	inst, err := planner.ReproInstance(r.Config, orig, envFP)
	if err != nil {
		return nil, err
	}
	m, err := recordedSnapshot(ctx, r.Store, orig)
	if err != nil {
		return nil, err
	}
	run := &state.Run{
		ID:          state.NewRunID(),
		Address:     orig.Address,
		Experiment:  orig.Experiment,
		Fingerprint: orig.Fingerprint,
		Inputs:      orig.Clone().Inputs,
		Git:         orig.Git,
		Compute:     orig.Compute,
		Environment: orig.Environment,
		Params:      orig.Params,
		Settings:    orig.Settings,
		Status:      providers.Pending,
		CreatedAt:   time.Now().UTC(),
		ReproOf:     orig.ID,
		InputRuns:   orig.InputRuns,
	}
	inputs, err := r.reproInputs(ctx, orig, run.ID)
	if err != nil {
		return nil, err
	}
	// The rerun is an apply of its own: its snapshot and inputs are not
	// those of an apply of r that may be under way.
	ap := &apply{Runtime: r, snapshots: map[string]*snapshot.Manifest{inst.SourceKey(): m}, fixedInputs: inputs}
	a := &planner.Action{
		Address: orig.Address, Kind: "run", Action: planner.Submit, Reasons: []string{"rerun of " + orig.ID},
		Fingerprint: orig.Fingerprint, Instance: inst, Inputs: run.Inputs, Settings: orig.Settings,
	}
	sched := newScheduler(1, func(string) int { return 0 })
	r.emit(Event{Type: ApplyStarted, Counts: map[string]int{planner.Submit: 1}})
	got, started := ap.runAction(ctx, sched, 0, a, orig.Git, opts, run)
	if err := r.State.Sync(); err != nil {
		return nil, fmt.Errorf("sync state: %w", err)
	}
	if !started {
		return nil, errors.New("the rerun was not started")
	}
	return r.compareOutputs(orig, got), nil
}

// reproInputs puts the files orig was given as inputs into the new run's
// directory, from the content store by their recorded content hashes.
func (r *Runtime) reproInputs(ctx context.Context, orig *state.Run, runID string) (map[string]string, error) {
	out := map[string]string{}
	defer func() {
		for _, dir := range out {
			_ = snapshot.SetReadOnly(dir, true) // as any run's inputs
		}
	}()
	for key, hashes := range orig.Inputs.Upstream {
		name, ok := strings.CutPrefix(key, "input.")
		if !ok {
			continue // depends_on: an order, not files
		}
		dir := filepath.Join(r.runDir(runID), "inputs", name)
		if keys := orig.Inputs.UpstreamKeys[key]; len(keys) == len(hashes) && keys != nil {
			for i, h := range hashes {
				if err := r.materializeOutputs(ctx, h, filepath.Join(dir, keyDirName(keys[i]))); err != nil {
					return nil, fmt.Errorf("input %s of run %s: %w", name, orig.ID, err)
				}
			}
			out[name] = dir
			continue
		}
		if len(hashes) == 1 {
			if err := r.materializeOutputs(ctx, hashes[0], dir); err != nil {
				return nil, fmt.Errorf("input %s of run %s: %w", name, orig.ID, err)
			}
			out[name] = dir
			continue
		}
		ids := orig.InputRuns[name]
		if len(ids) != len(hashes) {
			return nil, fmt.Errorf("%w: run %s does not record which upstream runs fed input %s, so it cannot be given the same files", planner.ErrNotReproducible, orig.ID, name)
		}
		for i, h := range hashes {
			up, err := r.State.Get(ids[i])
			if err != nil {
				return nil, fmt.Errorf("input %s of run %s: upstream run %s: %w", name, orig.ID, ids[i], err)
			}
			if err := r.materializeOutputs(ctx, h, filepath.Join(dir, instanceKey(up.Address))); err != nil {
				return nil, fmt.Errorf("input %s of run %s: %w", name, orig.ID, err)
			}
		}
		out[name] = dir
	}
	return out, nil
}

// materializeOutputs recreates the outputs whose content hash is hash in
// dst.
func (r *Runtime) materializeOutputs(ctx context.Context, hash, dst string) error {
	if hash == planner.EmptyOutputs {
		return os.MkdirAll(dst, 0o700)
	}
	if id, ok := strings.CutPrefix(hash, "run:"); ok {
		// Outputs never stored: the collected copy is all there is.
		src := filepath.Join(r.runDir(id), "outputs")
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("the outputs of run %s were never stored and %s is gone", id, src)
		}
		m, err := r.Store.PutTree(src)
		if err != nil {
			return err
		}
		return r.Store.Materialize(m, dst)
	}
	m, err := r.Store.Fetch(ctx, hash)
	if err != nil {
		return fmt.Errorf("the content store no longer holds these outputs: %w", err)
	}
	return r.Store.Materialize(m, dst)
}

func (r *Runtime) compareOutputs(orig, run *state.Run) *Reproduction {
	rep := &Reproduction{Run: run, Original: orig}
	if orig.Status != providers.Succeeded || run.Status != providers.Succeeded || orig.Outputs == "" || run.Outputs == "" {
		return rep
	}
	rep.Compared = true
	rep.Same = orig.Outputs == run.Outputs
	if rep.Same {
		return rep
	}
	load := func(id string) *snapshot.Manifest {
		if id == planner.EmptyOutputs {
			return snapshot.NewManifest(nil)
		}
		m, err := r.Store.LoadManifest(id)
		if err != nil {
			return nil
		}
		return m
	}
	if a, b := load(orig.Outputs), load(run.Outputs); a != nil && b != nil {
		rep.Diff = snapshot.Diff(a, b)
	}
	return rep
}

// environmentFingerprint is what a run's fingerprint hashes of environment
// name on compute now, as the planner finds it.
func (r *Runtime) environmentFingerprint(ctx context.Context, name, compute string) (string, error) {
	if name == "" || r.Config == nil || r.Config.Environments[name] == nil {
		return planner.EnvironmentFingerprint(r.Config, name), nil
	}
	envs := r.environments()
	if envs == nil {
		return planner.EnvironmentFingerprint(r.Config, name), nil
	}
	spec, err := envs.Spec(ctx, name, compute)
	if err != nil {
		return "", fmt.Errorf("environment.%s on compute.%s: %w", name, compute, err)
	}
	return spec.Fingerprint(), nil
}
