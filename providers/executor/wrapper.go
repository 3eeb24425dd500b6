package executor

import (
	_ "embed"
	"strconv"
	"strings"
	"time"
)

// wrapperScript is the POSIX sh script that runs every run, on every
// compute: see wrapper.sh for what it writes.
//
//go:embed wrapper.sh
var wrapperScript string

// WrapperArgv returns the argv that runs argv as a run whose directory is
// runDir (absolute; it holds src/, the working directory, and receives
// log, pid, exit and timedout). With timeout > 0 the run's process group is
// sent TERM when it expires and KILL grace later. Timeouts are rounded up
// to whole seconds. Every value is passed as a positional argument, never
// as script text, so no quoting is involved.
//
// The argv must be started as the leader of a new session or process
// group (Executor.Start does so).
func WrapperArgv(runDir string, timeout, grace time.Duration, argv []string) []string {
	out := make([]string, 0, 8+len(argv))
	out = append(out, "sh", "-c", wrapperScript, "trainrun-run", runDir,
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
)

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
