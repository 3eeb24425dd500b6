package sshtest

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dial(t *testing.T, s *Server) *ssh.Client {
	t.Helper()
	b, err := os.ReadFile(s.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort(s.Addr, strconv.Itoa(s.Port)), &ssh.ClientConfig{
		User: s.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, s.Log())
	}
	return c
}

func TestServerLetsTheUserInAndDropsSessions(t *testing.T) {
	s := Start(t, Options{})
	defer s.Stop()
	c := dial(t, s)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("id -un; echo $HOME")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), UserName+"\n"+s.Home+"\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := s.KillSessions(); n != 1 {
		t.Fatalf("killed %d sessions, want 1", n)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection survived KillSessions")
	}
	// The listener is still there.
	c2 := dial(t, s)
	c2.Close()
	if !strings.Contains(s.Log(), "Accepted publickey for "+UserName) {
		t.Fatalf("log does not show the login:\n%s", s.Log())
	}
}

func TestStopRemovesEverything(t *testing.T) {
	s := Start(t, Options{})
	dir, port := s.Dir, s.Port
	s.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there: %v", dir, err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		c.Close()
		t.Fatalf("port %d still accepts connections", port)
	}
}
