package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/trainrun/trainrun/providers"
)

// Conn is one connection to one machine, shared by everything that talks
// to it and dialed again when it drops. Its methods may be called from
// several goroutines at once.
type Conn struct {
	t    *Target
	jump *Conn
	o    ConnOptions

	pooled bool // the pool closes the jump connection

	dialMu sync.Mutex // one dial at a time
	mu     sync.Mutex
	client *ssh.Client
	// connected says a dial once succeeded: from then on, failures to
	// reach the machine are taken for a passing outage and retried.
	connected bool
	closed    bool
	sessions  chan struct{} // a token per open session
}

// ConnOptions tune a connection.
type ConnOptions struct {
	// Keepalive is how often an idle check is sent; a connection whose
	// check gets no answer within three periods is closed. Default 15 s.
	Keepalive time.Duration
	// Reconnect is how long operations that are safe to repeat keep
	// trying to reach a machine that was reachable before. Default 10 min.
	Reconnect time.Duration
	// MaxSessions bounds the sessions open at once (OpenSSH's own
	// MaxSessions defaults to 10). Default 8.
	MaxSessions int
}

func (o *ConnOptions) defaults() {
	if o.Keepalive <= 0 {
		o.Keepalive = 15 * time.Second
	}
	if o.Reconnect <= 0 {
		o.Reconnect = 10 * time.Minute
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 8
	}
}

// NewConn returns a connection to t; nothing is dialed until it is used.
// A jump target is reached through its own connection.
func NewConn(t *Target, o ConnOptions) *Conn {
	o.defaults()
	c := &Conn{t: t, o: o, sessions: make(chan struct{}, o.MaxSessions)}
	if t.Jump != nil {
		c.jump = NewConn(t.Jump, o)
	}
	return c
}

// Target is what c connects to.
func (c *Conn) Target() *Target { return c.t }

// Close closes the connection and its jump's.
func (c *Conn) Close() error {
	err := c.closeSelf()
	if c.jump != nil && !c.pooled {
		c.jump.Close()
	}
	return err
}

func (c *Conn) closeSelf() error {
	c.mu.Lock()
	c.closed = true
	cl := c.client
	c.client = nil
	c.mu.Unlock()
	if cl != nil {
		return cl.Close()
	}
	return nil
}

var errClosed = errors.New("ssh: connection closed")

// Client returns the live client, dialing when there is none.
func (c *Conn) Client(ctx context.Context) (*ssh.Client, error) {
	if cl, err := c.current(); cl != nil || err != nil {
		return cl, err
	}
	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	if cl, err := c.current(); cl != nil || err != nil {
		return cl, err
	}
	cl, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cl.Close()
		return nil, errClosed
	}
	c.client, c.connected = cl, true
	c.mu.Unlock()
	go func() {
		_ = cl.Wait()
		c.drop(cl)
	}()
	go c.keepalive(cl)
	return cl, nil
}

func (c *Conn) current() (*ssh.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	return c.client, nil
}

// drop forgets cl (when it is still the current client) and closes it:
// the next operation dials again.
func (c *Conn) drop(cl *ssh.Client) {
	c.mu.Lock()
	if c.client == cl {
		c.client = nil
	}
	c.mu.Unlock()
	cl.Close()
}

func (c *Conn) everConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// keepalive sends a request every period; no answer within three periods
// closes the connection (its Wait then returns and drop forgets it).
func (c *Conn) keepalive(cl *ssh.Client) {
	tick := time.NewTicker(c.o.Keepalive)
	defer tick.Stop()
	for range tick.C {
		if cur, _ := c.current(); cur != cl {
			return
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := cl.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		t := time.NewTimer(3 * c.o.Keepalive)
		select {
		case err := <-answered:
			t.Stop()
			if err != nil {
				c.drop(cl)
				return
			}
		case <-t.C:
			c.drop(cl)
			return
		}
	}
}

// dial connects and logs in, directly or through the jump connection,
// within the target's connect timeout.
func (c *Conn) dial(ctx context.Context) (*ssh.Client, error) {
	t := c.t
	check, algos, err := t.hostKeyCheck()
	if err != nil {
		return nil, err
	}
	auth, closeAgent, err := t.authMethods()
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	cfg := &ssh.ClientConfig{
		User:              t.User,
		Auth:              auth,
		HostKeyCallback:   check,
		HostKeyAlgorithms: algos,
		Timeout:           t.timeout(),
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout())
	defer cancel()
	var nc net.Conn
	if c.jump != nil {
		jc, err := c.jump.Client(ctx)
		if err != nil {
			return nil, fmt.Errorf("jump host %s: %w", t.Jump, err)
		}
		nc, err = jc.DialContext(ctx, "tcp", t.Addr())
		if err != nil {
			return nil, &netError{fmt.Errorf("ssh %s: through %s: %w", t, t.Jump, err)}
		}
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", t.Addr())
		if err != nil {
			return nil, &netError{fmt.Errorf("ssh %s: %w", t, err)}
		}
	}
	// The handshake honors ctx: closing the connection unblocks it.
	type result struct {
		sc    ssh.Conn
		chans <-chan ssh.NewChannel
		reqs  <-chan *ssh.Request
		err   error
	}
	done := make(chan result, 1)
	go func() {
		sc, chans, reqs, err := ssh.NewClientConn(nc, t.Addr(), cfg)
		done <- result{sc, chans, reqs, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		nc.Close()
		<-done
		return nil, &netError{fmt.Errorf("ssh %s: %w", t, ctx.Err())}
	}
	if r.err != nil {
		nc.Close()
		var hk *HostKeyError
		if errors.As(r.err, &hk) {
			return nil, hk
		}
		if strings.Contains(r.err.Error(), "unable to authenticate") {
			return nil, &AuthError{Target: t.String(), Err: fmt.Errorf("the machine accepted none of the credentials offered (%v)", r.err)}
		}
		if strings.Contains(r.err.Error(), "host key verification failed") {
			return nil, r.err
		}
		return nil, &netError{fmt.Errorf("ssh %s: %w", t, r.err)}
	}
	return ssh.NewClient(r.sc, r.chans, r.reqs), nil
}

// netError is a failure to reach a machine or keep talking to it, as
// opposed to one that trying again cannot fix (a host key, a credential).
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// ExitError is a remote command's non-zero exit.
type ExitError struct {
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	if e.Stderr != "" {
		return fmt.Sprintf("exit status %d: %s", e.Code, e.Stderr)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// maxStderr bounds the stderr kept for errors.
const maxStderr = 4 << 10

// sessionIO is what one remote command reads and writes.
type sessionIO struct {
	stdin io.Reader
}

// Session runs f with a new session, at most MaxSessions at once. Failures
// to reach the machine are retried, with backoff and for up to
// ConnOptions.Reconnect once the machine was reached before, when nothing
// was sent yet or when repeat says the operation is safe to repeat. f must
// return promptly when ctx is done.
func (c *Conn) Session(ctx context.Context, repeat bool, f func(*ssh.Session) error) error {
	var deadline time.Time
	backoff := 100 * time.Millisecond
	for {
		sent, err := c.session(ctx, f)
		if !deadline.IsZero() && (err == nil || !isNetError(err)) {
			// Reached again: whoever waited hears it.
			providers.Notify(ctx, providers.Notice{})
		}
		var ne *netError
		if err == nil || !errors.As(err, &ne) || ctx.Err() != nil {
			if ctx.Err() != nil && err != nil {
				return ctx.Err()
			}
			return err
		}
		if (sent && !repeat) || !c.everConnected() {
			return err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(c.o.Reconnect)
			providers.Notify(ctx, providers.Notice{Waiting: "ssh " + c.t.Addr() + " unreachable (retrying)"})
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (gave up reconnecting after %s)", err, c.o.Reconnect)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// session makes one try. sent reports whether the command may have
// reached the machine.
func (c *Conn) session(ctx context.Context, f func(*ssh.Session) error) (sent bool, err error) {
	cl, err := c.Client(ctx)
	if err != nil {
		return false, err
	}
	select {
	case c.sessions <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-c.sessions }()
	s, err := cl.NewSession()
	if err != nil {
		var oce *ssh.OpenChannelError
		if !errors.As(err, &oce) {
			c.drop(cl) // the transport is gone
		}
		return false, &netError{fmt.Errorf("ssh %s: open session: %w", c.t, err)}
	}
	defer s.Close()
	err = f(s)
	if err == nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return true, err
	}
	var ne *netError
	if errors.As(err, &ne) {
		return true, err
	}
	var exitMissing *ssh.ExitMissingError
	if errors.As(err, &exitMissing) || errors.Is(err, io.EOF) || isNetErr(err) {
		return true, &netError{fmt.Errorf("ssh %s: %w", c.t, err)}
	}
	return true, err
}

// isNetError reports whether err is a failure to reach the machine.
func isNetError(err error) bool {
	var ne *netError
	return errors.As(err, &ne)
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

// run runs the command line cmd in s with ctx: when ctx is done the
// session is closed. It returns stdout; a non-zero exit is an *ExitError
// carrying stderr.
func run(ctx context.Context, s *ssh.Session, cmd string, sio sessionIO) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	s.Stdin = sio.stdin
	s.Stdout = &stdout
	s.Stderr = &limitedBuffer{buf: &stderr, max: maxStderr}
	if err := s.Start(cmd); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		<-done
		return stdout.Bytes(), ctx.Err()
	}
	return stdout.Bytes(), exitError(err, &stderr)
}

// exitError turns a remote command's non-zero exit into an *ExitError
// with the start of what it wrote to stderr; other errors pass.
func exitError(err error, stderr *bytes.Buffer) error {
	var exit *ssh.ExitError
	if !errors.As(err, &exit) {
		return err
	}
	msg := strings.TrimSpace(stderr.String())
	if exit.Signal() != "" {
		msg = strings.TrimSpace("killed by signal " + exit.Signal() + ": " + msg)
	}
	return &ExitError{Code: exit.ExitStatus(), Stderr: msg}
}

// start starts cmd on s with stdout (and, when in, stdin) as pipes for a
// command that streams; wait waits for it (see exitError).
func start(s *ssh.Session, cmd string, in bool) (stdin io.WriteCloser, stdout io.Reader, wait func() error, err error) {
	if in {
		if stdin, err = s.StdinPipe(); err != nil {
			return nil, nil, nil, err
		}
	}
	if stdout, err = s.StdoutPipe(); err != nil {
		return nil, nil, nil, err
	}
	var stderr bytes.Buffer
	s.Stderr = &limitedBuffer{buf: &stderr, max: maxStderr}
	if err := s.Start(cmd); err != nil {
		return nil, nil, nil, err
	}
	return stdin, stdout, func() error { return exitError(s.Wait(), &stderr) }, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
