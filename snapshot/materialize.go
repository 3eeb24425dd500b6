package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxLinkHops bounds symlink expansion while checking targets, as the
// kernel's ELOOP limit does.
const maxLinkHops = 40

// Materialize recreates the snapshot m in dst, which must be an empty
// directory or not exist. Regular files are copied from their blobs (never
// linked: runs may write to them) with mode 0644 or 0755; symlinks are
// recreated.
//
// Nothing is ever written outside dst. The whole manifest is checked before
// anything is written, and rejected if an entry's path is absolute or has
// an empty, "." or ".." element, if a path goes through another entry (a
// file or a symlink), or if a symlink's target is absolute or resolves
// outside dst (following the manifest's other symlinks): what it writes is
// read by trainrun and runs as a tree of their own (inputs, outputs). If
// writing fails half way, what was written is removed.
func (s *Store) Materialize(m *Manifest, dst string) error {
	return s.materialize(m, dst, false)
}

// Checkout is Materialize for giving a snapshot back as the run saw it
// (trainrun checkout): symlinks are written as they were, also those whose
// target is absolute or leaves the tree. Writing still never goes through
// a link nor outside dst: every entry is written below dst opened as an
// os.Root, files with O_EXCL before any link exists, and no entry may lie
// below another (a link used as a directory).
func (s *Store) Checkout(m *Manifest, dst string) error {
	return s.materialize(m, dst, true)
}

func (s *Store) materialize(m *Manifest, dst string, linksAsIs bool) (err error) {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("materialize %s: %w", m.ID, err)
	}
	targets, err := s.checkTree(m, linksAsIs)
	if err != nil {
		return fmt.Errorf("materialize %s: %w", m.ID, err)
	}
	created, err := prepareDst(dst)
	if err != nil {
		return fmt.Errorf("materialize %s: %w", m.ID, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// dst was empty: everything in it is ours.
		if created {
			os.RemoveAll(dst)
		} else if ents, rerr := os.ReadDir(dst); rerr == nil {
			for _, e := range ents {
				os.RemoveAll(filepath.Join(dst, e.Name()))
			}
		}
		err = fmt.Errorf("materialize %s: %w", m.ID, err)
	}()
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()

	// Regular files first, symlinks last: while files are written, no
	// symlink exists in dst that a path could go through.
	madeDirs := map[string]bool{"": true}
	for _, e := range m.Entries {
		if e.Mode == ModeSymlink {
			continue
		}
		if err := mkdirs(root, e.Path, madeDirs); err != nil {
			return err
		}
		if err := s.copyOut(root, e); err != nil {
			return err
		}
	}
	for _, e := range m.Entries {
		if e.Mode != ModeSymlink {
			continue
		}
		if err := mkdirs(root, e.Path, madeDirs); err != nil {
			return err
		}
		if err := root.Symlink(targets[e.Path], filepath.FromSlash(e.Path)); err != nil {
			return err
		}
	}
	return nil
}

// checkTree checks that m can be written under a directory without
// escaping it, and that the store holds every blob. It returns the
// symlinks' targets, read from their blobs. Unless linksAsIs, a symlink's
// target must stay inside the tree.
func (s *Store) checkTree(m *Manifest, linksAsIs bool) (map[string]string, error) {
	kinds := make(map[string]uint32, len(m.Entries))
	for _, e := range m.Entries {
		kinds[e.Path] = e.Mode
	}
	targets := make(map[string]string)
	for _, e := range m.Entries {
		// No entry may sit below another: a file cannot be a directory,
		// and a path through a symlink could lead anywhere.
		for i := strings.IndexByte(e.Path, '/'); i >= 0; i = nextSlash(e.Path, i) {
			if _, ok := kinds[e.Path[:i]]; ok {
				return nil, fmt.Errorf("entry %q goes through entry %q", e.Path, e.Path[:i])
			}
		}
		if e.Mode != ModeSymlink {
			fi, err := os.Lstat(s.BlobPath(e.Hash))
			if err != nil || !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("entry %q: blob %s missing from the store", e.Path, e.Hash)
			}
			if fi.Size() != e.Size {
				return nil, fmt.Errorf("entry %q: blob %s has %d bytes, want %d", e.Path, e.Hash, fi.Size(), e.Size)
			}
			continue
		}
		target, err := s.readTarget(e)
		if err != nil {
			return nil, err
		}
		targets[e.Path] = target
	}
	for _, e := range m.Entries {
		if e.Mode != ModeSymlink {
			continue
		}
		if linksAsIs {
			if t := targets[e.Path]; t == "" || strings.IndexByte(t, 0) >= 0 {
				return nil, fmt.Errorf("symlink %q: empty target or one with NUL", e.Path)
			}
			continue
		}
		if err := checkTarget(e.Path, targets, kinds); err != nil {
			return nil, err
		}
	}
	return targets, nil
}

func nextSlash(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// readTarget reads a symlink's target from its blob, verifying it.
func (s *Store) readTarget(e Entry) (string, error) {
	if e.Size > 4096 {
		return "", fmt.Errorf("symlink %q: target of %d bytes is too long", e.Path, e.Size)
	}
	data, err := os.ReadFile(s.BlobPath(e.Hash))
	if err != nil {
		return "", fmt.Errorf("symlink %q: blob %s missing from the store", e.Path, e.Hash)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != e.Hash || int64(len(data)) != e.Size {
		return "", fmt.Errorf("symlink %q: blob %s is corrupt", e.Path, e.Hash)
	}
	return string(data), nil
}

// checkTarget resolves the symlink at link (a manifest path) as the kernel
// would in a directory holding exactly the manifest, and fails if the
// resolution is absolute or leaves the directory at any point.
func checkTarget(link string, targets map[string]string, kinds map[string]uint32) error {
	target := targets[link]
	switch {
	case target == "":
		return fmt.Errorf("symlink %q: empty target", link)
	case strings.IndexByte(target, 0) >= 0:
		return fmt.Errorf("symlink %q: target contains NUL", link)
	case strings.HasPrefix(target, "/") || filepath.IsAbs(target):
		return fmt.Errorf("symlink %q: absolute target %q", link, target)
	}
	hops := 0
	var resolve func(dir []string, target string) ([]string, error)
	resolve = func(dir []string, target string) ([]string, error) {
		cur := append([]string(nil), dir...)
		elems := strings.Split(target, "/")
		for i, elem := range elems {
			switch elem {
			case "", ".":
				continue
			case "..":
				if len(cur) == 0 {
					return nil, fmt.Errorf("symlink %q: target %q leaves the tree", link, targets[link])
				}
				cur = cur[:len(cur)-1]
				continue
			}
			cur = append(cur, elem)
			p := strings.Join(cur, "/")
			mode, ok := kinds[p]
			if !ok {
				continue // a directory, or nothing: resolved lexically
			}
			if mode != ModeSymlink {
				if i < len(elems)-1 {
					return cur, nil // a file used as a directory: resolution fails there
				}
				continue
			}
			hops++
			if hops > maxLinkHops {
				return nil, fmt.Errorf("symlink %q: too many levels of symlinks", link)
			}
			t := targets[p]
			if t == "" || strings.HasPrefix(t, "/") || filepath.IsAbs(t) {
				// Rejected on its own account too; stop here.
				return nil, fmt.Errorf("symlink %q: goes through symlink %q with a bad target", link, p)
			}
			var err error
			cur, err = resolve(cur[:len(cur)-1], t)
			if err != nil {
				return nil, err
			}
		}
		return cur, nil
	}
	i := strings.LastIndexByte(link, '/')
	var dir []string
	if i >= 0 {
		dir = strings.Split(link[:i], "/")
	}
	_, err := resolve(dir, target)
	return err
}

// prepareDst makes sure dst is an empty directory, creating it if needed.
func prepareDst(dst string) (created bool, err error) {
	f, err := os.Open(dst)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return false, err
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s is not a directory", dst)
	}
	if names, err := f.Readdirnames(1); len(names) > 0 {
		return false, fmt.Errorf("%s is not empty", dst)
	} else if err != nil && err != io.EOF {
		return false, err
	}
	return false, nil
}

// mkdirs creates the directories leading to the entry at path under root.
func mkdirs(root *os.Root, path string, made map[string]bool) error {
	i := strings.LastIndexByte(path, '/')
	if i < 0 || made[path[:i]] {
		return nil
	}
	dir := path[:i]
	if err := mkdirs(root, dir, made); err != nil {
		return err
	}
	if err := root.Mkdir(filepath.FromSlash(dir), 0o755); err != nil {
		return err
	}
	made[dir] = true
	return nil
}

// copyOut writes the entry's blob to a new file at its path under root.
func (s *Store) copyOut(root *os.Root, e Entry) error {
	src, err := os.Open(s.BlobPath(e.Hash))
	if err != nil {
		return err
	}
	defer src.Close()
	perm := fs.FileMode(0o644)
	if e.Mode == ModeExec {
		perm = 0o755
	}
	// O_EXCL: never write through something already there.
	out, err := root.OpenFile(filepath.FromSlash(e.Path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, src) // *os.File to *os.File: copy_file_range on Linux
	if err == nil && n != e.Size {
		err = fmt.Errorf("blob %s of %s has %d bytes, want %d", e.Hash, e.Path, n, e.Size)
	}
	if err == nil {
		err = out.Chmod(perm) // the umask may have narrowed it
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
