package state

import (
	"errors"
	"fmt"
	"os"
)

// workingName is the file that commands which store content for records
// they will write (apply, watch, rerun) hold a shared flock(2) on while
// they run, and gc an exclusive one: gc never removes what an apply that
// runs beside it stored and has not recorded yet.
const workingName = "working"

// ErrWorking is gc's error when commands that add to the state run.
var ErrWorking = errors.New("an apply, watch or rerun is running in this project: what it stores is not recorded yet; run gc once it ends")

// Working marks this process as one that stores content and records runs
// referring to it, until release; many may at once. A killed process's
// mark ends with it.
func (s *Store) Working() (release func(), err error) {
	f, err := s.openWorking()
	if err != nil {
		return nil, err
	}
	if err := flockShared(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("state: %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// Alone makes sure that no process is Working, and that none starts until
// release: what gc needs. It returns ErrWorking at once otherwise.
func (s *Store) Alone() (release func(), err error) {
	f, err := s.openWorking()
	if err != nil {
		return nil, err
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err == nil {
			err = ErrWorking
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}

func (s *Store) openWorking() (*os.File, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	f, err := openFile(s.path(workingName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return f, nil
}
