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
	format     int    // of state.json; 0: none
	index             // the current records, and those put since state.json

	// The history (history.go): what state.json says of it, and its
	// index, read when first needed.
	hist    historyRef
	histMu  sync.Mutex
	histIdx *histIndex

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

// compareRuns orders runs by CreatedAt, then ID.
func compareRuns(a, b *Run) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
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
