package runtime

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/trainrun/trainrun/state"
)

// ReadMetrics reads a metrics file and returns each metric's latest value.
// A malformed line is reported by number and skipped: it never fails a run.
// The whole series stays in the file (ReadSeries reads it).
func ReadMetrics(path string) (map[string]state.Metric, []string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	return latestMetrics(f, path)
}

// lines calls fn for each line read from r.
func lines(r io.Reader, fn func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fn(sc.Text())
	}
}

// tailLines returns the last n lines of a file: a collected log, redacted
// as it was collected (not again).
func tailLines(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const window = 16 * 1024
	if st, err := f.Stat(); err == nil && st.Size() > window {
		if _, err := f.Seek(st.Size()-window, io.SeekStart); err != nil {
			return nil
		}
	}
	var all []string
	lines(f, func(l string) { all = append(all, l) })
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// gitInfo returns the commit and dirty flag of the git work tree holding
// dir, or nil when there is none (or no git, or no commit yet).
//
// It runs before any run of an apply starts, so it is part of what even
// one trivial run costs: a directory that no git could take for a
// repository (no .git and no bare repository in it or above it, no
// GIT_DIR) starts no process at all, and a work tree starts one, git
// status with --branch, which names the commit too (git rev-parse HEAD
// beside git status was two processes, about 5 ms of CPU each on a busy
// machine). Where status fails (a bare repository) the commit alone is
// asked for, and the tree counted dirty, as before.
func gitInfo(dir string) *state.Git {
	if !maybeGit(dir) {
		return nil
	}
	out, err := exec.Command("git", "-C", dir, "status", "--porcelain=v2", "--branch", "--untracked-files=normal").Output()
	if err != nil {
		head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
		if err != nil {
			return nil
		}
		return &state.Git{Commit: strings.TrimSpace(string(head)), Dirty: true}
	}
	g := &state.Git{}
	for l := range strings.Lines(string(out)) {
		l = strings.TrimRight(l, "\n")
		if oid, ok := strings.CutPrefix(l, "# branch.oid "); ok {
			g.Commit = oid
		} else if l != "" && !strings.HasPrefix(l, "# ") {
			g.Dirty = true
		}
	}
	// "(initial)": a repository without a commit, where rev-parse HEAD
	// fails.
	if len(g.Commit) < 40 || strings.HasPrefix(g.Commit, "(") {
		return nil
	}
	return g
}

// maybeGit reports whether git could find a repository for dir: GIT_DIR
// is set, or dir or a directory above it holds .git or is a bare
// repository (HEAD, objects and refs), as git's own discovery looks. A
// false answer is certain; a true one is for git to confirm.
func maybeGit(dir string) bool {
	if os.Getenv("GIT_DIR") != "" {
		return true
	}
	d, err := filepath.Abs(dir)
	if err != nil {
		return true
	}
	for {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return true
		}
		if isFile(filepath.Join(d, "HEAD")) && isDir(filepath.Join(d, "objects")) && isDir(filepath.Join(d, "refs")) {
			return true
		}
		up := filepath.Dir(d)
		if up == d {
			return false
		}
		d = up
	}
}

func isFile(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode().IsRegular() }
func isDir(p string) bool  { st, err := os.Stat(p); return err == nil && st.IsDir() }

func nowUTC() time.Time { return time.Now().UTC() }
