// Package pgtest starts a real PostgreSQL server for tests: Debian's
// postgresql package, initdb as the postgres user on a temporary directory,
// pg_ctl on a free loopback port. Each test that asks gets a database of
// its own on a server shared by the test binary.
//
// When no server can be had (not root, no postgresql package) the test is
// skipped with the reason, or fails when TRAINRUN_REQUIRE_INTEGRATION=1.
// scripts/test-deps.sh installs the package.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// T is what the helpers need of a test: *testing.T and testscript's T both
// have it.
type T interface {
	Skip(args ...any)
	Fatal(args ...any)
	Log(args ...any)
}

// Server is one running PostgreSQL server.
type Server struct {
	Dir  string // data directory, socket and log (removed by Stop)
	Port int
	bin  string
	cred *syscall.Credential
}

// unavailable skips, or fails under TRAINRUN_REQUIRE_INTEGRATION=1.
func unavailable(t T, format string, args ...any) {
	msg := "pgtest: " + fmt.Sprintf(format, args...)
	if os.Getenv("TRAINRUN_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg + " (TRAINRUN_REQUIRE_INTEGRATION=1)")
	}
	t.Skip(msg)
}

// binDir returns the newest installed PostgreSQL's bin directory.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a < b
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("no /usr/lib/postgresql/*/bin/initdb (install the postgresql package: scripts/test-deps.sh)")
}

// Start starts a server. The caller must Stop it.
func Start(t T) *Server {
	if tb, ok := t.(testing.TB); ok && testing.Short() {
		tb.Skip("pgtest: starts PostgreSQL: not with -short (make test runs it)")
	}
	s, err := start()
	if err != nil {
		unavailable(t, "%v", err)
		return nil
	}
	return s
}

func start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("initdb must run as the postgres user, which needs root")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("no postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := s.run("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var last error
	for range 3 { // a free port may be taken before the server binds it
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
		if last = s.startServer(); last == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, last
}

// Restart stops the server at once (open sessions are cut) and starts it
// again on the same port: a database that restarts under its clients.
func (s *Server) Restart() error {
	if out, err := s.run("pg_ctl", "-D", filepath.Join(s.Dir, "data"), "stop", "-m", "immediate", "-w", "-t", "300"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return s.startServer()
}

func (s *Server) startServer() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", s.Port, s.Dir)
	out, err := s.run("pg_ctl", "-D", filepath.Join(s.Dir, "data"), "-o", opts, "-l", filepath.Join(s.Dir, "log"), "start", "-w", "-t", "300")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server and removes its files.
func (s *Server) Stop() {
	if s == nil {
		return
	}
	s.run("pg_ctl", "-D", filepath.Join(s.Dir, "data"), "stop", "-m", "immediate", "-w", "-t", "300")
	os.RemoveAll(s.Dir)
}

// ConnString is the connection string of database db as the superuser.
func (s *Server) ConnString(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewDatabase creates an empty database with a random name and returns its
// connection string.
func (s *Server) NewDatabase(t T) string {
	b := make([]byte, 6)
	rand.Read(b)
	name := "t" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.ConnString("postgres"))
	if err != nil {
		t.Fatal(fmt.Sprintf("pgtest: connect: %v", err))
		return ""
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(fmt.Sprintf("pgtest: create database: %v", err))
		return ""
	}
	return s.ConnString(name)
}

// run runs the PostgreSQL program name as the postgres user.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
