package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/trainrun/trainrun/providers"
)

// Executor is one machine that runs and holds runs. Paths are paths on that
// machine; local paths (the blobs to upload, the destination of a copy) are
// on the machine running trainrun.
type Executor interface {
	// Run runs argv to completion and returns its stdout. A non-zero exit
	// is an error that carries the command's stderr.
	Run(ctx context.Context, argv []string, stdin io.Reader) ([]byte, error)
	// Start starts argv detached in dir: in a session of its own (so it
	// leads its process group), stdin, stdout and stderr on /dev/null, with
	// exactly the environment env (nothing is inherited). The process
	// survives the trainrun process, even when that is SIGKILLed.
	Start(ctx context.Context, dir string, argv, env []string) (Process, error)
	// Alive reports whether pid is running. A non-empty startTicks (field
	// 22 of /proc/PID/stat) must match too, since pids are reused. An
	// exited process that is not yet reaped is not alive. A negative pid
	// asks whether process group -pid has any live member (startTicks is
	// then ignored).
	Alive(ctx context.Context, pid int, startTicks string) (bool, error)
	// Signal sends sig to pid, or to the process group -pid when pid < 0,
	// as kill(2). Signal 0 checks existence. It returns an error matching
	// ErrNoProcess when no process matches.
	Signal(ctx context.Context, pid int, sig syscall.Signal) error

	ReadFile(ctx context.Context, path string) ([]byte, error)
	// WriteFile writes data to path, replacing it.
	WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error
	// CreateFile creates path exclusively (O_EXCL) and writes data to it.
	// It fails with an error matching fs.ErrExist when anything, a
	// symlink included, is at path: whoever creates the file holds it.
	CreateFile(ctx context.Context, path string, data []byte, mode os.FileMode) error
	// Mkdir creates the directory path with mode, and any missing parents
	// with mode 0700. It fails with an error matching fs.ErrExist when
	// path exists, so that a caller can claim a directory.
	Mkdir(ctx context.Context, path string, mode os.FileMode) error
	// RemoveAll removes path and everything below it, also read-only
	// directories a run left. A missing path is not an error.
	RemoveAll(ctx context.Context, path string) error
	// Open opens path for reading from byte offset.
	Open(ctx context.Context, path string, offset int64) (io.ReadCloser, error)

	// Put materializes files below dir, which must exist: regular files
	// are copied from their local Blob (never linked, since runs may write
	// their working directory) with mode 0755 when executable and 0644
	// otherwise; symlinks (Mode 0o120000, Blob holding the target) are
	// created as they are. A path that is absolute, not clean, contains
	// "..", repeats or lies below another file or symlink is refused, so
	// nothing is written outside dir.
	Put(ctx context.Context, dir string, files []providers.File) error
	// CopyOut copies root/rel (a slash-separated relative path; a trailing
	// "/" says it must be a directory) to the local path dst, replacing
	// whatever is at dst (never writing through a symlink there). dst's
	// parent must exist. A missing rel is an error matching fs.ErrNotExist.
	//
	// Symlinks are never followed out of root. rel itself is resolved and
	// must lie in root. Below it, a relative link that stays within the
	// copied tree is recreated as it is, a link to something else in root
	// is replaced by a copy of its target, and any other link (absolute or
	// escaping, or dangling) is recreated as it is, unread. Sockets, fifos
	// and devices below rel are skipped: they hold no data (the runner's
	// Collect names them, for every executor alike).
	CopyOut(ctx context.Context, root, rel, dst string) error
}

// ModTimer is implemented by executors that can say when a file was last
// written: when a run's wrapper wrote its exit file is when the run ended.
type ModTimer interface {
	// ModTime returns path's modification time; a missing path is an
	// error matching fs.ErrNotExist.
	ModTime(ctx context.Context, path string) (time.Time, error)
}

// DirMaker is implemented by executors that make a directory and its
// first entries in one operation (over SSH one session, not one each).
type DirMaker interface {
	// MakeDir is MakeDir's work; see there.
	MakeDir(ctx context.Context, dir string, mode os.FileMode, subdirs, files []string) error
}

// MakeDir creates dir with mode (failing with an error matching
// fs.ErrExist when it exists, as Executor.Mkdir), then below it the
// directories subdirs (0755) and the empty files files (0644): names of
// one path element.
func MakeDir(ctx context.Context, e Executor, dir string, mode os.FileMode, subdirs, files []string) error {
	for _, n := range append(slices.Clip(subdirs), files...) {
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") {
			return fmt.Errorf("make %s: %q is not a name", dir, n)
		}
	}
	if m, ok := e.(DirMaker); ok {
		return m.MakeDir(ctx, dir, mode, subdirs, files)
	}
	if err := e.Mkdir(ctx, dir, mode); err != nil {
		return err
	}
	for _, d := range subdirs {
		if err := e.Mkdir(ctx, path.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := e.WriteFile(ctx, path.Join(dir, f), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// TreeRecycler is implemented by executors that can keep a tree that Put
// materialized, for a later Put to take over: the files still as Put left
// them are kept, the rest is made anew. Copying a large tree once per run
// costs more than a run that changed one file should.
type TreeRecycler interface {
	// RecycleTree hands over dir, a tree that Put materialized and that
	// nothing uses any more; dir is gone afterwards. A tree that Put did
	// not record is removed instead.
	RecycleTree(ctx context.Context, dir string) error
	// ClearTrees removes the trees kept for reuse.
	ClearTrees(ctx context.Context) error
}

// Process is a process that Start started.
type Process struct {
	PID        int
	StartTicks string // field 22 of /proc/PID/stat; "" where there is no /proc
	// Done, when not nil, is closed once the process has exited: an
	// executor that is the process's parent knows without polling.
	Done <-chan struct{}
}

// ErrNoProcess is what Signal returns when no process matches.
var ErrNoProcess = errors.New("no such process")
