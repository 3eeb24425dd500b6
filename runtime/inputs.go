package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// Inputs are read-only (SPEC §8). A run's inputs on this machine are the
// upstream runs' collected outputs themselves (.trainrun/runs/ID/outputs,
// made read-only once stored), never files of the content store: the store
// copies what it keeps, so nothing a run does to its inputs reaches it.
// Read-only modes stop a run that writes by mistake; root, or a run that
// gives itself the permission back, can still write. So after every run,
// each input is scanned again (a stat cache spares the files whose inode,
// size, times and mode did not move) and compared with its recorded
// content hash. A run that changed one fails, the upstream's collected
// outputs are restored from the store, and any other run that read them
// while they were changed fails too.

// givenInput is the outputs of one upstream instance as a run was given
// them on this machine.
type givenInput struct {
	name string // the input's name
	key  string // the upstream instance's sweep key, for an input naming a whole sweep
	hash string // their recorded content hash
	dir  string
	// upstream is the run whose collected outputs dir is; "" when dir is
	// the run's own copy (a rerun's inputs).
	upstream string
}

// label names the input in a reason: "data", or "models (lr=0.1)".
func (g givenInput) label() string {
	if g.key != "" {
		return fmt.Sprintf("%s (%s)", g.name, g.key)
	}
	return g.name
}

// givenInputs lists what run was given as inputs on this machine, from its
// record: the collected outputs of the upstream runs in InputRuns, or, for
// a rerun, the copies in its own directory.
func (r *Runtime) givenInputs(run *state.Run) []givenInput {
	if run.Inputs == nil {
		return nil
	}
	var out []givenInput
	for _, name := range slices.Sorted(maps.Keys(run.InputRuns)) {
		ids := run.InputRuns[name]
		hashes := run.Inputs.Upstream["input."+name]
		keys := run.Inputs.UpstreamKeys["input."+name]
		if len(ids) != len(hashes) || keys != nil && len(keys) != len(hashes) {
			continue // not what this version records: nothing to compare with
		}
		for i, id := range ids {
			g := givenInput{name: name, hash: hashes[i], dir: filepath.Join(r.runDir(id), "outputs"), upstream: id}
			if keys != nil {
				g.key = keys[i]
			}
			if run.ReproOf != "" {
				g.upstream, g.dir = "", filepath.Join(r.runDir(run.ID), "inputs", name)
				switch {
				case keys != nil:
					g.dir = filepath.Join(g.dir, keyDirName(keys[i]))
				case len(ids) > 1:
					up, err := r.State.Get(id)
					if err != nil {
						continue
					}
					g.dir = filepath.Join(g.dir, instanceKey(up.Address))
				}
			}
			out = append(out, g)
		}
	}
	return out
}

// inputGuard checks inputs and restores damaged ones. It is shared by the
// Runtimes of one process (WithConfig), whose runs read the same
// directories.
type inputGuard struct {
	mu     sync.Mutex
	dirs   map[string]*guardedDir
	caches map[string]*snapshot.StatCache
}

// guardedDir serializes the checks and restores of one directory and
// remembers when runs changed it.
type guardedDir struct {
	mu     sync.Mutex
	cache  *snapshot.StatCache
	damage []damage
}

// damage is a time a run changed a directory of inputs, until it was
// restored.
type damage struct {
	run      string
	from, to time.Time
}

func (g *inputGuard) dir(path string) *guardedDir {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dirs == nil {
		g.dirs = make(map[string]*guardedDir)
	}
	d := g.dirs[path]
	if d == nil {
		d = &guardedDir{cache: snapshot.NewStatCache()}
		g.dirs[path] = d
	}
	return d
}

func (r *Runtime) guard() *inputGuard {
	sh := r.shared()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.inputs == nil {
		sh.inputs = new(inputGuard)
	}
	return sh.inputs
}

// checkInputs verifies, once run ended, that every input it was given
// still holds its recorded content: the copies on its compute, or the
// directories on this machine. It restores what the run changed here and
// returns why the run fails, or "".
func (r *Runtime) checkInputs(ctx context.Context, comp providers.Compute, run *state.Run) string {
	given := r.givenInputs(run)
	if len(given) == 0 {
		return ""
	}
	if ic, ok := comp.(providers.InputCopier); ok && ic.CopiesInputs() && run.Handle != nil {
		return checkCopies(ctx, ic, run, given, r.Store)
	}
	start := run.CreatedAt
	if run.StartedAt != nil {
		start = *run.StartedAt
	}
	var problems []string
	for _, in := range given {
		if strings.HasPrefix(in.hash, "run:") {
			continue // never stored: there is no recorded content to compare with
		}
		if p := r.checkInput(ctx, run.ID, in, start); p != "" {
			problems = append(problems, p)
		}
	}
	return strings.Join(problems, "; ")
}

// checkInput verifies one input; see checkInputs.
func (r *Runtime) checkInput(ctx context.Context, runID string, in givenInput, start time.Time) string {
	d := r.guard().dir(in.dir)
	d.mu.Lock()
	defer d.mu.Unlock()
	id, m, err := scanOutputs(in.dir, d.cache)
	if err != nil {
		return fmt.Sprintf("input %s could not be verified: %v", in.label(), err)
	}
	if id == in.hash {
		// Unchanged now; but another run may have changed it while this
		// one read it, and it was restored since.
		for _, dm := range d.damage {
			if dm.run != runID && dm.to.After(start) {
				return fmt.Sprintf("input %s was changed by run %s while this run ran (it was restored from the store since)", in.label(), dm.run)
			}
		}
		return ""
	}
	reason := fmt.Sprintf("input %s was changed while the run ran (%s)", in.label(), describeChange(m, in.hash, r.Store))
	if in.upstream == "" {
		return reason
	}
	dm := damage{run: runID, from: start}
	if err := r.restoreOutputs(ctx, in.dir, in.hash); err != nil {
		dm.to = time.Now()
		d.damage = append(d.damage, dm)
		return fmt.Sprintf("%s; restoring the outputs of upstream run %s from the store failed: %v", reason, in.upstream, err)
	}
	dm.to = time.Now()
	d.damage = append(d.damage, dm)
	return fmt.Sprintf("%s; the outputs of upstream run %s were restored from the store", reason, in.upstream)
}

// checkCopies verifies the copies of its inputs a run was given on its
// compute. They were the run's own: nothing else needs restoring.
func checkCopies(ctx context.Context, ic providers.InputCopier, run *state.Run, given []givenInput, store *snapshot.Store) string {
	trees, err := ic.InputFiles(ctx, *run.Handle)
	if err != nil {
		return fmt.Sprintf("its inputs could not be verified: %v", err)
	}
	var problems []string
	for _, in := range given {
		if strings.HasPrefix(in.hash, "run:") {
			continue
		}
		var entries []snapshot.Entry
		prefix := ""
		if in.key != "" {
			prefix = keyDirName(in.key) + "/"
		} else if len(run.InputRuns[in.name]) > 1 {
			continue // recorded before keys were: its copy's layout is not known here
		}
		for _, f := range trees[in.name] {
			if rest, ok := strings.CutPrefix(f.Path, prefix); ok {
				entries = append(entries, snapshot.Entry{Path: rest, Mode: f.Mode, Hash: f.Hash})
			}
		}
		if m := snapshot.NewManifest(entries); m.ID != in.hash {
			problems = append(problems, fmt.Sprintf("input %s was changed while the run ran (its copy on the compute: %s)", in.label(), describeChange(m, in.hash, store)))
		}
	}
	return strings.Join(problems, "; ")
}

// describeChange says how m differs from the recorded outputs hash, by
// path when the store holds their manifest.
func describeChange(m *snapshot.Manifest, hash string, store *snapshot.Store) string {
	if hash == planner.EmptyOutputs {
		return snapshot.Diff(nil, m).String()
	}
	if store != nil {
		if recorded, err := store.LoadManifest(hash); err == nil {
			return snapshot.Diff(recorded, m).String()
		}
	}
	return "its content changed"
}

// scanOutputs hashes a directory of outputs as they were stored (no ignore
// files), a missing one as the empty tree.
func scanOutputs(dir string, cache *snapshot.StatCache) (string, *snapshot.Manifest, error) {
	m, _, err := snapshot.Scan(dir, snapshot.ScanOptions{NoIgnore: true, Cache: cache})
	if errors.Is(err, fs.ErrNotExist) {
		return planner.EmptyOutputs, snapshot.NewManifest(nil), nil
	}
	if err != nil {
		return "", nil, err
	}
	return m.ID, m, nil
}

// outputsManifest loads the manifest of recorded outputs from the store.
func (r *Runtime) outputsManifest(ctx context.Context, hash string) (*snapshot.Manifest, error) {
	if hash == planner.EmptyOutputs {
		return snapshot.NewManifest(nil), nil
	}
	return r.Store.Fetch(ctx, hash)
}

// restoreOutputs puts the recorded outputs hash back into dir, a collected
// outputs directory, from the content store: written beside it, made
// read-only, then renamed into its place, so that a reader never sees half
// of it.
func (r *Runtime) restoreOutputs(ctx context.Context, dir, hash string) error {
	m, err := r.outputsManifest(ctx, hash)
	if err != nil {
		return err
	}
	tmp := dir + ".restore-" + state.NewRunID()
	if err := r.Store.Materialize(m, tmp); err != nil {
		return err
	}
	if err := snapshot.SetReadOnly(tmp, true); err != nil {
		removeTree(tmp)
		return err
	}
	old := dir + ".changed-" + state.NewRunID()
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		removeTree(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	removeTree(old)
	return nil
}

// removeTree removes a tree that may be read-only.
func removeTree(dir string) {
	_ = snapshot.SetReadOnly(dir, false)
	_ = os.RemoveAll(dir)
}
