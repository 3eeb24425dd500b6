//go:build !unix

package state

import (
	"errors"
	"os"
)

// tryLock is not implemented here: trainrun's runtime needs Unix.
func tryLock(f *os.File) (bool, error) {
	return false, errors.New("locking state is not supported on this system")
}

func tryShared(f *os.File) (bool, error) {
	return false, errors.New("locking state is not supported on this system")
}
