package ssh

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/trainrun/trainrun/internal/sshtest"
)

func TestHostKeysAreAlwaysVerified(t *testing.T) {
	s := server(t, sshtest.Options{})
	other := t.TempDir()
	otherKey, err := sshtest.NewKey(filepath.Join(other, "k"))
	if err != nil {
		t.Fatal(err)
	}
	wrongLine := "[" + s.Addr + "]:" + strconv.Itoa(s.Port) + " " + string(ssh.MarshalAuthorizedKey(otherKey))
	wrongFile := filepath.Join(other, "known_hosts_wrong")
	os.WriteFile(wrongFile, []byte(wrongLine), 0o644)
	// A known_hosts file that knows another host only.
	unrelated := filepath.Join(other, "known_hosts_unrelated")
	os.WriteFile(unrelated, []byte("example.org "+string(ssh.MarshalAuthorizedKey(s.HostKey))), 0o644)

	for _, tc := range []struct {
		name   string
		modify func(*Target)
		want   []string // in the message; nil: connects
	}{
		{"known", func(*Target) {}, nil},
		{"unknown", func(t *Target) { t.KnownHostsFiles = []string{unrelated} },
			[]string{"not a known host", "ssh-keyscan -p " + strconv.Itoa(s.Port) + " 127.0.0.1 >> " + unrelated, s.Fingerprint, "Nothing was run"}},
		{"no file", func(t *Target) { t.KnownHostsFiles = []string{filepath.Join(other, "none")} },
			[]string{"not a known host", "ssh-keyscan -p"}},
		{"changed", func(t *Target) { t.KnownHostsFiles = []string{wrongFile} },
			[]string{"CHANGED", "man-in-the-middle", ssh.FingerprintSHA256(otherKey), s.Fingerprint, "ssh-keygen -R"}},
		{"fingerprint", func(t *Target) { t.KnownHostsFiles = nil; t.HostKey = s.Fingerprint }, nil},
		{"wrong fingerprint", func(t *Target) { t.HostKey = ssh.FingerprintSHA256(otherKey) },
			[]string{"host_key is " + ssh.FingerprintSHA256(otherKey), s.Fingerprint}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := target(s)
			tc.modify(tg)
			c := NewConn(tg, ConnOptions{})
			defer c.Close()
			e := NewExecutor(c, ExecutorOptions{})
			_, err := e.Run(ctxT(t), []string{"touch", "ran"}, nil)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var hk *HostKeyError
			if !errors.As(err, &hk) {
				t.Fatalf("err = %v, want a HostKeyError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
		})
	}
	// Nothing ran for the failing cases: only the two that connected
	// logged in.
	if n := strings.Count(s.Log(), "Accepted publickey"); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}
	if _, err := os.Stat(filepath.Join(s.Home, "ran")); err == nil {
		os.Remove(filepath.Join(s.Home, "ran"))
	}
}

func TestAuthentication(t *testing.T) {
	s := server(t, sshtest.Options{})
	dir := t.TempDir()
	enc := filepath.Join(dir, "enc")
	pub, err := sshtest.NewEncryptedKey(enc, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(pub); err != nil {
		t.Fatal(err)
	}
	stranger := filepath.Join(dir, "stranger")
	if _, err := sshtest.NewKey(stranger); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		modify func(*Target)
		want   string // "" connects
	}{
		{"encrypted key with passphrase", func(t *Target) { t.KeyFiles = []string{enc}; t.Passphrase = "correct horse" }, ""},
		{"encrypted key without passphrase", func(t *Target) { t.KeyFiles = []string{enc} }, "is encrypted: give its passphrase"},
		{"wrong passphrase", func(t *Target) { t.KeyFiles = []string{enc}; t.Passphrase = "battery staple" }, "cannot decrypt"},
		{"key not authorized", func(t *Target) { t.KeyFiles = []string{stranger} }, "accepted none of the credentials"},
		{"missing key file", func(t *Target) { t.KeyFiles = []string{filepath.Join(dir, "nope")} }, "does not exist"},
		{"optional keys skipped", func(t *Target) {
			t.KeyFiles = nil
			t.OptionalKeyFiles = []string{filepath.Join(dir, "nope"), enc, s.KeyFile}
		}, ""},
		{"nothing to log in with", func(t *Target) { t.KeyFiles = nil }, "no way to log in"},
		{"wrong password", func(t *Target) { t.KeyFiles = nil; t.Password = "hunter2" }, "accepted none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := target(s)
			tc.modify(tg)
			c := NewConn(tg, ConnOptions{})
			defer c.Close()
			_, err := NewExecutor(c, ExecutorOptions{}).Home(ctxT(t))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			for _, secret := range []string{"correct horse", "battery staple", "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestJumpHost(t *testing.T) {
	bastion := server(t, sshtest.Options{})
	inner := server(t, sshtest.Options{Addr: "127.0.0.2", KeyFile: bastion.KeyFile})
	tg := target(inner)
	tg.KnownHostsFiles = []string{inner.KnownHostsFile}
	tg.Jump = target(bastion)
	c := NewConn(tg, ConnOptions{})
	defer c.Close()
	e := NewExecutor(c, ExecutorOptions{})
	out, err := e.Run(ctxT(t), []string{"sh", "-c", "echo $SSH_CONNECTION"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The inner machine saw the connection come from the bastion's sshd,
	// which logged the forwarding.
	if !strings.Contains(string(out), "127.0.0.2 "+strconv.Itoa(inner.Port)) {
		t.Fatalf("SSH_CONNECTION = %q", out)
	}
	if !strings.Contains(bastion.Log(), "127.0.0.2 port "+strconv.Itoa(inner.Port)) {
		t.Fatalf("the bastion did not forward:\n%s", bastion.Log())
	}
	// The inner host key is verified too.
	bad := target(inner)
	bad.KnownHostsFiles = []string{bastion.KnownHostsFile}
	bad.Jump = target(bastion)
	c2 := NewConn(bad, ConnOptions{})
	defer c2.Close()
	if _, err := NewExecutor(c2, ExecutorOptions{}).Home(ctxT(t)); err == nil || !strings.Contains(err.Error(), "not a known host") {
		t.Fatalf("unknown inner host through a jump: %v", err)
	}
}

func TestPasswordLogin(t *testing.T) {
	s := server(t, sshtest.Options{Password: true})
	for _, tc := range []struct {
		pw   string
		want string
	}{{sshtest.Password, ""}, {"not-the-password", "accepted none"}} {
		tg := target(s)
		tg.KeyFiles, tg.Password = nil, tc.pw
		c := NewConn(tg, ConnOptions{})
		home, err := NewExecutor(c, ExecutorOptions{}).Home(ctxT(t))
		c.Close()
		switch {
		case tc.want == "" && (err != nil || home != s.Home):
			t.Errorf("password login: %q, %v", home, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.pw)):
			t.Errorf("wrong password: %v", err)
		}
	}
	if !strings.Contains(s.Log(), "Accepted password for "+s.User) {
		t.Fatalf("no password login in the log:\n%s", s.Log())
	}
}
