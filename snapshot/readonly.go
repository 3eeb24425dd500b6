package snapshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// SetReadOnly takes write permission away from every file and directory of
// the tree at root (root included), or, with readOnly false, gives it back
// to the owner. Symbolic links are neither followed nor changed. A missing
// root is not an error.
//
// Read-only modes stop a run from writing what it reads by mistake; they
// do not stop root, nor an owner that restores the permission, which is
// why what runs read is also verified after they end.
func SetReadOnly(root string, readOnly bool) error {
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm()
		if d.IsDir() {
			if readOnly {
				dirs = append(dirs, p) // last: its entries are changed first
				return nil
			}
			mode |= 0o700 // before WalkDir lists it
		} else if readOnly {
			mode &^= 0o222
		} else {
			mode |= 0o200
		}
		if mode == fi.Mode().Perm() {
			return nil
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		fi, err := os.Lstat(dirs[i])
		if err != nil {
			return err
		}
		if mode := fi.Mode().Perm() &^ 0o222; mode != fi.Mode().Perm() {
			if err := os.Chmod(dirs[i], mode); err != nil {
				return err
			}
		}
	}
	return nil
}
