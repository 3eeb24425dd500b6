package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Matcher says, path by path, whether Scan leaves a path of one tree out,
// without scanning the tree: the same .gitignore and .trainrunignore rules
// (those of the enclosing git work tree included), and the same entries
// always left out (.git, .trainrun directories). A watcher uses it to tell
// which file system events can change a snapshot.
//
// Ignore files are read when a path below their directory is first asked
// about and kept: after an ignore file changes, make a new Matcher. A
// Matcher is safe for concurrent use.
type Matcher struct {
	root   string
	prefix string // root's path from the top of its git work tree ("" or ending in "/")

	mu   sync.Mutex
	dirs map[string]ignoreRules // by directory path relative to root ("" or ending in "/")
}

// NewMatcher returns the matcher of the tree at root.
func NewMatcher(root string) (*Matcher, error) {
	prefix, git, err := enclosingRules(root)
	if err != nil {
		return nil, fmt.Errorf("ignore rules of %s: %w", root, err)
	}
	m := &Matcher{root: filepath.Clean(root), prefix: prefix, dirs: make(map[string]ignoreRules)}
	rules, err := m.readRules(ignoreRules{git: git}, "")
	if err != nil {
		return nil, err
	}
	m.dirs[""] = rules
	return m, nil
}

// Root is the tree's root directory, as given to NewMatcher (cleaned).
func (m *Matcher) Root() string { return m.root }

// Excluded reports whether Scan leaves out the path rel, slash-separated
// and relative to the root: because it is, or is inside, an entry Scan
// never takes, or because the ignore rules exclude it or one of the
// directories above it. isDir says whether rel names a directory, which
// patterns ending in "/" need. The root itself ("" or ".") is never
// excluded.
func (m *Matcher) Excluded(rel string, isDir bool) bool {
	return m.ExcludedBy(rel, isDir) != ""
}

// ExcludedBy is Excluded saying why: ".gitignore" or ".trainrunignore"
// when the rules of such files exclude rel (or a directory above it),
// ".git" or ".trainrun" for entries Scan never takes, "" when rel is in
// the snapshot.
func (m *Matcher) ExcludedBy(rel string, isDir bool) string {
	rel = strings.Trim(rel, "/")
	if rel == "" || rel == "." {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir := ""
	for {
		name, rest, more := strings.Cut(rel[len(dir):], "/")
		elemIsDir := more || isDir
		if name == ".git" || (name == ".trainrun" && elemIsDir) {
			return name
		}
		rules := m.rulesLocked(dir)
		full := m.prefix + dir + name
		if by := rules.excludedBy(full, len(m.prefix)+len(dir), elemIsDir); by != "" {
			return by
		}
		if !more || rest == "" {
			return ""
		}
		dir += name + "/"
	}
}

// rulesLocked returns the rules that apply to the entries of dir ("" or a
// relative path ending in "/"), reading the ignore files of dir and of
// the directories above it that were not read yet. An ignore file that
// cannot be read counts as empty: the scan that follows a change reports
// the error.
func (m *Matcher) rulesLocked(dir string) ignoreRules {
	if r, ok := m.dirs[dir]; ok {
		return r
	}
	parent := ""
	if i := strings.LastIndexByte(dir[:len(dir)-1], '/'); i >= 0 {
		parent = dir[:i+1]
	}
	r, _ := m.readRules(m.rulesLocked(parent), dir)
	m.dirs[dir] = r
	return r
}

// readRules adds the ignore files of dir to the rules of its parent.
func (m *Matcher) readRules(r ignoreRules, dir string) (ignoreRules, error) {
	osDir := filepath.Join(m.root, filepath.FromSlash(dir))
	for _, name := range []string{".gitignore", ".trainrunignore"} {
		p := filepath.Join(osDir, name)
		fi, err := os.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			return r, fmt.Errorf("read %s: %w", p, err)
		}
		if !fi.Mode().IsRegular() {
			continue // as Scan: only regular files are read
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return r, fmt.Errorf("read %s: %w", p, err)
		}
		f := parseIgnoreFile(data, m.prefix+dir)
		if name == ".gitignore" {
			r.git = r.git.push(f)
		} else {
			r.trainrun = r.trainrun.push(f)
		}
	}
	return r, nil
}
