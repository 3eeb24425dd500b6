package executor

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/trainrun/trainrun/internal/atomicfile"
)

// WrapperScript is the POSIX sh script that runs every run, on every
// compute: see wrapper.sh for what it writes. InstallWrapper puts it in a
// file, which runs start (sh FILE …), so that ps shows a short command
// line with the run's directory rather than the whole script.
//
//go:embed wrapper.sh
var WrapperScript string

// WrapperName is the file name InstallWrapper gives the wrapper: it names
// its content, so that trainruns of different versions sharing a workdir
// never replace a wrapper a run is reading.
var WrapperName = func() string {
	sum := sha256.Sum256([]byte(WrapperScript))
	return "trainrun-run-" + hex.EncodeToString(sum[:6])
}()

// installScript DIR NAME SIZE writes stdin to DIR/NAME unless a file of
// SIZE bytes is there: to a file of its own first, renamed into place once
// it holds all SIZE bytes, so that no run ever reads a partly written
// wrapper. The size is checked because cat ends well on a short stdin: a
// trainrun killed while it fed the script (or before it wrote a byte) left
// an empty wrapper that every later run started, and ended at once without
// an exit code. A wrapper of the wrong size found in place is replaced.
const installScript = `d=$1 f=$1/$2 n=$3
whole() { [ -f "$1" ] && [ ! -L "$1" ] && s=$(wc -c <"$1") && [ "$s" -eq "$n" ]; } 2>/dev/null
whole "$f" && exit 0
umask 022
mkdir -p -- "$d" || exit 1
if cat >"$f.$$" && whole "$f.$$"; then
	mv -f -- "$f.$$" "$f" && exit 0
else
	echo "trainrun: the run wrapper reached $d incomplete" >&2
fi
rm -f -- "$f.$$"
exit 1
`

// InstallWrapper writes the wrapper to dir/WrapperName on e's machine,
// unless it is there already, and returns its path.
func InstallWrapper(ctx context.Context, e Executor, dir string) (string, error) {
	if err := installFile(ctx, e, dir, WrapperName, strings.NewReader(WrapperScript), len(WrapperScript)); err != nil {
		return "", fmt.Errorf("install the run wrapper in %s: %w", dir, err)
	}
	return path.Join(dir, WrapperName), nil
}

// installFile runs installScript: content, of size bytes, becomes
// dir/name unless a file of that size is there.
func installFile(ctx context.Context, e Executor, dir, name string, content io.Reader, size int) error {
	switch e.(type) {
	case Local, *Local:
		// The same, without the five processes the script starts on a
		// fresh workdir (sh, mkdir, cat, wc, mv: 60 ms of CPU on a busy
		// machine, more than the one run of a trivial apply).
		return installLocal(dir, name, content, size)
	}
	_, err := e.Run(ctx, []string{"sh", "-c", installScript, "sh", dir, name, strconv.Itoa(size)}, content)
	return err
}

// installLocal is installScript on this machine.
func installLocal(dir, name string, content io.Reader, size int) error {
	f := filepath.Join(dir, name)
	if fi, err := os.Lstat(f); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(size) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteWith(f, 0o644, atomicfile.Options{}, func(w io.Writer) error {
		n, err := io.Copy(w, content)
		if err == nil && n != int64(size) {
			err = fmt.Errorf("the run wrapper reached %s incomplete (%d of %d bytes)", dir, n, size)
		}
		return err
	})
}

// WrapperArgv returns the argv that runs argv as a run whose directory is
// runDir (absolute; it holds src/, the working directory, and receives
// log, pid, exit and timedout), through the wrapper that InstallWrapper
// installed at wrapper. With timeout > 0 the run's process group is sent
// TERM when it expires and KILL grace later; what the command leaves
// behind in its process group or session is sent TERM when it ends and
// KILL grace later. Timeouts are rounded up to whole seconds. Every value
// is passed as a positional argument, never as script text, so no quoting
// is involved.
//
// The argv must be started in runDir, as the leader of a new session
// (Executor.Start does so).
func WrapperArgv(wrapper, runDir string, timeout, grace time.Duration, argv []string) []string {
	out := make([]string, 0, 7+len(argv))
	out = append(out, "sh", wrapper, runDir,
		strconv.FormatInt(seconds(timeout), 10), strconv.FormatInt(seconds(grace), 10), "--")
	return append(out, argv...)
}

// seconds rounds d up to whole seconds; d ≤ 0 is 0.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// Files the wrapper writes in the run directory.
const (
	LogFile      = "log"
	PidFile      = "pid"
	ExitFile     = "exit"
	TimedOutFile = "timedout"
	EnvironFile  = "environ"
)

// ParseEnviron parses the environ file: what export -p printed (dash and
// busybox quote values in '…', bash in "…"). Names exported without a
// value are left out.
func ParseEnviron(data []byte) map[string]string {
	env := map[string]string{}
	s := string(data)
	for s != "" {
		s = strings.TrimLeft(s, " \t\n")
		rest, ok := strings.CutPrefix(s, "export ")
		if !ok {
			if rest, ok = strings.CutPrefix(s, "declare -x "); !ok {
				// Not a line of export -p: skip it.
				_, s, _ = strings.Cut(s, "\n")
				continue
			}
		}
		i := 0
		for i < len(rest) && (rest[i] == '_' || rest[i] >= 'A' && rest[i] <= 'Z' || rest[i] >= 'a' && rest[i] <= 'z' || i > 0 && rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		name := rest[:i]
		rest = rest[i:]
		if !strings.HasPrefix(rest, "=") {
			_, s, _ = strings.Cut(rest, "\n")
			continue
		}
		rest = rest[1:]
		var v strings.Builder
	value:
		for rest != "" {
			switch c := rest[0]; c {
			case '\'':
				end := strings.IndexByte(rest[1:], '\'')
				if end < 0 {
					return env // cut short
				}
				v.WriteString(rest[1 : 1+end])
				rest = rest[end+2:]
			case '"':
				j := 1
				for ; j < len(rest) && rest[j] != '"'; j++ {
					if rest[j] == '\\' && j+1 < len(rest) && strings.IndexByte("$`\"\\\n", rest[j+1]) >= 0 {
						j++
					}
					v.WriteByte(rest[j])
				}
				if j >= len(rest) {
					return env
				}
				rest = rest[j+1:]
			case '\\':
				if len(rest) > 1 {
					v.WriteByte(rest[1])
					rest = rest[2:]
				} else {
					rest = ""
				}
			case '\n', ' ':
				break value
			default:
				v.WriteByte(c)
				rest = rest[1:]
			}
		}
		if name != "" {
			env[name] = v.String()
		}
		s = rest
	}
	return env
}

// ParseExit parses the exit file. ok is false until the wrapper has
// written it completely (an exit code and a newline).
func ParseExit(data []byte) (code int, ok bool) {
	s, found := strings.CutSuffix(string(data), "\n")
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, false
	}
	return n, true
}

// ParsePid parses the pid file: the wrapper's pid and its start ticks
// ("" where there is no /proc).
func ParsePid(data []byte) (pid int, startTicks string, ok bool) {
	s, found := strings.CutSuffix(string(data), "\n")
	if !found {
		return 0, "", false
	}
	p, ticks, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 {
		return 0, "", false
	}
	return n, ticks, true
}

// ParseTimedOut parses the timedout marker: the timeout that expired.
func ParseTimedOut(data []byte) (time.Duration, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || n <= 0 || n > int64(1<<63-1)/int64(time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
