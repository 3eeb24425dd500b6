package snapshot

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ScanOptions configure Scan.
type ScanOptions struct {
	// Cache, if set, supplies the hashes of files whose stat data did not
	// change and records the hashes of the others. The caller saves it.
	Cache *StatCache
	// Workers bounds the goroutines walking directories and hashing files;
	// 0 means runtime.NumCPU().
	Workers int
	// NoIgnore snapshots every file: .gitignore and .trainrunignore files
	// are not read. .git and .trainrun are still left out.
	NoIgnore bool
	// Skip leaves out these files (slash-separated paths below root):
	// trainrun's own, such as saved plan files.
	Skip map[string]bool
}

// Scan snapshots the tree at root: every regular file and symlink that the
// ignore rules do not exclude, hashed with SHA-256.
//
// Ignore rules are git's: .gitignore files in root and below, and in root's
// ancestors up to the top of the enclosing git work tree, each applying to
// its own directory's subtree. .trainrunignore files (same syntax, in root
// and below) take precedence over .gitignore, so "!pattern" there
// re-includes a file that git ignores. As in git, an excluded directory is
// not descended into. Entries named .git, and directories named .trainrun,
// are always left out.
//
// Symlinks are recorded, never followed. Regular files' modes are
// normalized to 0644 or 0755; other file types are skipped, and so are
// directories without files.
func Scan(root string, opts ScanOptions) (*Manifest, *Stats, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("scan %s: not a directory", root)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	s := &scanner{
		root:  filepath.Clean(root),
		cache: opts.Cache,
		start: time.Now().UnixNano(),
		sem:   make(chan struct{}, workers-1),
	}
	var rules ignoreRules
	if !opts.NoIgnore {
		s.prefix, rules.git, err = enclosingRules(root)
		if err != nil {
			return nil, nil, fmt.Errorf("scan %s: %w", root, err)
		}
	}
	s.noIgnore = opts.NoIgnore
	s.skip = opts.Skip

	tree := &dirNode{}
	s.walk(tree, "", rules)
	s.wg.Wait()
	if err := s.firstErr(); err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", root, err)
	}
	if err := s.hashPending(workers); err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", root, err)
	}
	for _, n := range s.unfinished {
		n.finish()
	}
	m, stats := s.result(tree)
	return m, stats, nil
}

// scanner is the state of one Scan.
type scanner struct {
	root     string // as given, cleaned
	prefix   string // root's path from the top of its git work tree ("" or ending in "/")
	noIgnore bool
	skip     map[string]bool
	cache    *StatCache
	start    int64 // unix ns before the first stat, for the stat cache's racy check

	sem  chan struct{} // a token per extra walking goroutine
	wg   sync.WaitGroup
	bufs sync.Pool // *[]byte, getdents buffers

	mu         sync.Mutex
	pending    []*scanFile // files to read and hash
	unfinished []*dirNode  // directories holding pending files
	err        error
	failed     atomic.Bool
	files      atomic.Int64 // files found, for allocating the manifest

	hashed, hashedBytes atomic.Int64
}

// dirNode is a scanned directory. Its files and subdirectories are sorted
// by name, so that a depth-first traversal yields entries in path order
// without a global sort.
type dirNode struct {
	name  string // last path element ("" for the root)
	files []scanFile
	subs  []*dirNode

	// Set by finish, once every file is hashed: the entries of the files
	// that still exist, and their records in the canonical encoding
	// (entry i's is records[recordEnd[i-1]:recordEnd[i]]).
	entries   []Entry
	records   []byte
	recordEnd []int
}

// finish builds the node's entries and records. It runs in the walk's
// goroutines when the stat cache supplied every hash, so that this work
// overlaps the other goroutines' system calls.
func (n *dirNode) finish() {
	n.entries = make([]Entry, 0, len(n.files))
	n.recordEnd = make([]int, 0, len(n.files))
	// One string holds the node's hashes: no allocation per file.
	const hexLen = 2 * sha256.Size
	var hexes strings.Builder
	hexes.Grow(len(n.files) * hexLen)
	var h [hexLen]byte
	size := 0
	for i := range n.files {
		f := &n.files[i]
		if f.gone {
			continue
		}
		hex.Encode(h[:], f.sum[:])
		hexes.Write(h[:])
		size += len(f.path) + 48
	}
	all := hexes.String()
	n.records = make([]byte, 0, size)
	k := 0
	for i := range n.files {
		f := &n.files[i]
		if f.gone {
			continue
		}
		n.entries = append(n.entries, Entry{Path: f.path, Mode: f.mode, Size: f.size, Hash: all[k*hexLen : (k+1)*hexLen]})
		k++
		n.records = appendRecord(n.records, f.mode, f.path, f.sum)
		n.recordEnd = append(n.recordEnd, len(n.records))
	}
}

type scanFile struct {
	path   string // relative to root, slash-separated
	mode   uint32 // normalized entry mode
	size   int64
	st     fileStat
	sum    [32]byte
	hashed bool // sum is known
	gone   bool // vanished before it could be read
}

type entryType uint8

const (
	typeOther entryType = iota
	typeFile
	typeDir
	typeSymlink
	typeUnknown
)

// dirEntry is a directory entry as listed.
type dirEntry struct {
	path string // the listing's prefix followed by the name
	typ  entryType
}

func (s *scanner) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.failed.Store(true)
}

func (s *scanner) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// osPath returns the file system path of a path relative to root.
func (s *scanner) osPath(rel string) string {
	if rel == "" {
		return s.root
	}
	if s.root == string(filepath.Separator) {
		return s.root + filepath.FromSlash(rel)
	}
	return s.root + string(filepath.Separator) + filepath.FromSlash(rel)
}

// walk scans the directory rel ("" or ending in "/") into node and,
// recursively, its subdirectories: in new goroutines while the worker
// budget allows, inline otherwise.
func (s *scanner) walk(node *dirNode, rel string, rules ignoreRules) {
	if s.failed.Load() {
		return
	}
	subRules, err := s.scanDir(node, rel, rules)
	if err != nil {
		s.fail(err)
		return
	}
	for _, sub := range node.subs {
		subRel := rel + sub.name + "/"
		select {
		case s.sem <- struct{}{}:
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.walk(sub, subRel, subRules)
				<-s.sem
			}()
		default:
			s.walk(sub, subRel, subRules)
		}
	}
}

// scanDir records the files of one directory in node, and its
// subdirectories that are not excluded. It returns the ignore rules that
// apply in the subdirectories.
func (s *scanner) scanDir(node *dirNode, rel string, rules ignoreRules) (ignoreRules, error) {
	dirPath := s.osPath(strings.TrimSuffix(rel, "/"))
	d, err := openDir(dirPath, rel != "")
	if err != nil {
		if rel != "" && errors.Is(err, fs.ErrNotExist) {
			return rules, nil // removed while we were scanning
		}
		return rules, err
	}
	defer d.close()
	full := s.prefix + rel // the directory's path as the ignore rules see it
	bufp, _ := s.bufs.Get().(*[]byte)
	if bufp == nil {
		b := make([]byte, 32<<10)
		bufp = &b
	}
	ents, err := d.readAll(full, *bufp)
	s.bufs.Put(bufp)
	if err != nil {
		return rules, err
	}
	for i := range ents {
		e := &ents[i]
		if e.typ == typeUnknown {
			st, err := d.lstat(e.path[len(full):])
			switch {
			case errors.Is(err, fs.ErrNotExist):
				e.typ = typeOther
			case err != nil:
				return rules, err
			case st.isDir():
				e.typ = typeDir
			case st.isRegular():
				e.typ = typeFile
			case st.isSymlink():
				e.typ = typeSymlink
			default:
				e.typ = typeOther
			}
		}
	}
	if !s.noIgnore {
		// Ignore files apply to their own directory's entries, so read
		// them first. As git, only regular files are read.
		for _, e := range ents {
			name := e.path[len(full):]
			if e.typ != typeFile || (name != ".gitignore" && name != ".trainrunignore") {
				continue
			}
			p := filepath.Join(dirPath, name)
			data, err := os.ReadFile(p)
			if err != nil {
				return rules, fmt.Errorf("read %s: %w", p, err)
			}
			if name == ".gitignore" {
				rules.git = rules.git.push(parseIgnoreFile(data, full))
			} else {
				rules.trainrun = rules.trainrun.push(parseIgnoreFile(data, full))
			}
		}
	}
	// Sorting the listing sorts the files and subdirectories too. A
	// directory sorts as its name followed by "/", as in the manifest.
	slices.SortFunc(ents, func(a, b dirEntry) int {
		return compareTreeOrder(a.path, a.typ == typeDir, b.path, b.typ == typeDir)
	})
	node.files = make([]scanFile, 0, len(ents))
	for _, e := range ents {
		name := e.path[len(full):]
		if name == ".git" || (name == ".trainrun" && e.typ == typeDir) || (len(s.skip) > 0 && s.skip[rel+name]) {
			continue
		}
		switch e.typ {
		case typeDir:
			if !rules.excluded(e.path, len(full), true) {
				node.subs = append(node.subs, &dirNode{name: name})
			}
			continue
		case typeFile, typeSymlink:
		default:
			continue // sockets, pipes, devices
		}
		if rules.excluded(e.path, len(full), false) {
			continue
		}
		st, err := d.lstat(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return rules, err
		}
		f := scanFile{path: e.path[len(s.prefix):], st: st, size: st.size}
		switch {
		case st.isSymlink():
			target, err := os.Readlink(filepath.Join(dirPath, name))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return rules, err
			}
			f.mode = ModeSymlink
			f.size = int64(len(target))
			f.sum = sha256.Sum256([]byte(target))
			f.hashed = true
		case st.isRegular():
			f.mode = ModeFile
			if st.isExec() {
				f.mode = ModeExec
			}
		default:
			continue // replaced by another kind of file since it was listed
		}
		node.files = append(node.files, f)
	}
	if s.cache != nil {
		s.cache.lookupAll(node.files)
	}
	s.files.Add(int64(len(node.files)))
	var pending []*scanFile
	for i := range node.files {
		if !node.files[i].hashed {
			pending = append(pending, &node.files[i])
		}
	}
	if len(pending) == 0 {
		node.finish()
		return rules, nil
	}
	s.mu.Lock()
	s.pending = append(s.pending, pending...)
	s.unfinished = append(s.unfinished, node)
	s.mu.Unlock()
	return rules, nil
}

// hashBufSize is the read size for hashing: large enough that system calls
// are a small part of the cost, small enough to stay in the CPU cache.
const hashBufSize = 256 << 10

// hashPending reads and hashes the files the stat cache did not supply,
// with up to workers goroutines.
func (s *scanner) hashPending(workers int) error {
	pending := s.pending
	if len(pending) == 0 {
		return nil
	}
	// Largest files first, so that one big file read last does not leave
	// the other workers idle.
	slices.SortFunc(pending, func(a, b *scanFile) int { return cmp.Compare(b.size, a.size) })
	workers = min(workers, len(pending))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, hashBufSize)
			h := sha256.New()
			for !s.failed.Load() {
				k := int(next.Add(1)) - 1
				if k >= len(pending) {
					return
				}
				if err := s.hashFile(pending[k], h, buf); err != nil {
					s.fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return s.firstErr()
}

func (s *scanner) hashFile(f *scanFile, h hashWriter, buf []byte) error {
	p := s.osPath(f.path)
	file, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			f.gone = true
			return nil
		}
		return err
	}
	defer file.Close()
	h.Reset()
	n, err := io.CopyBuffer(h, onlyReader{file}, buf)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	h.Sum(f.sum[:0])
	f.size = n
	f.hashed = true
	s.hashed.Add(1)
	s.hashedBytes.Add(n)
	if s.cache != nil {
		s.cache.store(f.path, f.st, f.sum, s.start)
	}
	return nil
}

// hashWriter is the part of hash.Hash hashFile uses.
type hashWriter interface {
	io.Writer
	Reset()
	Sum([]byte) []byte
}

// onlyReader hides *os.File's WriteTo, so that io.CopyBuffer uses the
// caller's buffer instead of allocating its own.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// result assembles the manifest and the statistics from the finished
// tree.
func (s *scanner) result(root *dirNode) (*Manifest, *Stats) {
	entries := make([]Entry, 0, s.files.Load())
	stats := &Stats{}
	id := newIDHash()
	var flatten func(n *dirNode, path string) (int, int64)
	flatten = func(n *dirNode, path string) (count int, bytes int64) {
		// Merge files and subdirectories in path order: a directory sorts
		// as its name followed by "/". Runs of files between two
		// subdirectories are hashed with one write.
		ei, si, runStart := 0, 0, 0
		flush := func() {
			if ei > runStart {
				from := 0
				if runStart > 0 {
					from = n.recordEnd[runStart-1]
				}
				id.Write(n.records[from:n.recordEnd[ei-1]])
				runStart = ei
			}
		}
		for ei < len(n.entries) || si < len(n.subs) {
			if si == len(n.subs) || (ei < len(n.entries) && compareTreeOrder(baseName(n.entries[ei].Path), false, n.subs[si].name, true) < 0) {
				e := &n.entries[ei]
				entries = append(entries, *e)
				count++
				bytes += e.Size
				ei++
				continue
			}
			flush()
			sub := n.subs[si]
			si++
			subPath := sub.name
			if path != "" {
				subPath = path + "/" + sub.name
			}
			c, b := flatten(sub, subPath)
			if c > 0 {
				stats.Dirs = append(stats.Dirs, DirStats{Path: subPath, Files: c, Bytes: b})
			}
			count += c
			bytes += b
		}
		flush()
		return count, bytes
	}
	stats.Files, stats.Bytes = flatten(root, "")
	slices.SortFunc(stats.Dirs, func(a, b DirStats) int { return strings.Compare(a.Path, b.Path) })
	stats.Hashed = int(s.hashed.Load())
	stats.HashedBytes = s.hashedBytes.Load()
	return &Manifest{ID: hex.EncodeToString(id.Sum(nil)), Entries: entries}, stats
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// compareTreeOrder compares a and b, each followed by "/" if it is a
// directory, without building those strings. The last elements of a and b
// must not contain "/".
func compareTreeOrder(a string, aDir bool, b string, bDir bool) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	// next returns the byte following the common part, -1 at the end.
	next := func(s string, dir bool) int {
		switch {
		case len(s) > n:
			return int(s[n])
		case dir:
			return '/'
		}
		return -1
	}
	return cmp.Compare(next(a, aDir), next(b, bDir))
}

// enclosingRules finds the top of the git work tree enclosing root and
// compiles the .gitignore files of root's ancestors up to it, which git
// applies to root's files too. prefix is root's path from that top ("" when
// root is the top or not inside a work tree).
func enclosingRules(root string) (prefix string, rules *ignoreStack, err error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	top := ""
	for d := abs; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			top = d
			break
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if top == "" || top == abs {
		return "", nil, nil
	}
	rel, err := filepath.Rel(top, abs)
	if err != nil {
		return "", nil, err
	}
	rel = filepath.ToSlash(rel)
	dir, base := top, ""
	for elem := range strings.SplitSeq(rel, "/") {
		p := filepath.Join(dir, ".gitignore")
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return "", nil, fmt.Errorf("read %s: %w", p, err)
			}
			rules = rules.push(parseIgnoreFile(data, base))
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return "", nil, err
		}
		dir = filepath.Join(dir, elem)
		base += elem + "/"
	}
	return rel + "/", rules, nil
}

// ScanFile hashes the one regular file at p into the entry of a snapshot
// at path name (a file that a snapshot includes from elsewhere), its mode
// normalized as Scan does.
func ScanFile(p, name string) (Entry, error) {
	f, err := os.Open(p)
	if err != nil {
		return Entry{}, fmt.Errorf("scan %s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, fmt.Errorf("scan %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return Entry{}, fmt.Errorf("scan %s: not a regular file", p)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Entry{}, fmt.Errorf("scan %s: %w", p, err)
	}
	mode := ModeFile
	if fi.Mode()&0o111 != 0 {
		mode = ModeExec
	}
	return Entry{Path: name, Mode: mode, Size: n, Hash: hex.EncodeToString(h.Sum(nil))}, nil
}
