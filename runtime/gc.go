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
	"syscall"
	"time"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/state"
)

// GCOptions say what garbage collection keeps besides what runs need.
type GCOptions struct {
	// KeepDays keeps every run created less than that many days ago, and
	// store files written less than that many days ago that no run names
	// (0: only what kept runs need).
	KeepDays int
	// Now is the time the ages are measured from (zero: time.Now()).
	Now time.Time
}

// GCPlan is what garbage collection removes, decided from the record:
// nothing a kept run needs is in it.
type GCPlan struct {
	// Kept are the runs kept, by id, with why.
	Kept map[string]string
	// RunDirs are the runs whose directories on their computes go.
	RunDirs []*state.Run
	// Collected are the runs whose collected outputs
	// (DATADIR/runs/ID/outputs) go; their log and metrics stay.
	Collected []*state.Run
	// Manifests and Blobs are the content store's snapshots and files
	// that no kept run names.
	Manifests, Blobs []string
	// Bytes is what removing it frees on this machine's disk: files whose
	// every link goes (a collected output is a link to its run directory's
	// file), counted once.
	Bytes int64
	// Remote counts the run directories on other machines; RemoteBytes is
	// their size where the compute could say (providers.DirSizer).
	Remote      int
	RemoteBytes int64
	// StoreCutoff: store files used (stored or touched) since are kept.
	StoreCutoff time.Time
}

// StoreGrace is how long a file of the content store stays after its last
// use (stored, or found by a writer) even when no recorded run names it:
// the time an apply may take from storing a snapshot to recording the run
// that names it. A run that starts later than that after its apply stored
// its snapshot stores again what gc removed.
const StoreGrace = time.Hour

// Empty reports whether the plan removes nothing.
func (p *GCPlan) Empty() bool {
	return len(p.RunDirs) == 0 && len(p.Collected) == 0 && len(p.Manifests) == 0 && len(p.Blobs) == 0
}

// GCResult is what garbage collection removed.
type GCResult struct {
	RunDirs, Collected, Manifests, Blobs int
	Bytes                                int64 // freed on this machine
	RemoteBytes                          int64 // freed on other machines, where known
}

// gcTrash is where collected outputs are moved before they are removed,
// under the data directory: the move is atomic, so a reader sees a run's
// outputs whole or not at all, and a gc killed while it removed them
// finishes the removal next time.
const gcTrash = "gc-trash"

// GCPlan decides what garbage collection removes. The caller holds the
// state lock, so that no apply stores or records anything meanwhile, and
// keeps it until GC returns.
//
// Kept: the latest run of every instance that has runs (every instance of
// the configuration is one), the latest succeeded run of each too (the
// last good result of an instance whose latest run failed), every live
// run, every run created less than KeepDays ago, and the runs whose
// outputs a kept run was given as inputs. For each kept run, its source
// snapshot, its outputs and their files stay in the store, its
// directories too.
func (r *Runtime) GCPlan(ctx context.Context, opts GCOptions) (*GCPlan, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	cutoff := now.Add(-time.Duration(opts.KeepDays) * 24 * time.Hour)
	// What the store holds is removed only when unused for StoreGrace
	// too: an apply beside gc stores its snapshots (and a run its
	// outputs) a while before it records the run that names them.
	storeCutoff := cutoff
	if g := now.Add(-StoreGrace); g.Before(storeCutoff) {
		storeCutoff = g
	}
	all, err := r.State.List(state.Query{})
	if err != nil {
		return nil, err
	}
	p := &GCPlan{Kept: make(map[string]string), StoreCutoff: storeCutoff}
	keep := func(run *state.Run, why string) {
		if _, ok := p.Kept[run.ID]; !ok {
			p.Kept[run.ID] = why
		}
	}
	for _, run := range r.State.Heads() {
		keep(run, "latest run of "+run.Address)
	}
	for _, run := range r.State.Live() {
		keep(run, "live")
	}
	good := make(map[string]bool)
	byID := make(map[string]*state.Run, len(all))
	for _, run := range all { // newest first
		byID[run.ID] = run
		if run.Status == providers.Succeeded && run.ReproOf == "" && !good[run.Address] {
			good[run.Address] = true
			keep(run, "latest succeeded run of "+run.Address)
		}
		if !run.CreatedAt.Before(cutoff) {
			keep(run, fmt.Sprintf("younger than %d days", opts.KeepDays))
		}
	}
	// What kept runs were given: their inputs' runs, which a rerun reads.
	queue := slices.Collect(maps.Keys(p.Kept))
	for len(queue) > 0 {
		run := byID[queue[0]]
		queue = queue[1:]
		if run == nil {
			continue
		}
		for _, ids := range run.InputRuns {
			for _, id := range ids {
				if _, ok := p.Kept[id]; !ok {
					keep(&state.Run{ID: id}, "input of kept run "+run.ID)
				}
			}
		}
	}

	// Checkpoint directories (TRAINRUN_CHECKPOINT_DIR) are not in the
	// plan: RemoveStaleCheckpoints removes those no run will resume from.

	var u usage
	for _, run := range all {
		if _, ok := p.Kept[run.ID]; ok {
			continue
		}
		if run.Handle != nil && !run.Cleaned && !run.Live() {
			p.RunDirs = append(p.RunDirs, run)
			if run.Handle.Kind == "local" {
				u.add(run.Handle.Dir)
			} else {
				p.Remote++
				if n, ok := r.remoteSize(ctx, run.Handle); ok {
					p.RemoteBytes += n
				}
			}
		}
		if dir := filepath.Join(r.DataDir, "runs", run.ID, "outputs"); exists(dir) {
			p.Collected = append(p.Collected, run)
			u.add(dir)
		}
	}

	if r.Store != nil {
		if err := r.planStore(p, byID, storeCutoff, &u); err != nil {
			return nil, err
		}
	}
	u.add(filepath.Join(r.DataDir, gcTrash))
	p.Bytes = u.freed()
	return p, nil
}

// planStore adds to p the store's manifests and blobs that no kept run
// names and that were written before cutoff.
func (r *Runtime) planStore(p *GCPlan, byID map[string]*state.Run, cutoff time.Time, u *usage) error {
	manifests := make(map[string]bool)
	for id := range p.Kept {
		run := byID[id]
		if run == nil {
			continue
		}
		if run.Inputs != nil && run.Inputs.Snapshot != "" {
			manifests[run.Inputs.Snapshot] = true
		}
		if run.Outputs != "" && run.Outputs != planner.EmptyOutputs && !strings.HasPrefix(run.Outputs, "run:") {
			manifests[run.Outputs] = true
		}
	}
	blobs := make(map[string]bool)
	for id := range manifests {
		m, err := r.Store.LoadManifest(id)
		if err != nil {
			continue // gone already: nothing of it to keep
		}
		for _, e := range m.Entries {
			blobs[e.Hash] = true
		}
	}
	old := func(fi fs.FileInfo) bool { return fi.ModTime().Before(cutoff) }

	mdir := filepath.Join(r.Store.Dir(), "manifests")
	ents, err := os.ReadDir(mdir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the content store: %w", err)
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || manifests[id] {
			continue
		}
		if fi, err := e.Info(); err == nil && old(fi) {
			p.Manifests = append(p.Manifests, id)
			u.add(filepath.Join(mdir, e.Name()))
		}
	}
	bdir := filepath.Join(r.Store.Dir(), "blobs")
	subs, err := os.ReadDir(bdir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the content store: %w", err)
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		files, err := os.ReadDir(filepath.Join(bdir, sub.Name()))
		if err != nil {
			return fmt.Errorf("read the content store: %w", err)
		}
		for _, f := range files {
			hash := sub.Name() + f.Name()
			if blobs[hash] || !f.Type().IsRegular() || r.Store.BlobPath(hash) == "" {
				continue
			}
			if fi, err := f.Info(); err == nil && old(fi) {
				p.Blobs = append(p.Blobs, hash)
				u.add(r.Store.BlobPath(hash))
			}
		}
	}
	return nil
}

// remoteSize asks the compute of a run on another machine how large its
// directory is, when the compute can say.
func (r *Runtime) remoteSize(ctx context.Context, h *providers.Handle) (int64, bool) {
	comp, err := r.Computes.ForHandle(h)
	if err != nil {
		return 0, false
	}
	s, ok := comp.(providers.DirSizer)
	if !ok {
		return 0, false
	}
	n, err := s.DirSize(ctx, *h)
	return n, err == nil
}

// GC removes what p lists, in the order that keeps the record true when it
// is killed at any point: run directories on computes (each recorded as
// removed once it is), collected outputs (moved aside, then removed),
// manifests (a snapshot then reads as gone as a whole), and last the
// files no remaining manifest names. A compute that cannot be reached
// keeps its directories; the error says which, and the rest goes on.
func (r *Runtime) GC(ctx context.Context, p *GCPlan) (GCResult, error) {
	var res GCResult
	var errs []error
	// What an earlier gc moved aside and was killed before removing.
	trash := filepath.Join(r.DataDir, gcTrash)
	if err := (executor.Local{}).RemoveAll(ctx, trash); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", trash, err))
	}
	var remote []*state.Run
	for _, run := range p.RunDirs {
		if run.Handle.Kind != "local" {
			remote = append(remote, run)
		}
	}
	n, err := r.Destroy(ctx, p.RunDirs)
	res.RunDirs = n
	if err != nil {
		errs = append(errs, err)
	}
	if n > 0 && len(remote) > 0 {
		res.RemoteBytes = p.RemoteBytes // an estimate when some failed
	}
	if err := os.MkdirAll(trash, 0o700); err != nil {
		errs = append(errs, err)
	}
	for _, run := range p.Collected {
		dir := filepath.Join(r.DataDir, "runs", run.ID, "outputs")
		// Moving a directory to another parent needs write permission
		// on it (its ".." changes): collected outputs are read-only.
		if err := os.Chmod(dir, 0o700); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove the outputs of run %s: %w", run.ID, err))
			continue
		}
		aside := filepath.Join(trash, run.ID)
		if err := os.Rename(dir, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove the outputs of run %s: %w", run.ID, err))
			continue
		}
		if err := (executor.Local{}).RemoveAll(ctx, aside); err != nil {
			errs = append(errs, fmt.Errorf("remove the outputs of run %s: %w", run.ID, err))
			continue
		}
		res.Collected++
	}
	_ = os.Remove(trash)
	for _, id := range p.Manifests {
		ok, err := r.Store.RemoveUnused("manifest", id, p.StoreCutoff)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			res.Manifests++
		}
	}
	for _, hash := range p.Blobs {
		ok, err := r.Store.RemoveUnused("blob", hash, p.StoreCutoff)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			res.Blobs++
		}
	}
	if len(errs) == 0 {
		res.Bytes = p.Bytes
	}
	return res, errors.Join(errs...)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// usage counts the bytes that removing some trees frees: a file counts
// once all its links are among them.
type usage struct {
	files map[[2]uint64]*linked
}

type linked struct {
	size         int64
	nlink, links uint64
}

// add counts the tree at root (a file or a directory, never followed
// through a link).
func (u *usage) add(root string) {
	if u.files == nil {
		u.files = make(map[[2]uint64]*linked)
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		key := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
		f := u.files[key]
		if f == nil {
			f = &linked{size: fi.Size(), nlink: uint64(st.Nlink)}
			u.files[key] = f
		}
		f.links++
		return nil
	})
}

// freed is the size of the files all of whose links were added.
func (u *usage) freed() int64 {
	var n int64
	for _, f := range u.files {
		if f.links >= f.nlink {
			n += f.size
		}
	}
	return n
}
