package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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
	// The lock is released by the kernel when its holder ends, however it
	// ends: it is never stale, and removing the file would not release it.
	h := e.Holder
	if h.PID == 0 {
		return "state is locked by a process that has not said who it is; wait for it to finish (the lock is released when its holder ends, even when it is killed)"
	}
	cmd := h.Command
	if cmd == "" {
		cmd = "a process"
	}
	host := h.Host
	if host == "" {
		host = "an unknown host"
	}
	return fmt.Sprintf("state is locked: %s (pid %d on %s) has held it since %s; wait for it to finish, or stop it (the lock is released when its holder ends, even when it is killed)",
		cmd, h.PID, host, h.Since.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// Lock makes s the one writer of its directory, creating it (0700) if
// needed, and reads everything written before. Fields of holder left zero
// are filled from this process. When another process holds the lock, Lock
// returns a *LockedError at once.
//
// The lock is flock(2) on the directory itself, and on the lock file in
// it, in which the holder says who it is. Removing or replacing the lock
// file lets nobody in: the directory stays locked, and the holder puts its
// file back at its next Put. A directory that cannot be locked (NFS) leaves
// the file's lock alone in charge; the holder then stops writing when its
// file is replaced, since someone else may be writing.
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
	dir, err := lockDir(s.dir, path)
	if err != nil {
		return err
	}
	f, err := acquire(path)
	if err != nil {
		if dir != nil {
			dir.Close()
		}
		return err
	}
	if err := writeHolder(f, holder); err != nil {
		f.Close()
		if dir != nil {
			dir.Close()
		}
		return fmt.Errorf("lock state: write %s: %w", path, err)
	}
	s.lock, s.lockDir, s.holder = f, dir, holder
	if err := s.openForWriting(); err != nil {
		s.release(false)
		return err
	}
	return nil
}

// lockDir opens and locks the store's directory. It returns nil, and no
// error, where directories cannot be locked.
func lockDir(dir, lockPath string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock state: %w", err)
	}
	ok, err := tryLock(d)
	switch {
	case err != nil:
		d.Close()
		if errors.Is(err, syscall.EBADF) || errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EINVAL) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock state: %s: %w", dir, err)
	case !ok:
		d.Close()
		var h Holder
		if f, err := openFile(lockPath, os.O_RDONLY, 0); err == nil {
			h = readHolder(f)
			f.Close()
		}
		return nil, &LockedError{Holder: h, Path: lockPath}
	}
	return d, nil
}

// acquire opens and locks the lock file at path.
func acquire(path string) (*os.File, error) {
	for range 100 {
		f, err := openFile(path, os.O_RDWR|os.O_CREATE, 0o600)
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
		// Someone may have removed the file after it was opened: only the
		// file at path counts.
		if same, err := sameFile(f, path); same || err != nil {
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("lock state: %w", err)
			}
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock state: %s keeps being replaced", path)
}

// sameFile reports whether the open file f is the file at path (not
// following a link there). A missing path is not an error.
func sameFile(f *os.File, path string) (bool, error) {
	held, err := f.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(held, now), nil
}

// writeHolder writes h into the locked lock file f.
func writeHolder(f *os.File, h Holder) error {
	info, err := json.Marshal(h)
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt(info, 0)
	}
	return err
}

// checkLockLocked makes sure that the writer still holds the lock of its
// directory before it writes: that the directory is still the store's
// directory, and the lock file still its own. A lock file that was removed
// or replaced is put back while the directory's lock keeps others out.
func (s *Store) checkLockLocked() error {
	path := s.path(lockName)
	if s.lockDir != nil {
		if same, err := sameFile(s.lockDir, s.dir); !same || err != nil {
			return fmt.Errorf("the state directory %s was removed or replaced while this process held its lock: writing no more, since another trainrun may be writing there", s.dir)
		}
	}
	if same, err := sameFile(s.lock, path); same && err == nil {
		return nil
	}
	if s.lockDir == nil {
		return fmt.Errorf("the lock file %s was removed or replaced while this process held it: writing no more, since another trainrun may be writing (this directory cannot be locked itself)", path)
	}
	f, err := acquire(path)
	if err == nil {
		err = writeHolder(f, s.holder)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return fmt.Errorf("the lock file %s was removed or replaced while this process held the lock, and cannot be made again: %w", path, err)
	}
	s.lock.Close()
	s.lock = f
	return nil
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
	if s.lockDir != nil {
		s.lockDir.Close()
		s.lockDir = nil
	}
	s.broken = nil
	s.session = false
	if s.valid {
		// Unless a compaction replaced state.json, the journal is
		// what was read plus what this writer appended.
		s.readOff, s.readLine = s.journalSize, s.journalLines
	}
	return err
}
