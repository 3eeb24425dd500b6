// Package sshtest starts real OpenSSH servers on loopback for integration
// tests: each with its own host key, configuration, port and log, serving an
// unprivileged user that logs in with a key of the test's own.
//
// It installs openssh-server with apt-get when /usr/sbin/sshd is missing.
// When a server cannot be had (not root, no apt-get, no network) the test is
// skipped with the reason, or fails when TRAINRUN_REQUIRE_INTEGRATION=1.
package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// T is what the helpers need of a test: *testing.T and testscript's T both
// have it.
type T interface {
	Skip(args ...any)
	Fatal(args ...any)
	Log(args ...any)
}

// UserName is the unprivileged account the servers let in.
const UserName = "trainrun-ssh"

const sshd = "/usr/sbin/sshd"

// Server is one running sshd.
type Server struct {
	Addr string // listen address: 127.0.0.1 unless asked otherwise
	Port int
	User string
	Home string // the user's home directory
	Dir  string // the server's files: config, host key, log (removed by Stop)
	// KeyFile is the client's private key (unencrypted ed25519, mode 0600);
	// its public half is the only authorized key.
	KeyFile string
	// KnownHostsFile holds one line for this server: [ADDR]:PORT KEY.
	KnownHostsFile string
	// HostKey is the server's public host key; Fingerprint its SHA256 form.
	HostKey     ssh.PublicKey
	Fingerprint string
	LogFile     string

	pid      int
	password bool
}

// Options tune Start.
type Options struct {
	Addr string // listen address; default 127.0.0.1
	// KeyFile is a client private key to authorize instead of a new one
	// (several servers letting in the same client).
	KeyFile string
	// Password lets the user log in with Password too (the account's
	// password is set to it; other servers keep refusing passwords).
	Password bool
}

// Password is the test user's password, for servers started with
// Options.Password.
const Password = "trainrun-test-password"

// unavailable skips, or fails under TRAINRUN_REQUIRE_INTEGRATION=1.
func unavailable(t T, format string, args ...any) {
	msg := "sshtest: " + fmt.Sprintf(format, args...)
	if os.Getenv("TRAINRUN_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg + " (TRAINRUN_REQUIRE_INTEGRATION=1)")
	}
	t.Skip(msg)
}

// Start starts an sshd. The caller must Stop it.
func Start(t T, o Options) *Server {
	if tb, ok := t.(testing.TB); ok && testing.Short() {
		tb.Skip("sshtest: starts sshd: not with -short (make test runs it)")
	}
	if err := ensureInstalled(); err != nil {
		unavailable(t, "no OpenSSH server: %v", err)
		return nil
	}
	if os.Geteuid() != 0 {
		unavailable(t, "starting sshd for another user needs root")
		return nil
	}
	home, err := ensureUser()
	if err != nil {
		unavailable(t, "test user: %v", err)
		return nil
	}
	if o.Password {
		if err := setPassword(); err != nil {
			unavailable(t, "test user's password: %v", err)
			return nil
		}
	}
	s, err := start(o, home)
	if err != nil {
		t.Fatal("sshtest: ", err)
		return nil
	}
	return s
}

func start(o Options, home string) (*Server, error) {
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1"
	}
	dir, err := os.MkdirTemp("", "sshtest-")
	if err != nil {
		return nil, err
	}
	// sshd reads authorized_keys as the user: the directory must be
	// reachable by it. Nothing secret is in it but the host key (0600).
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Addr: addr, User: UserName, Home: home, Dir: dir, LogFile: filepath.Join(dir, "sshd.log"), password: o.Password}
	fail := func(err error) (*Server, error) {
		s.Stop()
		return nil, err
	}
	hostKey, err := newKey(filepath.Join(dir, "host_ed25519"))
	if err != nil {
		return fail(err)
	}
	s.HostKey = hostKey
	s.Fingerprint = ssh.FingerprintSHA256(hostKey)
	s.KeyFile = o.KeyFile
	if s.KeyFile == "" {
		s.KeyFile = filepath.Join(dir, "client_ed25519")
		if _, err := newKey(s.KeyFile); err != nil {
			return fail(err)
		}
	}
	clientPub, err := PublicKey(s.KeyFile)
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o644); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return fail(err)
	}
	// A free port can be taken between asking and sshd binding it: try a
	// few.
	for try := 0; ; try++ {
		if s.Port, err = freePort(addr); err != nil {
			return fail(err)
		}
		err = s.launch()
		if err == nil || try == 4 {
			break
		}
	}
	if err != nil {
		return fail(err)
	}
	s.KnownHostsFile = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(s.KnownHostsFile, []byte(s.KnownHostsLine()), 0o644); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *Server) launch() error {
	conf := filepath.Join(s.Dir, "sshd_config")
	pidFile := filepath.Join(s.Dir, "sshd.pid")
	_ = os.Remove(pidFile)
	pw := "no"
	if s.password {
		pw = "yes"
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PasswordAuthentication %s
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin no
AllowUsers %s
AllowTcpForwarding yes
MaxSessions 20
LogLevel DEBUG
`, s.Port, s.Addr, filepath.Join(s.Dir, "host_ed25519"), pidFile, filepath.Join(s.Dir, "authorized_keys"), pw, s.User)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return err
	}
	out, err := exec.Command(sshd, "-f", conf, "-E", s.LogFile).CombinedOutput()
	if err != nil {
		return fmt.Errorf("start sshd: %v: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				s.pid = pid
				c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Addr, strconv.Itoa(s.Port)), time.Second)
				if err == nil {
					c.Close()
					return nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(s.LogFile)
	return fmt.Errorf("sshd on port %d did not come up: %s", s.Port, log)
}

// Target is USER@ADDR:PORT.
func (s *Server) Target() string {
	return fmt.Sprintf("%s@%s:%d", s.User, s.Addr, s.Port)
}

// KnownHostsLine is the server's known_hosts line, newline included.
func (s *Server) KnownHostsLine() string {
	return hostPattern(s.Addr, s.Port) + " " + string(ssh.MarshalAuthorizedKey(s.HostKey))
}

func hostPattern(addr string, port int) string {
	if port == 22 {
		return addr
	}
	return fmt.Sprintf("[%s]:%d", addr, port)
}

// Log returns what the server logged so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogFile)
	return string(b)
}

// Sessions returns the pids of the processes serving connections: the
// listener's children.
func (s *Server) Sessions() []int {
	if s.pid == 0 {
		return nil
	}
	return children(s.pid)
}

// KillSessions kills every connection's server processes, as a dropped
// network would end them, and returns how many it killed. The listener
// stays up, so clients can connect again.
func (s *Server) KillSessions() int {
	sessions := s.Sessions()
	for _, pid := range sessions {
		kids := children(pid) // before: they may be gone with their parent
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for _, c := range kids {
			_ = syscall.Kill(c, syscall.SIGKILL)
		}
	}
	return len(sessions)
}

// Down takes the server off the network, as an outage would: its
// connections are killed and it listens no more, until Up. Processes the
// sessions started in sessions of their own (detached runs) go on.
func (s *Server) Down() {
	if s.pid <= 0 {
		return
	}
	s.KillSessions()
	_ = syscall.Kill(s.pid, syscall.SIGTERM)
	for i := 0; i < 500 && syscall.Kill(s.pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	s.pid = 0
}

// Up starts the server again after Down, on the same address, port and
// host key.
func (s *Server) Up() error {
	var err error
	for try := 0; try < 50; try++ { // the port may linger a moment
		if err = s.launch(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Stop stops the server and its sessions and removes its files.
func (s *Server) Stop() {
	if s == nil {
		return
	}
	if s.pid > 0 {
		s.KillSessions()
		_ = syscall.Kill(s.pid, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(s.pid, 0) == nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		s.pid = 0
	}
	if s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// children lists the pids whose parent is pid, from /proc.
func children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := strconv.Itoa(pid)
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 1 && f[1] == want {
				out = append(out, n)
			}
		}
	}
	return out
}

// newKey writes a new unencrypted ed25519 private key to path (0600) and
// returns its public key.
func newKey(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "sshtest")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}

// NewKey writes a new unencrypted ed25519 private key to path (0600) and
// returns its public key.
func NewKey(path string) (ssh.PublicKey, error) { return newKey(path) }

// NewEncryptedKey writes a new ed25519 private key encrypted with
// passphrase to path (0600) and returns its public key.
func NewEncryptedKey(path, passphrase string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "sshtest", []byte(passphrase))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}

// PublicKey reads the public half of an unencrypted private key file.
func PublicKey(keyFile string) (ssh.PublicKey, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return signer.PublicKey(), nil
}

// Authorize adds pub to the server's authorized keys.
func (s *Server) Authorize(pub ssh.PublicKey) error {
	f, err := os.OpenFile(filepath.Join(s.Dir, "authorized_keys"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(ssh.MarshalAuthorizedKey(pub))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockFile serializes installs and user creation across test processes
// (go test runs packages in parallel).
const lockFile = "/tmp/trainrun-sshtest.lock"

func locked(f func() error) error {
	lf, err := os.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return f()
}

func ensureInstalled() error {
	if _, err := os.Stat(sshd); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New(sshd + " is missing and installing it needs root")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return errors.New(sshd + " is missing and there is no apt-get")
	}
	return locked(func() error {
		if _, err := os.Stat(sshd); err == nil {
			return nil
		}
		install := func() error {
			cmd := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-qq", "openssh-server")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("apt-get install openssh-server: %v: %s", err, lastLines(out, 5))
			}
			return nil
		}
		if install() == nil {
			return nil
		}
		if out, err := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-qq").CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %v: %s", err, lastLines(out, 5))
		}
		return install()
	})
}

// ensureUser creates the test user when it does not exist and returns its
// home directory.
func ensureUser() (string, error) {
	var home string
	err := locked(func() error {
		if u, err := user.Lookup(UserName); err == nil {
			home = u.HomeDir
			return nil
		}
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", UserName).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd: %v: %s", err, out)
		}
		// useradd leaves the account locked, which sshd refuses even for
		// key logins.
		if out, err := exec.Command("usermod", "-p", "*", UserName).CombinedOutput(); err != nil {
			return fmt.Errorf("usermod: %v: %s", err, out)
		}
		u, err := user.Lookup(UserName)
		if err != nil {
			return err
		}
		home = u.HomeDir
		return nil
	})
	return home, err
}

// setPassword gives the test user Password (idempotent).
func setPassword() error {
	return locked(func() error {
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(UserName + ":" + Password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("chpasswd: %v: %s", err, out)
		}
		return nil
	})
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
