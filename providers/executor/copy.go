package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/trainrun/trainrun/providers"
)

const (
	modeType    = 0o170000
	modeRegular = 0o100000
	modeSymlink = 0o120000
)

// CheckPath reports whether p can name a file below a directory: relative,
// slash-separated, clean, without ".." and without NUL.
func CheckPath(p string) error {
	switch {
	case p == "" || p == ".":
		return errors.New("empty path")
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("path %q contains a NUL byte", p)
	case path.IsAbs(p):
		return fmt.Errorf("path %q is absolute", p)
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean", p)
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("path %q escapes its directory", p)
	}
	return nil
}

// Put copies files below dir.
func (Local) Put(ctx context.Context, dir string, files []providers.File) error {
	// Check everything before writing anything.
	kinds := make(map[string]uint32, len(files))
	for _, f := range files {
		if err := CheckPath(f.Path); err != nil {
			return fmt.Errorf("materialize: %w", err)
		}
		switch t := f.Mode & modeType; t {
		case 0, modeRegular, modeSymlink:
			if _, dup := kinds[f.Path]; dup {
				return fmt.Errorf("materialize: %s: listed twice", f.Path)
			}
			kinds[f.Path] = t
		default:
			return fmt.Errorf("materialize: %s: mode %o is neither a regular file nor a symlink", f.Path, f.Mode)
		}
	}
	for p := range kinds {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := kinds[d]; ok {
				return fmt.Errorf("materialize: %s lies below the file %s", p, d)
			}
		}
	}
	made := make(map[string]bool)
	// Regular files first, symlinks last: no file is ever written through
	// a link that the snapshot itself holds.
	for _, links := range []bool{false, true} {
		for _, f := range files {
			if (f.Mode&modeType == modeSymlink) != links {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := mkdirs(dir, path.Dir(f.Path), made); err != nil {
				return fmt.Errorf("materialize %s: %w", f.Path, err)
			}
			dst := filepath.Join(dir, filepath.FromSlash(f.Path))
			var err error
			if links {
				err = putLink(f.Blob, dst)
			} else {
				mode := os.FileMode(0o644)
				if f.Mode&0o111 != 0 {
					mode = 0o755
				}
				err = copyFile(f.Blob, dst, mode, false)
			}
			if err != nil {
				return fmt.Errorf("materialize %s: %w", f.Path, err)
			}
		}
	}
	return nil
}

// mkdirs creates the slash-separated directory rel below dir one element
// at a time, refusing to go through anything that is not a directory.
func mkdirs(dir, rel string, made map[string]bool) error {
	if rel == "." || made[rel] {
		return nil
	}
	if err := mkdirs(dir, path.Dir(rel), made); err != nil {
		return err
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	err := os.Mkdir(p, 0o755)
	if errors.Is(err, fs.ErrExist) {
		fi, lerr := os.Lstat(p)
		if lerr != nil {
			return lerr
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", rel)
		}
		err = nil
	} else if err == nil {
		err = os.Chmod(p, 0o755) // whatever the umask
	}
	if err != nil {
		return err
	}
	made[rel] = true
	return nil
}

func putLink(blob, dst string) error {
	target, err := os.ReadFile(blob)
	if err != nil {
		return err
	}
	if len(target) == 0 || strings.IndexByte(string(target), 0) >= 0 {
		return fmt.Errorf("invalid symlink target %q", target)
	}
	return os.Symlink(string(target), dst)
}

// copyFile copies the regular file src to dst, which must not exist. With
// link (collecting what a finished run wrote), a hard link stands for the
// copy: one system call where a copy is five. Put never links: blobs are
// 0444, so the link would be undone, and a run must never write into the
// content store.
func copyFile(src, dst string, mode os.FileMode, link bool) error {
	// Only when the mode already matches: a chmod would change src too.
	if link {
		if err := os.Link(src, dst); err == nil {
			if fi, err := os.Lstat(dst); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == mode.Perm() {
				return nil
			}
			if err := os.Remove(dst); err != nil {
				return err
			}
		}
	}
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(mode) // whatever the umask
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// CopyOut copies root/rel to dst; see Executor.
func (Local) CopyOut(ctx context.Context, root, rel, dst string) error {
	wantDir := strings.HasSuffix(rel, "/")
	clean := strings.TrimSuffix(rel, "/")
	if err := CheckPath(clean); err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	src, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(clean)))
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	if !within(rootReal, src) {
		return fmt.Errorf("copy %s: it resolves to %s, outside %s", rel, src, root)
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	if wantDir && !fi.IsDir() {
		return fmt.Errorf("copy %s: not a directory", rel)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return fmt.Errorf("copy %s: not a regular file or directory", rel)
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	c := copier{ctx: ctx, root: rootReal}
	if fi.IsDir() {
		err = c.tree(src, dst, src, []string{src})
	} else {
		err = copyFile(src, dst, fi.Mode().Perm(), true)
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	return nil
}

type copier struct {
	ctx  context.Context
	root string // resolved: nothing outside it is ever read
}

// tree copies the directory src (resolved) to dst, which does not exist.
// top is the directory whose copy is being made (relative links that stay
// within it are kept), stack the resolved directories being copied (a link
// to one of them or to an ancestor would never end).
func (c copier) tree(src, dst, top string, stack []string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		switch t := e.Type(); {
		case t.IsDir():
			err = c.tree(s, d, top, append(stack, s))
		case t.IsRegular():
			var info fs.FileInfo
			if info, err = e.Info(); err == nil {
				err = copyFile(s, d, info.Mode().Perm(), true)
			}
		case t&fs.ModeSymlink != 0:
			err = c.link(s, d, top, stack)
		default:
			// sockets, fifos, devices: no data to copy
		}
		if err != nil {
			return err
		}
	}
	// Owner keeps write access, so the copy can be replaced later.
	return os.Chmod(dst, fi.Mode().Perm()|0o700)
}

func (c copier) link(src, dst, top string, stack []string) error {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(target) {
		if dir, err := filepath.Rel(top, filepath.Dir(src)); err == nil && filepath.IsLocal(filepath.Join(dir, target)) {
			return os.Symlink(target, dst) // still valid in the copy
		}
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil || !within(c.root, real) {
		return os.Symlink(target, dst) // dangling or outside: kept, never read
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode().IsRegular():
		return copyFile(real, dst, fi.Mode().Perm(), true)
	case fi.IsDir():
		for _, s := range stack {
			if within(real, s) {
				return os.Symlink(target, dst) // a cycle
			}
		}
		return c.tree(real, dst, real, append(stack, real))
	default:
		return nil
	}
}

// within reports whether the clean path p is root or below it.
func within(root, p string) bool {
	if root == string(filepath.Separator) {
		return filepath.IsAbs(p)
	}
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}
