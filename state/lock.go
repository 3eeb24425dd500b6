package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Holder says who holds a store's lock. It is written into the lock file
// so that a process refused the lock can say who has it.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"` // what the holder is doing: "trainrun apply"
	Since   time.Time `json:"since"`
}

// fill completes the zero fields of h from this process. Command defaults
// to the program's name only: its arguments may hold secrets (-var).
func (h Holder) fill() Holder {
	if h.PID == 0 {
		h.PID = os.Getpid()
	}
	if h.Host == "" {
		h.Host, _ = os.Hostname()
	}
	if h.Command == "" && len(os.Args) > 0 {
		h.Command = filepath.Base(os.Args[0])
	}
	if h.Since.IsZero() {
		h.Since = time.Now()
	}
	h.Since = h.Since.UTC().Truncate(time.Second)
	return h
}

// LockedError is the error of Lock when another process holds the lock.
type LockedError struct {
	Holder Holder // zero when the holder has not (yet) said who it is
	Path   string // the lock file
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("state is locked by a process that has not said who it is; wait for it to finish, or if no trainrun is running, remove %s", e.Path)
	}
	cmd := h.Command
	if cmd == "" {
		cmd = "a process"
	}
	host := h.Host
	if host == "" {
		host = "an unknown host"
	}
	return fmt.Sprintf("state is locked: %s (pid %d on %s) has held it since %s; wait for it to finish, or if that process no longer exists, remove %s",
		cmd, h.PID, host, h.Since.UTC().Format("2006-01-02 15:04:05 UTC"), e.Path)
}

// Lock makes s the one writer of its directory, creating it (0700) if
// needed, and reads everything written before. Fields of holder left zero
// are filled from this process. When another process holds the lock, Lock
// returns a *LockedError at once.
func (s *Store) Lock(holder Holder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.lockLocked(holder); err != nil {
		return err
	}
	s.session = true
	return nil
}

// lockLocked takes the lock for holder and prepares the files for writing.
// It requires s.mu.
func (s *Store) lockLocked(holder Holder) error {
	switch {
	case s.closed:
		return fmt.Errorf("lock state: %w", ErrClosed)
	case s.lock != nil:
		return errors.New("lock state: already locked by this store")
	}
	holder = holder.fill()
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("lock state: %w", err)
	}
	path := s.path(lockName)
	f, err := acquire(path)
	if err != nil {
		return err
	}
	info, err := json.Marshal(holder)
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt(info, 0)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("lock state: write %s: %w", path, err)
	}
	s.lock = f
	if err := s.openForWriting(); err != nil {
		s.release(false)
		return err
	}
	return nil
}

// acquire opens and locks the lock file at path.
func acquire(path string) (*os.File, error) {
	for range 100 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock state: %w", err)
		}
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock state: %s: %w", path, err)
		}
		if !ok {
			holder := readHolder(f)
			f.Close()
			return nil, &LockedError{Holder: holder, Path: path}
		}
		// Someone may have removed the file (breaking a lock they took for
		// stale) after it was opened: only the file at path counts.
		locked, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(locked, now) {
			return f, nil
		}
		f.Close()
		if err2 != nil && !errors.Is(err2, fs.ErrNotExist) {
			return nil, fmt.Errorf("lock state: %w", err2)
		}
	}
	return nil, fmt.Errorf("lock state: %s keeps being replaced", path)
}

// readHolder reads who holds the lock file f. A holder writes it just
// after locking, so an empty file is given a moment to be filled.
func readHolder(f *os.File) Holder {
	var h Holder
	for range 20 {
		if data, err := readFrom(f, 0, 4096); err == nil && len(data) > 0 && json.Unmarshal(data, &h) == nil {
			return h
		}
		h = Holder{}
		time.Sleep(5 * time.Millisecond)
	}
	return h
}

// Unlock syncs the journal and releases the lock. The store remains
// readable.
func (s *Store) Unlock() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return fmt.Errorf("unlock state: %w", ErrNotLocked)
	}
	return s.unlockLocked()
}

func (s *Store) unlockLocked() error { return s.release(true) }

// release ends the writer: it syncs the journal when sync is set, and
// releases the lock. What it read and wrote stays known, so that the next
// Lock or Reload reads only what others write meanwhile.
func (s *Store) release(sync bool) error {
	var err error
	if sync {
		err = s.syncLocked()
	}
	if s.journal != nil {
		if cerr := s.journal.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", s.path(journalName), cerr)
		}
		s.journal = nil
	}
	s.lock.Truncate(0) // the holder's details, no longer true; best effort
	if cerr := s.lock.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("unlock state: %w", cerr)
	}
	s.lock = nil
	s.broken = nil
	s.session = false
	if s.valid {
		// Unless a compaction replaced state.json, the journal is
		// what was read plus what this writer appended.
		s.readOff, s.readLine = s.journalSize, s.journalLines
	}
	return err
}
