//go:build linux

package snapshot

import (
	"bytes"
	"encoding/binary"
	"io/fs"

	"golang.org/x/sys/unix"
)

// This file lists directories with getdents64 and stats their entries with
// fstatat relative to the directory's descriptor: no per-entry path
// resolution from the root, and one allocation per directory for all its
// names. A warm scan is little more than these two system calls. The
// getdents64 records are decoded here rather than with unix.ParseDirent,
// which returns neither the entries' types (an lstat saved per entry) nor
// their names in one buffer (an allocation saved per entry).

// dirHandle is an open directory.
type dirHandle struct {
	fd   int
	path string
}

func openDir(path string, nofollow bool) (*dirHandle, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if nofollow {
		flags |= unix.O_NOFOLLOW
	}
	for {
		fd, err := unix.Open(path, flags, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &dirHandle{fd: fd, path: path}, nil
	}
}

func (d *dirHandle) close() { unix.Close(d.fd) }

// readAll returns the directory's entries (but "." and ".."), each path
// being prefix followed by the entry's name. buf is scratch space.
func (d *dirHandle) readAll(prefix string, buf []byte) ([]dirEntry, error) {
	type raw struct {
		start, end int
		typ        uint8
	}
	var raws []raw
	var names []byte
	for {
		n, err := unix.ReadDirent(d.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read directory", Path: d.path, Err: err}
		}
		if n <= 0 {
			break
		}
		for b := buf[:n]; len(b) >= 19; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(b[16:]))
			if reclen < 19 || reclen > len(b) {
				break
			}
			ino := binary.NativeEndian.Uint64(b[0:])
			typ := b[18]
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			if ino == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			start := len(names)
			names = append(names, prefix...)
			names = append(names, name...)
			raws = append(raws, raw{start, len(names), typ})
		}
	}
	all := string(names)
	ents := make([]dirEntry, len(raws))
	for i, r := range raws {
		ents[i] = dirEntry{path: all[r.start:r.end], typ: direntType(r.typ)}
	}
	return ents, nil
}

func direntType(t uint8) entryType {
	switch t {
	case unix.DT_DIR:
		return typeDir
	case unix.DT_REG:
		return typeFile
	case unix.DT_LNK:
		return typeSymlink
	case unix.DT_UNKNOWN:
		return typeUnknown
	}
	return typeOther
}

// lstat returns the stat data of the entry name without following a
// symlink.
func (d *dirHandle) lstat(name string) (fileStat, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fileStat{}, &fs.PathError{Op: "stat", Path: d.path + "/" + name, Err: err}
		}
		break
	}
	return fileStat{
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
		ino:   st.Ino,
		mode:  st.Mode,
	}, nil
}

func (st fileStat) isRegular() bool { return st.mode&unix.S_IFMT == unix.S_IFREG }
func (st fileStat) isSymlink() bool { return st.mode&unix.S_IFMT == unix.S_IFLNK }
func (st fileStat) isDir() bool     { return st.mode&unix.S_IFMT == unix.S_IFDIR }
func (st fileStat) isExec() bool    { return st.mode&0o111 != 0 }

// syncFiles makes the content of files under dir durable: one syncfs(2) of
// dir's file system instead of an fsync per file, which costs a journal
// commit each.
func syncFiles(dir string, files []string) error {
	if len(files) == 0 {
		return nil
	}
	return syncfs(dir)
}

// syncDirs makes durable the renames into dirs, all under dir.
func syncDirs(dir string, dirs []string) error {
	return syncFiles(dir, dirs)
}

func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return &fs.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}
