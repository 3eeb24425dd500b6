package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Local is the machine trainrun runs on. Its zero value is ready to use.
type Local struct{}

var _ Executor = Local{}

// maxStderr bounds the stderr kept for Run's error.
const maxStderr = 4 << 10

// Run runs argv with trainrun's own environment and working directory.
func (Local) Run(ctx context.Context, argv []string, stdin io.Reader) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("run: empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > maxStderr {
			msg = msg[:maxStderr] + "…"
		}
		if msg != "" {
			return stdout.Bytes(), fmt.Errorf("%s: %w: %s", argv[0], err, msg)
		}
		return stdout.Bytes(), fmt.Errorf("%s: %w", argv[0], err)
	}
	return stdout.Bytes(), nil
}

// Start starts argv detached. The process is Local's child, so Done is set
// and closed when it exits (and it is reaped then, leaving no zombie).
func (Local) Start(ctx context.Context, dir string, argv, env []string) (Process, error) {
	if len(argv) == 0 {
		return Process{}, errors.New("start: empty command")
	}
	if err := ctx.Err(); err != nil {
		return Process{}, err
	}
	// Not CommandContext: the process must outlive ctx and trainrun.
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would inherit trainrun's environment
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Process{}, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := Process{PID: cmd.Process.Pid}
	// Read before anything reaps the process, so the pid is still ours.
	if st, err := readStat(p.PID); err == nil {
		p.StartTicks = st.ticks
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is the wrapper's business: it writes it down
		close(done)
	}()
	p.Done = done
	return p, nil
}

// procStat is what Alive needs from /proc/PID/stat.
type procStat struct {
	state byte   // field 3: R, S, D, Z, X, …
	ticks string // field 22: start time in clock ticks since boot
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

// parseStat parses /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	return procStat{state: f[0][0], ticks: f[19]}, nil
}

// Alive reads /proc; where there is none, it falls back to kill(pid, 0)
// and cannot check startTicks.
func (Local) Alive(ctx context.Context, pid int, startTicks string) (bool, error) {
	if pid < -1 {
		return groupAlive(-pid)
	}
	if pid <= 0 {
		return false, nil
	}
	st, err := readStat(pid)
	if err == nil {
		if st.state == 'Z' || st.state == 'X' {
			return false, nil
		}
		return startTicks == "" || st.ticks == startTicks, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("process %d: %w", pid, err)
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		return false, nil // there is a /proc, and pid is not in it
	}
	switch err := syscall.Kill(pid, 0); err {
	case nil, syscall.EPERM:
		return true, nil
	case syscall.ESRCH:
		return false, nil
	default:
		return false, fmt.Errorf("process %d: %w", pid, err)
	}
}

// groupAlive reports whether process group pgid has a live member. kill(2)
// counts zombies, which linger where init reaps orphans late, so a group
// that kill finds is looked for in /proc.
func groupAlive(pgid int) (bool, error) {
	switch err := syscall.Kill(-pgid, 0); err {
	case syscall.ESRCH:
		return false, nil
	case nil, syscall.EPERM:
	default:
		return false, fmt.Errorf("process group %d: %w", pgid, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true, nil // no /proc: trust kill
	}
	want := strconv.Itoa(pgid)
	for _, e := range ents {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		data, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if i := bytes.LastIndexByte(data, ')'); i >= 0 {
			// After the name: state, ppid, pgrp.
			if f := strings.Fields(string(data[i+1:])); len(f) > 2 && f[2] == want && f[0] != "Z" && f[0] != "X" {
				return true, nil
			}
		}
	}
	return false, nil
}

// Signal sends sig to pid (a process group when negative).
func (Local) Signal(ctx context.Context, pid int, sig syscall.Signal) error {
	if pid == 0 || pid == -1 {
		// kill(2) would signal our own group or every process we may.
		return fmt.Errorf("signal %d: refusing to signal pid %d", sig, pid)
	}
	err := syscall.Kill(pid, sig)
	if err == syscall.ESRCH {
		return fmt.Errorf("signal %d to %d: %w", sig, pid, ErrNoProcess)
	}
	if err != nil {
		return fmt.Errorf("signal %d to %d: %w", sig, pid, err)
	}
	return nil
}

func (Local) ModTime(ctx context.Context, path string) (time.Time, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

func (Local) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return os.ReadFile(path)
}

// WriteFile never writes through a symlink at path.
func (Local) WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// CreateFile creates path with O_EXCL, which never follows a symlink.
func (Local) CreateFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func (Local) Mkdir(ctx context.Context, path string, mode os.FileMode) error {
	// The parent nearly always exists: one system call, not a walk.
	err := os.Mkdir(path, mode)
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.Mkdir(path, mode)
}

func (Local) RemoveAll(ctx context.Context, path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	// A run may have left read-only directories: make them writable and
	// try again.
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

func (Local) Open(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek %s: %w", path, err)
		}
	}
	return f, nil
}
