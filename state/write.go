package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/trainrun/trainrun/internal/atomicfile"
)

// openForWriting prepares the files for the writer that just took the
// lock: it reads what other writers wrote since this store last read (all
// of it when it cannot read only that), cuts away a write that a crash left
// torn, finishes a compaction that a crash interrupted, and opens the
// journal.
func (s *Store) openForWriting() error {
	if !s.reloadJournal() {
		if _, err := s.load(); err != nil {
			return err
		}
	}
	if !s.tidied {
		// A temporary state.json of a compaction cut short.
		if tmps, _ := filepath.Glob(s.path(tempPrefix + "*")); len(tmps) > 0 {
			for _, t := range tmps {
				os.Remove(t)
			}
		}
		s.tidied = true
	}
	journalPath := s.path(journalName)
	f, err := openFile(journalPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock state: %w", err)
	}
	// Under the lock nobody writes: bytes past what was read are the
	// torn end of a write that a kill cut short. Appending after them
	// would make them a damaged line in the middle.
	if info, err := f.Stat(); err != nil || info.Size() > s.readOff {
		if err == nil {
			err = f.Truncate(s.readOff)
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("lock state: cut the torn end of %s: %w", journalPath, err)
		}
	}
	s.journal = f
	s.journalSize, s.journalLines = s.readOff, s.readLine
	s.dirSynced = false
	s.compactRetry = 0
	if s.snapInfo == nil || s.stale > 0 || s.format < formatVersion {
		// A new store (its lineage is born with its state.json), or a
		// compaction that did not get to truncate the journal.
		if err := s.compact(); err != nil {
			return fmt.Errorf("lock state: %w", err)
		}
	}
	return nil
}

// DefaultLockTimeout is how long a Put waits for another process's
// transaction (or apply) to release the lock, unless SetLockTimeout says
// otherwise.
const DefaultLockTimeout = 10 * time.Second

// SetLockTimeout sets how long Put waits for the lock (-lock-timeout).
func (s *Store) SetLockTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockTimeout = d
}

// Put records runs: each becomes the latest record of its run, all of them
// or none. It stores copies: the caller may go on changing its runs. When
// it returns nil the records survive the death of the process; Sync makes
// them survive a power loss. Without the lock (Lock), Put is a transaction
// of its own, waiting for the lock at most the lock timeout.
func (s *Store) Put(runs ...*Run) error {
	if len(runs) == 0 {
		return nil
	}
	s.mu.RLock()
	timeout := s.lockTimeout
	s.mu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Update(ctx, func(tx Tx) error { return tx.Put(runs...) })
}

// item is a record encoded for the journal.
type item struct {
	id   string
	json string
	copy *Run // the store's own copy, exactly what a reader will decode
}

// encode encodes runs for the journal. It needs no lock.
func encode(runs []*Run) ([]item, error) {
	items := make([]item, len(runs))
	for i, r := range runs {
		if r == nil {
			return nil, errors.New("put: nil run")
		}
		if err := CheckRunID(r.ID); err != nil {
			return nil, fmt.Errorf("put: %w", err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("put run %s: %w", r.ID, err)
		}
		js := string(b)
		c, err := decodeRun(js)
		if err != nil {
			return nil, fmt.Errorf("put run %s: %w", r.ID, err)
		}
		items[i] = item{r.ID, js, c}
	}
	return items, nil
}

// appendLocked writes items to the journal as one Put. It requires s.mu and
// the lock.
func (s *Store) appendLocked(items []item) error {
	if len(items) == 0 {
		return nil
	}
	if s.lock == nil {
		return fmt.Errorf("put: %w", ErrNotLocked)
	}
	if s.broken != nil {
		return fmt.Errorf("put: %w", s.broken)
	}
	if err := s.checkLockLocked(); err != nil {
		s.broken = err
		return fmt.Errorf("put: %w", err)
	}
	size := 0
	for _, it := range items {
		size += len(it.json) + len(it.id) + 50
	}
	first, last := s.serial+1, s.serial+uint64(len(items))
	buf := make([]byte, 0, size)
	for i, it := range items {
		buf = appendRecord(buf, first+uint64(i), last, it.id, it.json)
	}
	// One write(2) on an O_APPEND file: a kill leaves all of it or a
	// prefix, which replay ignores.
	if _, err := s.journal.Write(buf); err != nil {
		path := s.path(journalName)
		// Cut off whatever part was written, or the next Put would
		// append after a damaged line.
		if terr := s.journal.Truncate(s.journalSize); terr != nil {
			s.broken = fmt.Errorf("an earlier write to %s failed and its end could not be cut off (%v); take the lock again to repair it", path, terr)
		}
		return fmt.Errorf("put: write %s: %w", path, err)
	}
	s.journalSize += int64(len(buf))
	s.journalLines += len(items)
	for _, it := range items {
		s.apply(it.id, it.copy, it.json)
	}
	s.serial = last
	s.unsynced = true
	if limit := max(s.compactEvery, len(s.runs)); s.journalLines > limit && s.journalLines >= s.compactRetry {
		// The records are safe in the journal whatever happens here: a
		// failed compaction is retried later, and reported by Close.
		if s.compact() != nil {
			s.compactRetry = s.journalLines + limit
		}
	}
	return nil
}

// Sync makes everything put so far survive a power loss.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncLocked()
}

func (s *Store) syncLocked() error {
	if s.journal == nil {
		if !s.unsynced {
			return nil
		}
		// Written by transactions since ended: the journal's pages are
		// the file's, whichever descriptor wrote them.
		f, err := os.Open(s.path(journalName))
		if err == nil {
			err = f.Sync()
			f.Close()
		}
		if err == nil {
			err = atomicfile.SyncDir(s.dir)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sync %s: %w", s.path(journalName), err)
		}
		s.unsynced = false
		return nil
	}
	if err := s.journal.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.path(journalName), err)
	}
	s.unsynced = false
	if !s.dirSynced {
		// The journal's directory entry, when the journal is new.
		if err := atomicfile.SyncDir(s.dir); err != nil {
			return err
		}
		s.dirSynced = true
	}
	return nil
}

// compact writes every run's latest record into a new state.json and
// empties the journal. state.json is replaced atomically: a crash leaves
// the old one or the new one, and the journal's records that the new one
// holds are skipped on replay.
func (s *Store) compact() error {
	if s.lineage == "" {
		s.lineage = newLineage()
	}
	// What is no longer current goes to the history first: state.json
	// then names the history that holds it.
	keep := s.current()
	var kept, moved []*entry
	size := 256
	for id, e := range s.runs {
		if keep[id] {
			kept = append(kept, e)
			size += len(e.json) + 2
		} else {
			moved = append(moved, e)
		}
	}
	byTime := func(a, b *entry) int { return compareRuns(a.run, b.run) }
	slices.SortFunc(kept, byTime)
	slices.SortFunc(moved, byTime)
	hist := s.hist
	if len(moved) > 0 {
		var err error
		if hist, err = s.appendHistory(moved); err != nil {
			return fmt.Errorf("compact state: %w", err)
		}
	}
	lineage, _ := json.Marshal(s.lineage)
	histJSON, _ := json.Marshal(hist)
	buf := make([]byte, 0, size)
	buf = fmt.Appendf(buf, `{"format_version":%d,"lineage":%s,"serial":%d,"history":%s,"runs":[`, formatVersion, lineage, s.serial, histJSON)
	for i, e := range kept {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		buf = append(buf, e.json...)
	}
	buf = append(buf, "\n]}\n"...)

	path := s.path(snapshotName)
	if err := atomicfile.WriteFile(path, buf, 0o600, atomicfile.Options{TempPattern: tempPrefix + "*", Sync: true}); err != nil {
		return fmt.Errorf("compact state: %w", err)
	}
	s.snapSerial = s.serial
	s.format, s.hist = formatVersion, hist
	for _, e := range moved {
		s.unindex(e)
		s.unindexFP(e)
		delete(s.runs, e.run.ID)
	}
	s.valid = false
	if err := s.journal.Truncate(0); err != nil {
		// Harmless: its records are skipped on replay, and the next
		// compaction truncates it.
		return fmt.Errorf("compact state: truncate %s: %w", s.path(journalName), err)
	}
	s.journalSize, s.journalLines, s.compactRetry, s.stale = 0, 0, 0, 0
	return nil
}

// newLineage returns a random id for a new store.
func newLineage() string {
	var b [16]byte
	rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// Close releases the store. A writer compacts a journal of more than a few
// hundred records, syncs and unlocks.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.lock != nil {
		if s.journalLines > s.compactOnClose && s.broken == nil {
			err = s.compact()
		}
		err = errors.Join(err, s.unlockLocked())
	}
	if s.snapFile != nil {
		s.snapFile.Close()
		s.snapFile = nil
	}
	s.valid = false
	return err
}
