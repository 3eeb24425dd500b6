package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trainrun/trainrun/internal/atomicfile"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrChanged reports that a file no longer matches the manifest it was
// scanned into.
var ErrChanged = errors.New("file changed since it was scanned")

// Store keeps blobs and manifests under one directory:
//
//	blobs/ab/cdef…        content of the file (or symlink target) whose SHA-256 is abcdef…, mode 0444
//	manifests/<id>.json   manifest of snapshot <id>
//	tmp/                  files being written, renamed into place when complete
//
// Writes are atomic (temporary file, then rename), so a reader never sees a
// partial blob, and a blob's name always matches its content.
type Store struct {
	dir    string
	remote *remoteState // nil: none (SetRemote)
}

// OpenStore opens the store in dir, creating it (mode 0700) if needed.
func OpenStore(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "blobs"), filepath.Join(dir, "manifests"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// BlobPath returns the path of the blob with the given hex SHA-256, or ""
// if hash is malformed.
func (s *Store) BlobPath(hash string) string {
	if !validHash(hash) {
		return ""
	}
	return filepath.Join(s.dir, "blobs", hash[:2], hash[2:])
}

// Has reports whether the store holds the blob.
func (s *Store) Has(hash string) bool {
	p := s.BlobPath(hash)
	if p == "" {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

func (s *Store) manifestPath(id string) string {
	return filepath.Join(s.dir, "manifests", id+".json")
}

// Put copies into the store every blob of m that it lacks, reading the
// files from root. Each file is hashed while it is copied: one that no
// longer matches m is not stored, and the error (which wraps ErrChanged)
// names it. Blobs of the other files are stored regardless.
func (s *Store) Put(root string, m *Manifest) error {
	type job struct {
		e   Entry
		tmp string
	}
	var jobs []*job
	queued := make(map[string]bool)
	for _, e := range m.Entries {
		if err := validPath(e.Path); err != nil {
			return fmt.Errorf("put %s: %w", root, err)
		}
		if !validHash(e.Hash) {
			return fmt.Errorf("put %s: entry %q: malformed hash", root, e.Path)
		}
		if queued[e.Hash] || s.touch(s.BlobPath(e.Hash)) {
			continue
		}
		queued[e.Hash] = true
		jobs = append(jobs, &job{e: e})
	}
	if len(jobs) == 0 {
		return nil
	}

	// Copy into temporary files in parallel, then make their content
	// durable with one file system sync, and only then rename them into
	// place: a crash never leaves a blob whose content is not its hash.
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range min(runtime.NumCPU(), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, hashBufSize)
			for {
				k := int(next.Add(1)) - 1
				if k >= len(jobs) {
					return
				}
				j := jobs[k]
				tmp, err := s.copyIn(root, j.e, buf)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				j.tmp = tmp
			}
		}()
	}
	wg.Wait()
	var tmps []string
	for _, j := range jobs {
		if j.tmp != "" {
			tmps = append(tmps, j.tmp)
		}
	}
	if err := syncFiles(s.dir, tmps); err != nil {
		errs = append(errs, err)
	}
	var dirs []string
	for _, j := range jobs {
		if j.tmp == "" {
			continue
		}
		dst := s.BlobPath(j.e.Hash)
		err := os.MkdirAll(filepath.Dir(dst), 0o700)
		if err == nil {
			err = os.Rename(j.tmp, dst)
		}
		if err != nil {
			os.Remove(j.tmp)
			errs = append(errs, fmt.Errorf("store blob of %s: %w", j.e.Path, err))
			continue
		}
		dirs = append(dirs, filepath.Dir(dst))
	}
	if err := syncDirs(s.dir, dirs); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("put %s: %w", root, err)
	}
	return nil
}

// touch marks the store file at p as used now, and reports whether it is
// there: gc removes only files unused for a while (RemoveUnused), so a
// file a writer found and touched stays, and one removed before it was
// touched is written again.
func (s *Store) touch(p string) bool {
	if p == "" {
		return false
	}
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// RemoveUnused removes the blob (kind "blob") or manifest (kind
// "manifest") id unless it was used (stored or touched by Put,
// PutManifest) at or after since. It is moved aside first and put back
// when a writer touched it meanwhile, so that a concurrent writer never
// loses a file it found. It reports whether the file was removed.
func (s *Store) RemoveUnused(kind, id string, since time.Time) (bool, error) {
	var p string
	switch kind {
	case "blob":
		p = s.BlobPath(id)
	case "manifest":
		if validHash(id) {
			p = s.manifestPath(id)
		}
	}
	if p == "" {
		return false, fmt.Errorf("remove %s %q: not a valid id", kind, id)
	}
	aside := filepath.Join(s.dir, "tmp", "gc-"+kind+"-"+id)
	if err := os.Rename(p, aside); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("remove %s %s: %w", kind, id, err)
	}
	fi, err := os.Lstat(aside)
	if err == nil && !fi.ModTime().Before(since) {
		// Used meanwhile: back into place (a writer that found it
		// missing may have stored the same content there already).
		return false, os.Rename(aside, p)
	}
	if err := os.Remove(aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove %s %s: %w", kind, id, err)
	}
	return true, nil
}

// copyIn copies the entry's file (or symlink target) from root into a
// temporary file of the store, verifying its hash, and returns the
// temporary file's path.
func (s *Store) copyIn(root string, e Entry, buf []byte) (tmp string, err error) {
	p := filepath.Join(root, filepath.FromSlash(e.Path))
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w (removed)", e.Path, ErrChanged)
		}
		return "", err
	}
	var src io.Reader
	switch {
	case e.Mode == ModeSymlink && fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		src = strings.NewReader(target)
	case e.Mode != ModeSymlink && fi.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		src = onlyReader{f}
	default:
		return "", fmt.Errorf("%s: %w (file type)", e.Path, ErrChanged)
	}

	tmp, hash, n, err := s.tempBlob("blob-*", src, buf)
	if err != nil {
		return "", fmt.Errorf("copy %s: %w", p, err)
	}
	if n != e.Size || hash != e.Hash {
		os.Remove(tmp)
		return "", fmt.Errorf("%s: %w", e.Path, ErrChanged)
	}
	return tmp, nil
}

// tempBlob copies src (through buf, when given) into a new read-only
// temporary file of the store named by pattern, and returns its path, the
// SHA-256 of its content and its size. On error nothing is left behind.
// The caller renames the file into place once the hash is the one it
// expects, or removes it.
func (s *Store) tempBlob(pattern string, src io.Reader, buf []byte) (tmp, hash string, n int64, err error) {
	out, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), pattern)
	if err != nil {
		return "", "", 0, err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	h := sha256.New()
	if n, err = io.CopyBuffer(io.MultiWriter(out, h), src, buf); err != nil {
		return "", "", 0, err
	}
	if err := out.Chmod(0o444); err != nil {
		return "", "", 0, err
	}
	if err := out.Close(); err != nil {
		return "", "", 0, err
	}
	return out.Name(), hex.EncodeToString(h.Sum(nil)), n, nil
}

// PutManifest stores m (which must be valid) as manifests/<id>.json.
func (s *Store) PutManifest(m *Manifest) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("put manifest: %w", err)
	}
	p := s.manifestPath(m.ID)
	if s.touch(p) {
		return nil // content-addressed: already there
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("put manifest %s: %w", m.ID, err)
	}
	if err := atomicfile.WriteFile(p, data, 0o444, atomicfile.Options{TempDir: filepath.Join(s.dir, "tmp"), TempPattern: "write-*", Sync: true}); err != nil {
		return fmt.Errorf("put manifest %s: %w", m.ID, err)
	}
	return nil
}

// LoadManifest reads the manifest of snapshot id, checking that its
// entries still hash to id.
func (s *Store) LoadManifest(id string) (*Manifest, error) {
	if !validHash(id) {
		return nil, fmt.Errorf("load manifest: malformed snapshot id %q", id)
	}
	data, err := os.ReadFile(s.manifestPath(id))
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", id, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("load manifest %s: file holds manifest %s", id, m.ID)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", id, err)
	}
	return &m, nil
}

// PutTree stores every file of the tree at root (no ignore files apply:
// it is meant for a run's outputs) and its manifest. Blobs the store
// already holds are not copied again.
func (s *Store) PutTree(root string) (*Manifest, error) {
	m, _, err := Scan(root, ScanOptions{NoIgnore: true})
	if err != nil {
		return nil, err
	}
	if err := s.Put(root, m); err != nil {
		return nil, err
	}
	if err := s.PutManifest(m); err != nil {
		return nil, err
	}
	return m, nil
}
