package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// openFile opens one of the store's files. It never follows a symbolic link
// in the last element (O_NOFOLLOW), so a link planted at .trainrun/lock or
// .trainrun/journal cannot make trainrun write through it, and it refuses
// anything that is not a regular file (a FIFO would block a reader).
func openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, perm)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, &LinkError{Path: name}
		}
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%s): trainrun keeps only plain files there; move it away", name, info.Mode().Type())
	}
	return f, nil
}

// readFile reads one of the store's files as openFile opens it. As
// os.ReadFile, it reads the whole file with one read(2) when it can: a
// reader takes no lock, and a writer may truncate and append meanwhile
// (compaction), which a read in pieces could join into a line of both.
func readFile(name string) ([]byte, error) {
	f, err := openFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := 512
	if info, err := f.Stat(); err == nil && info.Size() < 1<<40 {
		size += int(info.Size())
	}
	data := make([]byte, 0, size)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}

// LinkError is the error of a state file that is a symbolic link.
type LinkError struct {
	Path string
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s is a symbolic link: trainrun never reads or writes its state through a link; remove the link (its target is left alone) and put the file itself there", e.Path)
}

// Unwrap lets errors.Is(err, syscall.ELOOP) match.
func (e *LinkError) Unwrap() error { return syscall.ELOOP }
