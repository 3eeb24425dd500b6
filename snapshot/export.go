package snapshot

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// ExportResult says what Export did, by path.
type ExportResult struct {
	Written   []string // created, or replaced (-force)
	Unchanged []string // already there with the same content and mode
	Replaced  []string // the Written ones that were there and differed
}

// ConflictError is Export's refusal to overwrite files that differ.
type ConflictError struct {
	Dir   string
	Paths []string
}

func (e *ConflictError) Error() string {
	const max = 10
	names := e.Paths
	more := ""
	if len(names) > max {
		names, more = names[:max], fmt.Sprintf(" and %d more", len(e.Paths)-max)
	}
	what := "a file that differs"
	if len(e.Paths) > 1 {
		what = fmt.Sprintf("%d files that differ", len(e.Paths))
	}
	return fmt.Sprintf("%s holds %s: %s%s; nothing was written (-force overwrites them)", e.Dir, what, strings.Join(names, ", "), more)
}

// Export writes the tree m into dir, which is created if missing and may
// hold other files: files already there with the same content and mode are
// left alone, and any that differs is a *ConflictError, nothing written,
// unless force. Everything is checked before anything is written.
//
// Nothing is ever written outside dir or through a symbolic link: dir is
// opened as an os.Root, a directory on the way to an entry that is a link
// is refused (even with force), and files and links are written to a
// temporary name and renamed into place, which replaces a link rather than
// following it. Symlinks of m whose targets would leave the tree are
// refused, as Materialize refuses them.
func (s *Store) Export(m *Manifest, dir string, force bool) (*ExportResult, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("export %s: %w", m.ID, err)
	}
	targets, err := s.checkTree(m, false)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", m.ID, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export into %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("export into %s: %w", dir, err)
	}
	defer root.Close()

	res := &ExportResult{}
	var conflicts []string
	todo := make([]Entry, 0, len(m.Entries))
	for _, e := range m.Entries {
		if err := checkParents(root, e.Path); err != nil {
			return nil, fmt.Errorf("export into %s: %w", dir, err)
		}
		same, exists, err := s.sameAs(root, e, targets[e.Path])
		if err != nil {
			return nil, fmt.Errorf("export into %s: %w", dir, err)
		}
		switch {
		case same:
			res.Unchanged = append(res.Unchanged, e.Path)
			continue
		case exists:
			conflicts = append(conflicts, e.Path)
		}
		todo = append(todo, e)
	}
	if len(conflicts) > 0 && !force {
		return nil, &ConflictError{Dir: dir, Paths: conflicts}
	}
	res.Replaced = conflicts
	for _, e := range todo {
		if err := s.exportEntry(root, e, targets[e.Path]); err != nil {
			return res, fmt.Errorf("export %s into %s: %w", e.Path, dir, err)
		}
		res.Written = append(res.Written, e.Path)
	}
	return res, nil
}

// checkParents refuses a directory on the way to p that is a link, and
// makes the missing ones.
func checkParents(root *os.Root, p string) error {
	d := path.Dir(p)
	if d == "." {
		return nil
	}
	cur := ""
	for _, elem := range strings.Split(d, "/") {
		cur = path.Join(cur, elem)
		fi, err := root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // made when written
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link: outputs are never written through one", cur)
		case !fi.IsDir():
			return fmt.Errorf("%s is a file where %s needs a directory", cur, p)
		}
	}
	return nil
}

// sameAs reports whether root holds e as it is (content and mode, or the
// link's target), and whether anything is at its path.
func (s *Store) sameAs(root *os.Root, e Entry, target string) (same, exists bool, err error) {
	fi, err := root.Lstat(e.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, true, err
	}
	if e.Mode == ModeSymlink {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return false, true, nil
		}
		t, err := root.Readlink(e.Path)
		return err == nil && t == target, true, nil
	}
	if !fi.Mode().IsRegular() || fi.Size() != e.Size || (fi.Mode().Perm()&0o111 != 0) != (e.Mode == ModeExec) {
		return false, true, nil
	}
	f, err := root.OpenFile(e.Path, os.O_RDONLY, 0)
	if err != nil {
		return false, true, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, true, err
	}
	return hex.EncodeToString(h.Sum(nil)) == e.Hash, true, nil
}

// exportEntry writes e to a temporary name beside its path and renames it
// into place.
func (s *Store) exportEntry(root *os.Root, e Entry, target string) error {
	if d := path.Dir(e.Path); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var b [6]byte
	rand.Read(b[:]) // never fails
	tmp := path.Join(path.Dir(e.Path), ".trainrun-export-"+hex.EncodeToString(b[:]))
	if e.Mode == ModeSymlink {
		if err := root.Symlink(target, tmp); err != nil {
			return err
		}
	} else if err := s.copyBlobInto(root, e, tmp); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	if fi, err := root.Lstat(e.Path); err == nil && fi.IsDir() {
		// A directory where a file goes (-force): it goes.
		if err := root.RemoveAll(e.Path); err != nil {
			_ = root.Remove(tmp)
			return err
		}
	}
	if err := root.Rename(tmp, e.Path); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

func (s *Store) copyBlobInto(root *os.Root, e Entry, name string) error {
	in, err := os.Open(s.BlobPath(e.Hash))
	if err != nil {
		return err
	}
	defer in.Close()
	mode := os.FileMode(0o644)
	if e.Mode == ModeExec {
		mode = 0o755
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Chmod(mode) // whatever the umask
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != e.Hash {
		err = fmt.Errorf("blob %s is corrupt", e.Hash)
	}
	return err
}
