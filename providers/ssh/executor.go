package ssh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/trainrun/trainrun/providers/executor"
)

// Executor is a machine reached over SSH (executor.Executor). Paths on the
// machine must be absolute; Home says where the login's home is.
type Executor struct {
	conn      *Conn
	cache     string // the blob cache; "~/…" is below the home directory
	localBlob func(hash string) string

	homeMu sync.Mutex
	home   string

	toolsOnce sync.Once
	perl      bool

	statsMu sync.Mutex
	stats   UploadStats
}

var _ executor.Executor = (*Executor)(nil)

// ExecutorOptions tune an Executor.
type ExecutorOptions struct {
	// BlobCache is the directory on the machine that keeps uploaded blobs;
	// "~/" is the login's home. Default ~/.trainrun/blobs.
	BlobCache string
	// LocalBlob returns the local path of a file with the given SHA-256
	// that trainrun holds, or "": CopyOut does not fetch those.
	LocalBlob func(hash string) string
}

// NewExecutor returns an executor over c.
func NewExecutor(c *Conn, o ExecutorOptions) *Executor {
	if o.BlobCache == "" {
		o.BlobCache = "~/.trainrun/blobs"
	}
	return &Executor{conn: c, cache: o.BlobCache, localBlob: o.LocalBlob}
}

// Conn is the executor's connection.
func (e *Executor) Conn() *Conn { return e.conn }

// sh runs script with args on the machine (sh -c SCRIPT sh ARGS…). stdin,
// when not nil, makes the input of each try; repeat says the script may
// run again after a connection failure.
func (e *Executor) sh(ctx context.Context, repeat bool, script string, args []string, stdin func() io.Reader) ([]byte, error) {
	return e.run(ctx, repeat, append([]string{"sh", "-c", script, "sh"}, args...), stdin)
}

// run runs argv on the machine; see sh.
func (e *Executor) run(ctx context.Context, repeat bool, argv []string, stdin func() io.Reader) ([]byte, error) {
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("argument %q contains a NUL byte", a)
		}
	}
	cmd := executor.CommandLine(argv)
	var out []byte
	err := e.conn.Session(ctx, repeat, func(s *ssh.Session) error {
		var in io.Reader
		if stdin != nil {
			in = stdin()
		}
		var err error
		out, err = run(ctx, s, cmd, sessionIO{stdin: in})
		return err
	})
	return out, err
}

// exitCode returns the code of a remote command's non-zero exit, or -1.
func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

func pathError(op, p string, err error) error {
	switch exitCode(err) {
	case codeNotExist:
		return &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist}
	case codeExist:
		return &fs.PathError{Op: op, Path: p, Err: fs.ErrExist}
	case codeSymlink:
		return &fs.PathError{Op: op, Path: p, Err: syscall.ELOOP}
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}

// Home returns the login's home directory on the machine (asked once).
func (e *Executor) Home(ctx context.Context) (string, error) {
	e.homeMu.Lock()
	defer e.homeMu.Unlock()
	if e.home != "" {
		return e.home, nil
	}
	out, err := e.sh(ctx, true, homeScript, nil, nil)
	if err != nil {
		var hk *HostKeyError
		var ae *AuthError
		var ne *netError
		if errors.As(err, &hk) || errors.As(err, &ae) || errors.As(err, &ne) {
			return "", err // says what and where already
		}
		return "", fmt.Errorf("find the home directory on %s: %w", e.conn.t, err)
	}
	perl, h := strings.HasPrefix(string(out), "1"), string(out[min(1, len(out)):])
	e.toolsOnce.Do(func() { e.perl = perl })
	if !path.IsAbs(h) {
		return "", fmt.Errorf("the home directory on %s is %q, not an absolute path", e.conn.t, h)
	}
	e.home = path.Clean(h)
	return e.home, nil
}

// Resolve makes p absolute on the machine: "~" and "~/…" are below the
// home directory; any other relative path is too, as ssh resolves them.
func (e *Executor) Resolve(ctx context.Context, p string) (string, error) {
	if path.IsAbs(p) {
		return path.Clean(p), nil
	}
	home, err := e.Home(ctx)
	if err != nil {
		return "", err
	}
	p = strings.TrimPrefix(strings.TrimPrefix(p, "~"), "/")
	return path.Join(home, p), nil
}

// checkAbs refuses relative paths: every path an executor is given is
// absolute, and a relative one would silently mean the home directory.
func checkAbs(op, p string) error {
	if !path.IsAbs(p) || strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%s %q: not an absolute path", op, p)
	}
	return nil
}

// Run runs argv on the machine, its words quoted for the login shell.
func (e *Executor) Run(ctx context.Context, argv []string, stdin io.Reader) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("run: empty command")
	}
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("run: argument %q contains a NUL byte", a)
		}
	}
	cmd := executor.CommandLine(argv)
	var out []byte
	err := e.conn.Session(ctx, false, func(s *ssh.Session) error {
		var err error
		out, err = run(ctx, s, cmd, sessionIO{stdin: stdin})
		return err
	})
	if err != nil {
		return out, fmt.Errorf("%s: %w", argv[0], err)
	}
	return out, nil
}

// envName is what a shell can export.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Start starts argv detached in dir with setsid (or, where there is none,
// as the session leader sshd made), stdin, stdout and stderr on /dev/null.
// Its environment is the login's PATH, HOME, USER, LOGNAME, SHELL, LANG,
// LANGUAGE, LC_*, TZ and TMPDIR (what a local run inherits from trainrun),
// then env. The script that does so is read from the session's stdin:
// env's values, secrets included, are in no file and on no command line.
func (e *Executor) Start(ctx context.Context, dir string, argv, env []string) (executor.Process, error) {
	if len(argv) == 0 {
		return executor.Process{}, errors.New("start: empty command")
	}
	if err := checkAbs("start in", dir); err != nil {
		return executor.Process{}, err
	}
	script, err := startScript(dir, argv, env)
	if err != nil {
		return executor.Process{}, err
	}
	var line string
	err = e.conn.Session(ctx, false, func(s *ssh.Session) error {
		s.Stdin = strings.NewReader(script)
		out, err := s.StdoutPipe()
		if err != nil {
			return err
		}
		var stderr bytes.Buffer
		s.Stderr = &limitedBuffer{buf: &stderr, max: maxStderr}
		if err := s.Start("sh -s"); err != nil {
			return err
		}
		// Without setsid the shell becomes the process: read its pid and
		// leave the session open behind it.
		read := make(chan error, 1)
		go func() {
			var err error
			line, err = bufio.NewReader(out).ReadString('\n')
			read <- err
		}()
		select {
		case err = <-read:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err != nil {
			werr := s.Wait()
			var exit *ssh.ExitError
			if errors.As(werr, &exit) {
				return &ExitError{Code: exit.ExitStatus(), Stderr: strings.TrimSpace(stderr.String())}
			}
			if werr != nil {
				return werr
			}
			return fmt.Errorf("no process id: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
	if err != nil {
		return executor.Process{}, fmt.Errorf("start %s: %w", argv[0], err)
	}
	f := strings.Fields(line)
	pid := 0
	if len(f) > 0 {
		pid, _ = strconv.Atoi(f[0])
	}
	if pid <= 0 {
		return executor.Process{}, fmt.Errorf("start %s: unexpected answer %q", argv[0], line)
	}
	p := executor.Process{PID: pid}
	if len(f) > 1 {
		p.StartTicks = f[1]
	}
	return p, nil
}

// startScript is what Start sends to sh -s.
func startScript(dir string, argv, env []string) (string, error) {
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return "", fmt.Errorf("start: argument %q contains a NUL byte", a)
		}
	}
	var b strings.Builder
	b.WriteString(startPrologue)
	sorted := append([]string(nil), env...)
	sort.Strings(sorted)
	for _, kv := range sorted {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !envName.MatchString(k) {
			return "", fmt.Errorf("start: environment variable %q cannot be passed over ssh: a name must be letters, digits and _", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return "", fmt.Errorf("start: environment variable %s contains a NUL byte", k)
		}
		b.WriteString("export " + k + "=" + executor.Quote(v) + "\n")
	}
	b.WriteString("cd " + executor.Quote(dir) + " || exit 126\n")
	b.WriteString(strings.ReplaceAll(startEpilogue, "ARGV", executor.CommandLine(argv)))
	return b.String(), nil
}

// Alive asks the machine's /proc (or kill -0 where there is none).
func (e *Executor) Alive(ctx context.Context, pid int, startTicks string) (bool, error) {
	if pid == 0 || pid == -1 {
		return false, nil
	}
	if strings.ContainsAny(startTicks, " \n") {
		return false, fmt.Errorf("process %d: bad start ticks %q", pid, startTicks)
	}
	out, err := e.sh(ctx, true, aliveScript, []string{strconv.Itoa(pid), startTicks}, nil)
	if err != nil {
		return false, fmt.Errorf("process %d: %w", pid, err)
	}
	switch strings.TrimSpace(string(out)) {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, fmt.Errorf("process %d: unexpected answer %q", pid, out)
}

// signalNames are the signals Signal can send, by the names kill -s takes.
var signalNames = map[syscall.Signal]string{
	0: "0", syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL", syscall.SIGINT: "INT", syscall.SIGHUP: "HUP",
	syscall.SIGQUIT: "QUIT", syscall.SIGUSR1: "USR1", syscall.SIGUSR2: "USR2", syscall.SIGSTOP: "STOP", syscall.SIGCONT: "CONT",
}

// Signal sends sig with the machine's kill.
func (e *Executor) Signal(ctx context.Context, pid int, sig syscall.Signal) error {
	if pid == 0 || pid == -1 {
		return fmt.Errorf("signal %d: refusing to signal pid %d", sig, pid)
	}
	name, ok := signalNames[sig]
	if !ok {
		return fmt.Errorf("signal %d: not a signal trainrun sends", sig)
	}
	_, err := e.sh(ctx, true, signalScript, []string{name, strconv.Itoa(pid)}, nil)
	if exitCode(err) == codeNoProcess {
		return fmt.Errorf("signal %s to %d: %w", name, pid, executor.ErrNoProcess)
	}
	if err != nil {
		return fmt.Errorf("signal %s to %d: %w", name, pid, err)
	}
	return nil
}

func (e *Executor) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := checkAbs("read", p); err != nil {
		return nil, err
	}
	out, err := e.sh(ctx, true, readScript, []string{p}, nil)
	if err != nil {
		return nil, pathError("read", p, err)
	}
	return out, nil
}

// ModTime asks the machine for p's modification time, in nanoseconds
// where its stat can say them.
func (e *Executor) ModTime(ctx context.Context, p string) (time.Time, error) {
	if err := checkAbs("stat", p); err != nil {
		return time.Time{}, err
	}
	out, err := e.sh(ctx, true, modTimeScript, []string{p}, nil)
	if err != nil {
		return time.Time{}, pathError("stat", p, err)
	}
	return parseModTime(string(out))
}

// parseModTime reads "SECONDS[.FRACTION]\n", as stat -c %.9Y prints it.
func parseModTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	secs, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("modification time %q: %w", s, err)
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("modification time %q: %w", s, err)
		}
	}
	return time.Unix(n, ns), nil
}

// WriteFile never writes through a symlink at p.
func (e *Executor) WriteFile(ctx context.Context, p string, data []byte, mode os.FileMode) error {
	if err := checkAbs("write", p); err != nil {
		return err
	}
	_, err := e.sh(ctx, true, writeScript, []string{p, strconv.FormatUint(uint64(mode.Perm()), 8)},
		func() io.Reader { return bytes.NewReader(data) })
	if err != nil {
		return pathError("write", p, err)
	}
	return nil
}

// CreateFile creates p exclusively (the shell's noclobber, O_EXCL).
func (e *Executor) CreateFile(ctx context.Context, p string, data []byte, mode os.FileMode) error {
	if err := checkAbs("create", p); err != nil {
		return err
	}
	_, err := e.sh(ctx, false, createScript, []string{p, strconv.FormatUint(uint64(mode.Perm()), 8)},
		func() io.Reader { return bytes.NewReader(data) })
	if err != nil {
		return pathError("create", p, err)
	}
	return nil
}

func (e *Executor) Mkdir(ctx context.Context, p string, mode os.FileMode) error {
	if err := checkAbs("mkdir", p); err != nil {
		return err
	}
	_, err := e.sh(ctx, false, mkdirScript, []string{path.Clean(p), strconv.FormatUint(uint64(mode.Perm()), 8)}, nil)
	if err != nil {
		return pathError("mkdir", p, err)
	}
	return nil
}

// MakeDir makes dir and its first entries in one session (see
// executor.MakeDir).
func (e *Executor) MakeDir(ctx context.Context, dir string, mode os.FileMode, subdirs, files []string) error {
	if err := checkAbs("mkdir", dir); err != nil {
		return err
	}
	args := append([]string{path.Clean(dir), strconv.FormatUint(uint64(mode.Perm()), 8), strconv.Itoa(len(files))}, files...)
	if _, err := e.sh(ctx, false, makeDirScript, append(args, subdirs...), nil); err != nil {
		return pathError("mkdir", dir, err)
	}
	return nil
}

func (e *Executor) RemoveAll(ctx context.Context, p string) error {
	if err := checkAbs("remove", p); err != nil {
		return err
	}
	if path.Clean(p) == "/" {
		return errors.New("remove /: refused")
	}
	if _, err := e.sh(ctx, true, removeScript, []string{path.Clean(p)}, nil); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// Open streams the file from offset over a session of its own, held until
// the reader is closed. The reader stops at the end of the file as it was.
func (e *Executor) Open(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	if err := checkAbs("open", p); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("open %s: negative offset", p)
	}
	cmd := executor.CommandLine([]string{"sh", "-c", openScript, "sh", p, strconv.FormatInt(offset, 10)})
	var rc io.ReadCloser
	opened := make(chan struct{})
	// The session outlives Session's callback: the callback hands the
	// stream over and waits until the reader is closed.
	errc := make(chan error, 1)
	go func() {
		errc <- e.conn.Session(context.WithoutCancel(ctx), true, func(s *ssh.Session) error {
			_, out, wait, err := start(s, cmd, false)
			if err != nil {
				return err
			}
			br := bufio.NewReaderSize(out, 32<<10)
			if _, err := br.ReadByte(); err != nil {
				if err := wait(); err != nil {
					return err
				}
				return &netError{fmt.Errorf("open %s: %w", p, io.ErrUnexpectedEOF)}
			}
			r := &remoteFile{r: br, s: s, closed: make(chan struct{})}
			rc = r
			close(opened)
			<-r.closed
			return nil
		})
	}()
	select {
	case <-opened:
		return rc, nil
	case err := <-errc:
		if err == nil {
			err = errors.New("session ended early")
		}
		return nil, pathError("open", p, err)
	case <-ctx.Done():
		go func() {
			select {
			case <-opened:
				rc.Close()
			case <-errc:
			}
		}()
		return nil, ctx.Err()
	}
}

// remoteFile reads a file streamed by openScript.
type remoteFile struct {
	r      *bufio.Reader
	s      *ssh.Session
	waited bool
	werr   error
	once   sync.Once
	closed chan struct{}
}

func (f *remoteFile) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if err != nil && err != io.EOF {
		return n, &netError{fmt.Errorf("read: %w", err)}
	}
	if err == io.EOF {
		// The stream ended: was it the whole file?
		if !f.waited {
			f.waited = true
			if werr := f.s.Wait(); werr != nil {
				var exit *ssh.ExitError
				if errors.As(werr, &exit) {
					f.werr = fmt.Errorf("read: %w", &ExitError{Code: exit.ExitStatus()})
				} else {
					// No exit status: the connection dropped mid-stream.
					f.werr = &netError{fmt.Errorf("read: %w", werr)}
				}
			}
		}
		if f.werr != nil {
			return n, f.werr
		}
	}
	return n, err
}

func (f *remoteFile) Close() error {
	f.once.Do(func() {
		f.s.Close()
		close(f.closed)
	})
	return nil
}

// Stream runs argv on the machine with stdin (nil for none) and hands its
// stdout to read as it comes: for a stream too large to hold (a tar of
// many files). It is never repeated after a connection failure. When read
// returns an error the command is stopped. A non-zero exit is an error
// carrying the command's stderr.
func (e *Executor) Stream(ctx context.Context, argv []string, stdin io.Reader, read func(stdout io.Reader) error) error {
	if len(argv) == 0 {
		return errors.New("stream: empty command")
	}
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("stream: argument %q contains a NUL byte", a)
		}
	}
	cmd := executor.CommandLine(argv)
	return e.conn.Session(ctx, false, func(s *ssh.Session) error {
		s.Stdin = stdin
		_, out, wait, err := start(s, cmd, false)
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() { s.Close() })
		defer stop()
		if err := read(out); err != nil {
			s.Close()
			_ = wait()
			return err
		}
		// Drain what read left, so that the command can end.
		_, _ = io.Copy(io.Discard, out)
		return wait()
	})
}
