package runtime

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
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
// dir, or nil when there is none (or no git).
func gitInfo(dir string) *state.Git {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return nil
	}
	g := &state.Git{Commit: strings.TrimSpace(string(out))}
	st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=normal").Output()
	g.Dirty = err != nil || len(bytes.TrimSpace(st)) > 0
	return g
}

func nowUTC() time.Time { return time.Now().UTC() }
