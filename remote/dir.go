package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/trainrun/trainrun/internal/atomicfile"
	"github.com/trainrun/trainrun/snapshot"
)

// Dir is a remote in a directory: a shared mount (NFS, SMB, a disk that
// every teammate's machine sees). Its layout is the content store's:
// blobs/ab/cdef…, manifests/ID.json, and tmp/ for files being written,
// renamed into place when whole. Nothing below the root is followed
// through a symbolic link.
type Dir struct {
	root string
}

// NewDir returns the remote in root, which must be an absolute path. The
// directory is created (with its parents) on first write.
func NewDir(root string) (*Dir, error) {
	if !filepath.IsAbs(root) || strings.IndexByte(root, 0) >= 0 {
		return nil, fmt.Errorf("remote dir: %q is not an absolute path", root)
	}
	return &Dir{root: filepath.Clean(root)}, nil
}

func (d *Dir) String() string { return "dir " + d.root }

// path returns the file of key, checking that no directory between the
// root and it is a symbolic link; with create, missing directories are
// made.
func (d *Dir) path(key string, create bool) (string, error) {
	if !snapshot.ValidKey(key) {
		return "", fmt.Errorf("remote %s: refused key %q", d, key)
	}
	elems := strings.Split(key, "/")
	dir := d.root
	if create {
		if err := os.MkdirAll(dir, 0o775); err != nil {
			return "", err
		}
	}
	for _, e := range elems[:len(elems)-1] {
		dir = filepath.Join(dir, e)
		fi, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) && create {
			if err := os.Mkdir(dir, 0o775); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", err
			}
			fi, err = os.Lstat(dir)
		}
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("remote %s: %s is not a directory (a symbolic link is not followed)", d, dir)
		}
	}
	return filepath.Join(dir, elems[len(elems)-1]), nil
}

// Missing implements snapshot.Remote.
func (d *Dir) Missing(ctx context.Context, keys []string) ([]string, error) {
	var missing []string
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, err := d.path(k, false)
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, k)
			continue
		}
		if err != nil {
			return nil, err
		}
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, k)
		case err != nil:
			return nil, fmt.Errorf("remote %s: %w", d, err)
		case !fi.Mode().IsRegular():
			missing = append(missing, k) // Put replaces it
		}
	}
	return missing, nil
}

// Put implements snapshot.Remote: each file is copied into tmp/ below the
// root, synced, then renamed into place.
func (d *Dir) Put(ctx context.Context, objects []snapshot.Object) error {
	tmp := filepath.Join(d.root, "tmp")
	for _, o := range objects {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := d.path(o.Key, true)
		if err != nil {
			return err
		}
		if err := os.Mkdir(tmp, 0o775); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("remote %s: %w", d, err)
		}
		if fi, err := os.Lstat(tmp); err != nil || !fi.IsDir() {
			return fmt.Errorf("remote %s: %s is not a directory", d, tmp)
		}
		src, err := os.OpenFile(o.Path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		err = atomicfile.WriteWith(p, 0o444, atomicfile.Options{TempDir: tmp, TempPattern: "put-*", Sync: true}, func(w io.Writer) error {
			_, err := io.Copy(w, src)
			return err
		})
		src.Close()
		if err != nil {
			return fmt.Errorf("remote %s: put %s: %w", d, o.Key, err)
		}
	}
	return nil
}

// Get implements snapshot.Remote.
func (d *Dir) Get(ctx context.Context, keys []string, recv func(key string, r io.Reader) error) error {
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := d.path(k, false)
		if err != nil {
			return fmt.Errorf("remote %s: %s: %w", d, k, err)
		}
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return fmt.Errorf("remote %s: %w", d, err)
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return fmt.Errorf("remote %s: %s is not a regular file", d, k)
		}
		err = recv(k, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
