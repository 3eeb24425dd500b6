package ssh

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/trainrun/trainrun/providers/executor"
)

// CopyOut copies root/rel from the machine to the local path dst as a tar
// stream (see executor.Executor). rel is resolved on the machine and must
// lie in root. Below a directory, symbolic links are recreated as they
// are, never followed (where executor.Local copies a link to something
// else in root, this copies the link). Unpacking never writes outside dst:
// names are checked, and nothing is written through a link it made.
//
// With ExecutorOptions.LocalBlob and perl on the machine, files whose
// content trainrun already holds (by SHA-256) are not sent but copied
// from the local blob: a run that writes the same checkpoint again costs
// its hashing on the machine, not its transfer.
func (e *Executor) CopyOut(ctx context.Context, root, rel, dst string) error {
	wantDir := strings.HasSuffix(rel, "/")
	clean := strings.TrimSuffix(rel, "/")
	if err := executor.CheckPath(clean); err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	if err := checkAbs("copy from", root); err != nil {
		return err
	}
	flag := "0"
	if wantDir {
		flag = "1"
	}
	var err error
	if e.localBlob != nil && e.hasPerl(ctx) {
		cmd := executor.CommandLine([]string{"perl", "-e", copyHeldPerl, root, clean, flag})
		err = e.conn.Session(ctx, true, func(s *ssh.Session) error { return e.receive(ctx, s, cmd, rel, dst, true) })
	}
	if e.localBlob == nil || !e.perl || exitCode(err) == codeNoSHA {
		cmd := executor.CommandLine([]string{"sh", "-c", copyOutScript, "sh", root, clean, flag})
		err = e.conn.Session(ctx, true, func(s *ssh.Session) error { return e.receive(ctx, s, cmd, rel, dst, false) })
	}
	switch exitCode(err) {
	case codeNotExist:
		return fmt.Errorf("copy %s: %w", rel, &fs.PathError{Op: "copy", Path: path.Join(root, clean), Err: fs.ErrNotExist})
	case -1:
	default:
		var ee *ExitError
		errors.As(err, &ee)
		return fmt.Errorf("copy %s: %s", rel, ee.Stderr)
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	return nil
}

// receive runs cmd (copyOutScript, or copyHeldPerl when held) and unpacks
// what it sends to dst.
func (e *Executor) receive(ctx context.Context, s *ssh.Session, cmd, rel, dst string, held bool) error {
	in, out, wait, err := start(s, cmd, true)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(out, 64<<10)
	kind, rerr := br.ReadByte()
	var have []heldFile
	if rerr == nil && held {
		have, rerr = e.chooseHeld(br, in)
	}
	in.Close()
	if rerr == nil {
		if err := os.RemoveAll(dst); err != nil {
			s.Close()
			return err
		}
		cr := &countReader{r: br}
		rerr = untar(ctx, cr, dst, kind == 'd', have)
		e.count(func(st *UploadStats) { st.Fetched += cr.n; st.Reused += len(have) })
		if rerr != nil {
			s.Close()
			_ = os.RemoveAll(dst) // no half copy passes for a whole one
		} else {
			_, _ = io.Copy(io.Discard, br)
		}
	}
	if err := wait(); err != nil {
		return err
	}
	if rerr == io.EOF {
		return &netError{fmt.Errorf("copy %s: %w", rel, io.ErrUnexpectedEOF)}
	}
	return rerr
}

// heldFile is a file of the copy whose content is a local blob.
type heldFile struct {
	name string // as in the archive
	mode os.FileMode
	blob string
}

// chooseHeld reads copyHeldPerl's records and answers with the names of
// the files to send: those whose content no local blob holds.
func (e *Executor) chooseHeld(br *bufio.Reader, in io.Writer) ([]heldFile, error) {
	var have []heldFile
	var need bytes.Buffer
	for {
		var f [4]string
		for i := range f {
			s, err := br.ReadString(0)
			if err != nil {
				return nil, err
			}
			f[i] = strings.TrimSuffix(s, "\x00")
			if i == 0 && f[0] == "" {
				_, err := in.Write(need.Bytes())
				return have, err
			}
		}
		mode, err1 := strconv.ParseUint(f[1], 10, 32)
		size, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || (f[3] != "-" && !validHash(f[3])) {
			return nil, fmt.Errorf("bad file record %q", f)
		}
		if f[3] == "-" { // small: sent
			need.WriteString(f[0] + "\x00")
			continue
		}
		if blob := e.localBlob(f[3]); blob != "" && sizeIs(blob, size) {
			have = append(have, heldFile{name: f[0], mode: os.FileMode(mode) & 0o777, blob: blob})
			continue
		}
		need.WriteString(f[0] + "\x00")
	}
}

func sizeIs(p string, size int64) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// untar unpacks a tar stream to dst, which must not exist: with dir, the
// archive's "." is dst; otherwise the archive holds one regular file that
// becomes dst. Entry names must be relative, clean and without ".."; an
// entry below a link the archive made, or anything but directories,
// regular files, links and hard links to earlier files, is refused or
// skipped. Modes keep their permission bits only.
//
// held are files the archive does not carry, made from local blobs once
// the archive's directories exist (their names are checked the same way);
// without dir, the one held file is dst.
func untar(ctx context.Context, r io.Reader, dst string, dir bool, held []heldFile) error {
	tr := tar.NewReader(r)
	if !dir && len(held) == 1 {
		return copyBlob(held[0], dst)
	}
	if !dir {
		for {
			h, err := tr.Next()
			if err != nil {
				if err == io.EOF {
					return errors.New("the archive holds no file")
				}
				return err
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			return writeFile(tr, dst, os.FileMode(h.Mode)&0o777)
		}
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	type dirMode struct {
		path string
		mode os.FileMode
	}
	dirs := []dirMode{{dst, 0o700}}
	kinds := map[string]byte{".": tar.TypeDir} // what each name became
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(h.Name, "./")), "/")
		if name == "" || name == "." {
			if h.Typeflag == tar.TypeDir {
				dirs[0].mode = os.FileMode(h.Mode)&0o777 | 0o700
			}
			continue
		}
		if err := executor.CheckPath(name); err != nil || strings.HasPrefix(h.Name, "/") || containsDotDot(h.Name) {
			return fmt.Errorf("refusing archive entry %q", h.Name)
		}
		parent := path.Dir(name)
		if kinds[parent] != tar.TypeDir {
			return fmt.Errorf("refusing archive entry %q: its directory is not one the archive made", h.Name)
		}
		p := filepath.Join(dst, filepath.FromSlash(name))
		mode := os.FileMode(h.Mode) & 0o777
		switch h.Typeflag {
		case tar.TypeDir:
			if kinds[name] == tar.TypeDir {
				continue
			}
			if _, seen := kinds[name]; seen {
				return fmt.Errorf("refusing archive entry %q: it is already a file", h.Name)
			}
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{p, mode | 0o700})
		case tar.TypeReg:
			if _, seen := kinds[name]; seen {
				if kinds[name] == tar.TypeDir {
					return fmt.Errorf("refusing archive entry %q: it is already a directory", h.Name)
				}
				if err := os.Remove(p); err != nil {
					return err
				}
			}
			if err := writeFile(tr, p, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if _, seen := kinds[name]; seen {
				return fmt.Errorf("refusing archive entry %q: listed twice", h.Name)
			}
			if h.Linkname == "" || strings.IndexByte(h.Linkname, 0) >= 0 {
				return fmt.Errorf("refusing archive entry %q: bad link target", h.Name)
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeLink:
			// A hard link to an earlier file of the archive: copied.
			target := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(h.Linkname, "./")), "/")
			if executor.CheckPath(target) != nil || kinds[target] != tar.TypeReg {
				return fmt.Errorf("refusing archive entry %q: hard link to %q", h.Name, h.Linkname)
			}
			if _, seen := kinds[name]; seen {
				return fmt.Errorf("refusing archive entry %q: listed twice", h.Name)
			}
			src, err := os.OpenFile(filepath.Join(dst, filepath.FromSlash(target)), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				return err
			}
			fi, _ := src.Stat()
			err = writeFile(src, p, fi.Mode().Perm())
			src.Close()
			if err != nil {
				return err
			}
			h.Typeflag = tar.TypeReg
		default:
			continue // devices, fifos: no data
		}
		kinds[name] = h.Typeflag
	}
	for _, h := range held {
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(h.name, "./")), "/")
		if err := executor.CheckPath(name); err != nil || containsDotDot(h.name) {
			return fmt.Errorf("refusing file %q", h.name)
		}
		if _, seen := kinds[name]; seen || kinds[path.Dir(name)] != tar.TypeDir {
			return fmt.Errorf("refusing file %q: its directory is not one the archive made, or it is there already", h.name)
		}
		if err := copyBlob(h, filepath.Join(dst, filepath.FromSlash(name))); err != nil {
			return err
		}
		kinds[name] = tar.TypeReg
	}
	// Deepest first, so a read-only directory does not block its children.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i].path) > len(dirs[j].path) })
	for _, d := range dirs {
		if err := os.Chmod(d.path, d.mode); err != nil {
			return err
		}
	}
	return nil
}

// copyBlob writes h's blob to p (which must not exist).
func copyBlob(h heldFile, p string) error {
	f, err := os.Open(h.blob)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeFile(f, p, h.mode)
}

func containsDotDot(name string) bool {
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// writeFile creates p (which must not exist; never through a link) with
// r's content and mode.
func writeFile(r io.Reader, p string, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
