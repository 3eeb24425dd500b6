//go:build !linux

package snapshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/trainrun/trainrun/internal/atomicfile"
)

// dirHandle is an open directory. Outside Linux it is just its path: the
// portable os functions serve, and the stat cache is keyed by size, mtime
// and mode alone (no ctime nor inode).
type dirHandle struct {
	path string
}

func openDir(path string, nofollow bool) (*dirHandle, error) {
	fi, err := os.Lstat(path)
	if err == nil && !nofollow && fi.Mode()&fs.ModeSymlink != 0 {
		fi, err = os.Stat(path)
	}
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("not a directory")}
	}
	return &dirHandle{path: path}, nil
}

func (d *dirHandle) close() {}

func (d *dirHandle) readAll(prefix string, buf []byte) ([]dirEntry, error) {
	des, err := os.ReadDir(d.path)
	if err != nil {
		return nil, err
	}
	ents := make([]dirEntry, len(des))
	for i, de := range des {
		t := typeOther
		switch m := de.Type(); {
		case m.IsDir():
			t = typeDir
		case m.IsRegular():
			t = typeFile
		case m&fs.ModeSymlink != 0:
			t = typeSymlink
		}
		ents[i] = dirEntry{path: prefix + de.Name(), typ: t}
	}
	return ents, nil
}

func (d *dirHandle) lstat(name string) (fileStat, error) {
	fi, err := os.Lstat(filepath.Join(d.path, name))
	if err != nil {
		return fileStat{}, err
	}
	return fileStat{
		size:  fi.Size(),
		mtime: fi.ModTime().UnixNano(),
		mode:  uint32(fi.Mode()),
	}, nil
}

func (st fileStat) isRegular() bool { return fs.FileMode(st.mode).IsRegular() }
func (st fileStat) isSymlink() bool { return fs.FileMode(st.mode)&fs.ModeSymlink != 0 }
func (st fileStat) isDir() bool     { return fs.FileMode(st.mode).IsDir() }
func (st fileStat) isExec() bool    { return fs.FileMode(st.mode)&0o111 != 0 }

// syncFiles makes the content of files durable.
func syncFiles(dir string, files []string) error {
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// syncDirs makes durable the renames into dirs.
func syncDirs(dir string, dirs []string) error {
	done := make(map[string]bool)
	for _, d := range dirs {
		if done[d] {
			continue
		}
		done[d] = true
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}
