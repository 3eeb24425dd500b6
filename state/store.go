package state

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors that Find and Put wrap; test with errors.Is.
var (
	ErrNotFound  = errors.New("no such run")
	ErrAmbiguous = errors.New("ambiguous run reference")
	ErrNotLocked = errors.New("state is not locked")
)

// File names under a store's directory.
const (
	snapshotName = "state.json"
	journalName  = "journal"
	lockName     = "lock"
	tempPrefix   = "state.json.tmp-"
)

// Compaction thresholds, in journal records.
const (
	compactEvery   = 4096 // while writing (and at least the number of runs)
	compactOnClose = 512  // when the writer closes
)

// Store is the record of runs kept in one directory. Open it to read; Lock
// it to write. Its methods may be called from several goroutines at once.
// The runs it returns are copies: the caller may change them and Put them.
type Store struct {
	dir string

	// Thresholds, fields so that tests can make compaction frequent.
	compactEvery   int
	compactOnClose int

	mu         sync.RWMutex
	lineage    string
	serial     uint64 // records ever put
	snapSerial uint64 // serial of state.json
	index

	// What a reader last read, to read only what is new on Reload.
	snapFile *os.File    // the state.json read, held open so its inode is not reused
	snapInfo os.FileInfo // nil: there was no state.json
	readOff  int64       // journal bytes read (up to the end of a complete Put)
	readLine int         // journal lines read
	stale    int         // journal lines read that state.json holds too: a compaction cut short
	valid    bool        // the fields above describe the files

	// Transactions of this process, one at a time (Update).
	txMu        sync.Mutex
	lockTimeout time.Duration // how long Put waits for the lock
	session     bool          // the lock is held by Lock, not by a transaction
	unsynced    bool          // a transaction wrote since the last Sync

	// Claims held by this process (Claim), by address.
	claims map[string]*fileClaim

	// The records of computes and environments, read when first asked.
	recsMu       sync.Mutex
	computes     *Computes
	environments *Environments

	// The writer, between Lock and Unlock.
	lock         *os.File // the lock file, locked
	lockDir      *os.File // the directory, locked; nil where that is not possible
	holder       Holder   // what the lock file says
	journal      *os.File // O_APPEND
	journalSize  int64
	journalLines int   // lines in the journal, including compacted ones
	dirSynced    bool  // the journal's directory entry is on disk
	broken       error // a failed write could not be undone: refuse to write more
	compactRetry int   // journal lines at which to retry a failed compaction
	tidied       bool  // temporary files of compactions cut short were removed
	closed       bool
}

// entry is the latest record of one run.
type entry struct {
	run  *Run   // never modified: replaced by a newer one
	json string // its JSON, as written, for compaction
}

// Open reads the store in dir. A missing dir is an empty store: nothing is
// created until the store is locked for writing.
func Open(dir string) (*Store, error) {
	s := &Store{
		dir:            dir,
		compactEvery:   compactEvery,
		compactOnClose: compactOnClose,
		index:          newIndex(0),
		lockTimeout:    DefaultLockTimeout,
	}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir is the directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// Serial is the number of records ever put. It only grows, so a plan made
// at one serial is stale when the store's serial differs.
func (s *Store) Serial() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.serial
}

// Lineage identifies the store: a random id fixed when it is first locked
// for writing. It is empty for a store that was never written, so a plan
// made against no state may be applied to a store created since, if the
// serial still matches.
func (s *Store) Lineage() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lineage
}

// Len is the number of runs recorded.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.runs)
}

// Runs returns the latest record of every run, oldest first (by CreatedAt,
// then ID).
func (s *Store) Runs() []*Run {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Run, 0, len(s.runs))
	for _, e := range s.runs {
		out = append(out, e.run.Clone())
	}
	slices.SortFunc(out, compareRuns)
	return out
}

// Latest returns the newest run (by CreatedAt, then ID) of the instance at
// address, or nil when it has none. Reproductions (ReproOf set) are left
// out: re-running an old run checks it; it does not make it current.
func (s *Store) Latest(address string) *Run {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.latest(address); r != nil {
		return r.Clone()
	}
	return nil
}

func (s *Store) latest(address string) *Run {
	var best *Run
	for _, e := range s.byAddr[address] {
		if e.run.ReproOf != "" {
			continue
		}
		if best == nil || compareRuns(e.run, best) > 0 {
			best = e.run
		}
	}
	return best
}

// ByAddress returns every instance address's runs, oldest first.
func (s *Store) ByAddress() map[string][]*Run {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]*Run, len(s.byAddr))
	for addr, es := range s.byAddr {
		rs := make([]*Run, len(es))
		for i, e := range es {
			rs[i] = e.run.Clone()
		}
		slices.SortFunc(rs, compareRuns)
		out[addr] = rs
	}
	return out
}

// compareRuns orders runs by CreatedAt, then ID.
func compareRuns(a, b *Run) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Find resolves what a user typed to name a run: a run id, a unique prefix
// of one, or an instance address meaning its latest run.
func (s *Store) Find(ref string) (*Run, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ref == "" {
		return nil, fmt.Errorf("%w: empty run reference", ErrNotFound)
	}
	if e, ok := s.runs[ref]; ok {
		return e.run.Clone(), nil
	}
	if r := s.latest(ref); r != nil {
		return r.Clone(), nil
	}
	var matches []*Run
	for id, e := range s.runs {
		if strings.HasPrefix(id, ref) {
			matches = append(matches, e.run)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0].Clone(), nil
	case 0:
		// experiment.NAME where the experiment is a sweep: say which
		// instances there are.
		var instances []string
		for addr := range s.byAddr {
			if strings.HasPrefix(addr, ref+"[") {
				instances = append(instances, addr)
			}
		}
		if len(instances) > 0 {
			slices.Sort(instances)
			return nil, fmt.Errorf("%w: %s has %d instances; name one: %s", ErrAmbiguous, ref, len(instances), listSome(instances))
		}
		return nil, fmt.Errorf("%w: %q is not a run id, a run id prefix, or an instance address with runs", ErrNotFound, ref)
	}
	slices.SortFunc(matches, func(a, b *Run) int { return cmp.Compare(a.ID, b.ID) })
	names := make([]string, len(matches))
	for i, r := range matches {
		names[i] = fmt.Sprintf("%s (%s)", r.ID, r.Address)
	}
	return nil, fmt.Errorf("%w: %q is the beginning of %d run ids: %s; give more characters", ErrAmbiguous, ref, len(matches), listSome(names))
}

// listSome joins the first few of names.
func listSome(names []string) string {
	const max = 10
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

// index holds the latest record of every run, by id, by address and by
// fingerprint.
type index struct {
	runs   map[string]*entry
	byAddr map[string][]*entry
	byFP   map[string][]*entry
}

// newIndex returns an index with room for n runs.
func newIndex(n int) index {
	return index{runs: make(map[string]*entry, n), byAddr: make(map[string][]*entry, n), byFP: make(map[string][]*entry, n)}
}

// apply makes r, whose JSON is js, the latest record of run id. r is a
// decoded copy that nobody else holds.
func (s *index) apply(id string, r *Run, js string) {
	if e, ok := s.runs[id]; ok {
		if e.run.Fingerprint != r.Fingerprint {
			s.unindexFP(e)
			defer s.indexFP(e)
		}
		if e.run.Address != r.Address {
			s.unindex(e)
			e.run, e.json = r, js
			s.byAddr[r.Address] = append(s.byAddr[r.Address], e)
			return
		}
		e.run, e.json = r, js
		return
	}
	e := &entry{run: r, json: js}
	s.runs[id] = e
	s.byAddr[r.Address] = append(s.byAddr[r.Address], e)
	s.indexFP(e)
}

func (s *index) indexFP(e *entry) {
	if fp := e.run.Fingerprint; fp != "" {
		s.byFP[fp] = append(s.byFP[fp], e)
	}
}

func (s *index) unindexFP(e *entry) {
	fp := e.run.Fingerprint
	es := s.byFP[fp]
	if i := slices.Index(es, e); i >= 0 {
		es = slices.Delete(es, i, i+1)
	}
	if len(es) == 0 {
		delete(s.byFP, fp)
	} else {
		s.byFP[fp] = es
	}
}

func (s *index) unindex(e *entry) {
	es := s.byAddr[e.run.Address]
	if i := slices.Index(es, e); i >= 0 {
		es = slices.Delete(es, i, i+1)
	}
	if len(es) == 0 {
		delete(s.byAddr, e.run.Address)
	} else {
		s.byAddr[e.run.Address] = es
	}
}
