package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/sshtest"
)

// server starts an sshd for the test, stopped at cleanup.
func server(t *testing.T, o sshtest.Options) *sshtest.Server {
	t.Helper()
	s := sshtest.Start(t, o)
	t.Cleanup(s.Stop)
	return s
}

// target reaches s with its key and known_hosts line.
func target(s *sshtest.Server) *Target {
	return &Target{Host: s.Addr, Port: s.Port, User: s.User, KeyFiles: []string{s.KeyFile},
		KnownHostsFiles: []string{s.KnownHostsFile}, ConnectTimeout: 10 * time.Second}
}

// testExecutor returns an executor on s whose blob cache and scratch
// directory (returned) are the test's own, removed at cleanup.
func testExecutor(t *testing.T, s *sshtest.Server) (*Executor, string) {
	t.Helper()
	conn := NewConn(target(s), ConnOptions{})
	dir := path.Join(s.Home, "t-"+randHex())
	e := NewExecutor(conn, ExecutorOptions{BlobCache: dir + "/blobs"})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.RemoveAll(ctx, dir)
		conn.Close()
	})
	return e, dir
}

func randHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
