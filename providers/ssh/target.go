package ssh

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/trainrun/trainrun/providers/executor"
)

// Target says how to reach one machine.
type Target struct {
	Host string // the name or address to connect to (ssh_config's HostName)
	Port int    // 0 means 22
	User string
	// Alias is the name the configuration used, when it differs from Host
	// (a Host section of ~/.ssh/config); only for messages.
	Alias string

	// KeyFiles are private keys that must work: one that cannot be read
	// or decrypted is an error.
	KeyFiles []string
	// OptionalKeyFiles are tried when they can be read (IdentityFile from
	// ~/.ssh/config, ~/.ssh/id_*); the others are skipped.
	OptionalKeyFiles []string
	Passphrase       string // decrypts encrypted keys
	Password         string
	Agent            string // the SSH agent's socket (SSH_AUTH_SOCK); "" for none

	// KnownHostsFiles are where the host key is looked up; files that do
	// not exist are skipped. HostKey, when set ("SHA256:…"), is the only
	// key accepted and the files are not read.
	KnownHostsFiles []string
	HostKey         string

	Jump           *Target       // a machine to go through (ProxyJump)
	ConnectTimeout time.Duration // default 15 s

	jumpCompute string // jump = compute.NAME, until resolved
}

func (t *Target) port() int {
	if t.Port == 0 {
		return 22
	}
	return t.Port
}

// Addr is HOST:PORT.
func (t *Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.port())) }

// String names the target for messages: USER@HOST:PORT, and the jump.
func (t *Target) String() string {
	s := t.User + "@" + t.Addr()
	if t.Alias != "" && t.Alias != t.Host {
		s = t.Alias + " (" + s + ")"
	}
	if t.Jump != nil {
		s += " via " + t.Jump.String()
	}
	return s
}

// key identifies a connection: two targets with the same key share one.
// Secrets enter it hashed.
func (t *Target) key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%q\x00%q\x00%s\x00%s\x00%q\x00%s\x00", t.User, t.Host, t.port(), t.KeyFiles,
		t.OptionalKeyFiles, t.Passphrase, t.Password, t.KnownHostsFiles, t.HostKey)
	fmt.Fprintf(h, "%s", t.Agent)
	if t.Jump != nil {
		fmt.Fprintf(h, "\x00jump\x00%s", t.Jump.key())
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (t *Target) timeout() time.Duration {
	if t.ConnectTimeout <= 0 {
		return 15 * time.Second
	}
	return t.ConnectTimeout
}

// AuthError says no credential was accepted, or one could not be used.
type AuthError struct {
	Target string
	Err    error
}

func (e *AuthError) Error() string { return fmt.Sprintf("ssh %s: %v", e.Target, e.Err) }
func (e *AuthError) Unwrap() error { return e.Err }

// authMethods returns the ways to log in, in order: the key files that
// must work, the agent's keys, the optional key files, then the password.
// The closer releases the agent connection.
func (t *Target) authMethods() ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	for _, f := range t.KeyFiles {
		s, err := loadKey(f, t.Passphrase)
		if err != nil {
			return nil, nil, &AuthError{Target: t.String(), Err: err}
		}
		signers = append(signers, s)
	}
	closer := func() {}
	if t.Agent != "" {
		if c, err := net.DialTimeout("unix", t.Agent, 5*time.Second); err == nil {
			if as, err := agent.NewClient(c).Signers(); err == nil {
				signers = append(signers, as...)
			}
			closer = func() { c.Close() }
		}
	}
	for _, f := range t.OptionalKeyFiles {
		if s, err := loadKey(f, t.Passphrase); err == nil {
			signers = append(signers, s)
		}
	}
	var methods []ssh.AuthMethod
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if t.Password != "" {
		pw := t.Password
		methods = append(methods, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range questions {
				answers[i] = pw
			}
			return answers, nil
		}))
	}
	if len(methods) == 0 {
		closer()
		return nil, nil, &AuthError{Target: t.String(), Err: errors.New("no way to log in: set private_key_file, run an SSH agent (SSH_AUTH_SOCK), add an IdentityFile to ~/.ssh/config, or set password")}
	}
	return methods, closer, nil
}

// loadKey reads a private key file, decrypting it with passphrase when it
// is encrypted. Errors never include the passphrase.
func loadKey(file, passphrase string) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("private key %s does not exist", file)
		}
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == "" {
			return nil, fmt.Errorf("private key %s is encrypted: give its passphrase with passphrase = var.NAME (a variable declared sensitive)", file)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(b, []byte(passphrase))
		if err != nil {
			return nil, fmt.Errorf("private key %s: cannot decrypt it with the passphrase given", file)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %v", file, err)
	}
	return s, nil
}

// HostKeyError says a machine's host key could not be verified. Nothing
// was sent to the machine.
type HostKeyError struct {
	Host    string // as in known_hosts: host or [host]:port
	Port    int
	Name    string // the host name as connected to
	Offered ssh.PublicKey
	// Unknown: no key is recorded for the host. Otherwise the recorded
	// keys (Want, "file:line: fingerprint") do not include the one offered.
	Unknown  bool
	Want     []string
	Files    []string // the known_hosts files looked in
	Explicit string   // the host_key fingerprint configured, if any
	noFiles  bool     // none of Files exists
}

func (e *HostKeyError) Error() string {
	offered := ssh.FingerprintSHA256(e.Offered)
	keyType := strings.TrimPrefix(e.Offered.Type(), "ssh-")
	file := "~/.ssh/known_hosts"
	if len(e.Files) > 0 {
		file = executor.Quote(e.Files[0])
	}
	scan := "ssh-keyscan "
	if e.Port != 22 {
		scan += "-p " + strconv.Itoa(e.Port) + " "
	}
	scan += executor.Quote(e.Name) + " >> " + file
	switch {
	case e.Explicit != "":
		return fmt.Sprintf("host key verification failed for %s: it offered the %s key %s, but host_key is %s. "+
			"Someone may be intercepting the connection, or the machine's key was replaced. Nothing was run on it. "+
			"If the new key is right, set host_key = %q.", e.Host, keyType, offered, e.Explicit, offered)
	case e.Unknown:
		looked := "no known_hosts file exists"
		if len(e.Files) > 0 && !e.noFiles {
			looked = "looked in " + strings.Join(e.Files, ", ")
		} else if len(e.Files) > 0 {
			looked = "no known_hosts file exists: looked for " + strings.Join(e.Files, ", ")
		}
		return fmt.Sprintf("host key verification failed: %s is not a known host (%s). Nothing was run on it. "+
			"It offered the %s key %s. Check that fingerprint with the machine's administrator, then add the host with\n"+
			"    %s\nor set host_key = %q on the compute.", e.Host, looked, keyType, offered, scan, offered)
	default:
		return fmt.Sprintf("host key verification failed: the host key of %s has CHANGED. It offered the %s key %s; "+
			"recorded: %s. Someone may be intercepting the connection (a man-in-the-middle attack), or the machine's key was replaced. "+
			"Nothing was run on it. If the change is expected, remove the old key with\n    ssh-keygen -R %s -f %s\nthen add the new one with\n    %s",
			e.Host, keyType, offered, strings.Join(e.Want, "; "), executor.Quote(e.Host), file, scan)
	}
}

// hostKeyCheck returns the callback that verifies the target's host key,
// and the host key algorithms to ask for: those of the keys recorded for
// the host, so that a server offering another kind of key first is not
// taken for a changed key.
func (t *Target) hostKeyCheck() (ssh.HostKeyCallback, []string, error) {
	hostPattern := knownhosts.Normalize(t.Addr())
	newErr := func(key ssh.PublicKey) *HostKeyError {
		return &HostKeyError{Host: hostPattern, Port: t.port(), Name: t.Host, Offered: key}
	}
	if t.HostKey != "" {
		want := t.HostKey
		return func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if ssh.FingerprintSHA256(key) == want {
				return nil
			}
			e := newErr(key)
			e.Explicit = want
			return e
		}, nil, nil
	}
	var files []string
	for _, f := range t.KnownHostsFiles {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return func(_ string, _ net.Addr, key ssh.PublicKey) error {
			e := newErr(key)
			e.Unknown, e.Files, e.noFiles = true, t.KnownHostsFiles, true
			return e
		}, nil, nil
	}
	db, err := knownhosts.New(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("read known hosts: %w", err)
	}
	check := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := db(hostname, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			e := newErr(key)
			e.Files = files
			e.Unknown = len(ke.Want) == 0
			for _, w := range ke.Want {
				e.Want = append(e.Want, fmt.Sprintf("%s:%d: %s", w.Filename, w.Line, ssh.FingerprintSHA256(w.Key)))
			}
			return e
		}
		var re *knownhosts.RevokedError
		if errors.As(err, &re) {
			return fmt.Errorf("host key verification failed: the key %s offered by %s is marked revoked in %s:%d; nothing was run on it",
				ssh.FingerprintSHA256(key), hostPattern, re.Revoked.Filename, re.Revoked.Line)
		}
		return err
	}
	return check, knownAlgorithms(db, t.Addr()), nil
}

// knownAlgorithms asks the known_hosts database which keys it holds for
// addr (by checking a key it cannot hold) and returns their algorithms.
func knownAlgorithms(db ssh.HostKeyCallback, addr string) []string {
	probe, err := ssh.NewPublicKey(make([]byte, 32)) // an ed25519 key of zeros: never a real one
	if err != nil {
		return nil
	}
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	var ke *knownhosts.KeyError
	if !errors.As(db(addr, remote, probe), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	for _, w := range ke.Want {
		switch typ := w.Key.Type(); typ {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(typ)
		}
	}
	return algos
}
