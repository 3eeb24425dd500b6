package pgstate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"github.com/jackc/pgx/v5"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/pgtest"
	"github.com/trainrun/trainrun/state"
	"github.com/trainrun/trainrun/state/pgstate"
	"github.com/trainrun/trainrun/state/statetest"
)

// connStr is the test database's: the helper processes the suite starts
// get it in their location, "CONNSTR PROJECT".
var connStr string

var backend = statetest.Backend{
	New: func(t testing.TB) string { return connStr + " " + "p" + strings.ToLower(rand.Text()) },
	Open: func(loc string) (state.Backend, error) {
		conn, project, _ := strings.Cut(loc, " ")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		return pgstate.Open(ctx, conn, project)
	},
}

func TestMain(m *testing.M) { statetest.Main(m, backend) }

func TestConformance(t *testing.T) {
	s := pgtest.Start(t)
	defer s.Stop()
	connStr = s.NewDatabase(t)
	statetest.Run(t, backend)
}

// A database whose tables a newer trainrun wrote is refused, naming the
// version it needs; a wrong address is named by host and port, without
// the password.
func TestRefusals(t *testing.T) {
	s := pgtest.Start(t)
	defer s.Stop()
	conn := s.NewDatabase(t)
	ctx := context.Background()
	b, err := pgstate.Open(ctx, conn, "p")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `INSERT INTO trainrun_schema (version) VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	if _, err := pgstate.Open(ctx, conn, "p"); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("open of a newer schema: %v", err)
	}
	_, err = pgstate.Open(ctx, "postgres://u:sekrit@127.0.0.1:1/db?connect_timeout=5", "p")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("open of an unreachable database: %v", err)
	}
}

// TestServerRestart restarts PostgreSQL under a backend that holds a claim:
// its next operations dial again and succeed, and it holds the claim again
// (nobody else may take it), until it releases it.
func TestServerRestart(t *testing.T) {
	s := pgtest.Start(t)
	defer s.Stop()
	conn := s.NewDatabase(t)
	ctx := context.Background()
	a, err := pgstate.Open(ctx, conn, "p")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const addr = `experiment.train["i=1"]`
	c, err := a.Claim(ctx, addr, state.Holder{Command: "a"})
	if err != nil {
		t.Fatal(err)
	}
	run := &state.Run{ID: "r1", Address: addr, Experiment: "train", Status: "running", CreatedAt: time.Now()}
	if err := a.Put(run); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	// Another process, at once: the claim is a's.
	b, err := pgstate.Open(ctx, conn, "p")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	try := func() error {
		now, cancel := context.WithCancel(ctx)
		cancel()
		c, err := b.Claim(now, addr, state.Holder{Command: "b"})
		if err == nil {
			c.Release()
		}
		return err
	}
	if err := try(); err == nil {
		t.Fatal("another process claimed the instance right after the restart")
	}
	run.Status = "succeeded"
	if err := a.Put(run); err != nil {
		t.Fatalf("put after the restart: %v", err)
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := b.Latest(addr); got == nil || got.Status != "succeeded" {
		t.Fatalf("after the restart, the other process reads %+v", got)
	}
	if h, held, err := b.Claimant(addr); !held || err != nil || h.Command != "a" {
		t.Fatalf("claimant after the restart: %+v %v %v", h, held, err)
	}
	select {
	case <-c.Lost():
		t.Fatal("the claim was lost though nobody else took it")
	default:
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if err := try(); err != nil {
		t.Fatalf("claim once released: %v", err)
	}
}

// A kept log comes back byte for byte (NULs and invalid UTF-8 included),
// and only its end is kept when it is longer than state.MaxKeptLog.
func TestLogs(t *testing.T) {
	s := pgtest.Start(t)
	defer s.Stop()
	b, err := pgstate.Open(context.Background(), s.NewDatabase(t), "p")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Log("r1"); !errors.Is(err, state.ErrNotFound) || !strings.Contains(err.Error(), "it is in that checkout's .trainrun/runs/r1/log") {
		t.Fatalf("log of a run without one: %v", err)
	}
	small := []byte("line\x00\xff\n")
	big := append(bytes.Repeat([]byte("x"), state.MaxKeptLog), "end\n"...)
	for id, log := range map[string][]byte{"r1": small, "r2": big} {
		if err := b.PutLog(id, log); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := b.Log("r1"); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("log r1: %q, %v", got, err)
	}
	if got, err := b.Log("r2"); err != nil || len(got) != state.MaxKeptLog || !bytes.HasSuffix(got, []byte("end\n")) {
		t.Fatalf("log r2: %d bytes, %v", len(got), err)
	}
}
