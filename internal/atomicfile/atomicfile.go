// Package atomicfile replaces files so that readers, and a process killed at
// any instant, see the old content or the new, never a mix.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Options say where the temporary file goes and how durable the write is.
type Options struct {
	// TempDir holds the temporary file; "" means path's directory. It must
	// be on the same file system as path.
	TempDir string
	// TempPattern names the temporary file (os.CreateTemp's pattern);
	// "" means "."+base(path)+".tmp*".
	TempPattern string
	// Sync makes the write durable: the file is synced before the rename
	// and its directory after it.
	Sync bool
}

// WriteFile writes data to a temporary file with mode perm and renames it
// over path.
func WriteFile(path string, data []byte, perm fs.FileMode, o Options) error {
	return WriteWith(path, perm, o, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteWith is WriteFile for content that write produces, in as many
// writes as it likes (a large file copied through a filter): when write
// fails, path is left as it was.
func WriteWith(path string, perm fs.FileMode, o Options, write func(io.Writer) error) error {
	dir, pattern := o.TempDir, o.TempPattern
	if dir == "" {
		dir = filepath.Dir(path)
	}
	if pattern == "" {
		pattern = "." + filepath.Base(path) + ".tmp*"
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && o.Sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if o.Sync {
		return SyncDir(filepath.Dir(path))
	}
	return nil
}

// SyncDir makes a directory's entries (created, renamed, removed files)
// durable. File systems that cannot sync a directory are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
