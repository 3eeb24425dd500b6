package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/trainrun/trainrun/internal/pgtest"
)

// Two checkouts of one project, on one machine, record their runs in one
// PostgreSQL database (backend "postgres"): what one applies, the other
// sees as up to date and does not run again; status, runs and show answer
// alike in both.
func TestTeamTwoCheckouts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	srv := pgtest.Start(t)
	defer srv.Stop()
	conn := srv.NewDatabase(t)
	ran := filepath.Join(t.TempDir(), "ran")
	config := `trainrun {
  backend "postgres" {
    conn_str = "` + conn + `"
    project  = "vision"
  }
}
compute "local" "here" {}
experiment "train" {
  compute = compute.here
  shell   = "echo trained >> ` + ran + ` && echo log of lr=${param.lr}"
  sweep {
    grid = { lr = [0.1, 0.2] }
  }
}
`
	a := newProject(t, map[string]string{"trainrun.hcl": config})
	b := newProject(t, map[string]string{"trainrun.hcl": config})
	a.must(0, nil, "apply", "-auto-approve")
	for name, p := range map[string]*project{"a": a, "b": b} {
		st := p.status(nil)
		if len(st) != 2 {
			t.Fatalf("checkout %s: status: %+v", name, st)
		}
		for _, s := range st {
			if s.Status != "succeeded" {
				t.Fatalf("checkout %s: status: %+v", name, st)
			}
		}
	}
	// b plans nothing: a's runs are its runs.
	b.must(0, nil, "apply", "-auto-approve")
	if n := lineCount(t, ran); n != 2 {
		t.Fatalf("%d runs for 2 instances", n)
	}
	if ra, rb := a.must(0, nil, "runs").stdout, b.must(0, nil, "runs").stdout; ra != rb {
		t.Fatalf("runs differ:\n%s\n%s", ra, rb)
	}
	// Each run says who created it, where: in either checkout.
	by := starterForTest(t)
	if res := b.must(0, nil, "show", `experiment.train["lr=0.1"]`); !strings.Contains(res.stdout, "created by:  "+by+"\n") {
		t.Fatalf("show does not say the run was created by %s:\n%s", by, res.stdout)
	}
	if res := b.must(0, nil, "runs", "-json"); strings.Count(res.stdout, `"user": `) != 2 || strings.Count(res.stdout, `"host": `) != 2 {
		t.Fatalf("runs -json does not give user and host:\n%s", res.stdout)
	}
	// Nothing was recorded locally.
	if _, err := os.Stat(a.path(".trainrun/state.json")); err == nil {
		t.Fatal("the postgres backend wrote a local state")
	}
	// The other checkout reads a finished run's log from the backend,
	// even when the checkout that ran it is on another machine (its
	// results directory out of reach).
	if err := os.RemoveAll(a.path(".trainrun/runs")); err != nil {
		t.Fatal(err)
	}
	if res := b.must(0, nil, "logs", `experiment.train["lr=0.2"]`); res.stdout != "log of lr=0.2\n" {
		t.Fatalf("logs from the other checkout: %s", res)
	}
}

// A backend block may not refer to variables.
func TestBackendNoVariables(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": `variable "pw" {
  default = "x"
}
trainrun {
  backend "postgres" {
    conn_str = "postgres://u:${var.pw}@127.0.0.1:1/db"
  }
}
`})
	res := p.must(1, nil, "status")
	if !strings.Contains(res.stderr, "trainrun.hcl:6") || !strings.Contains(res.stderr, "Variables not allowed") {
		t.Fatalf("%s", res)
	}
}

// An unreachable database: the error names host and port, never the
// password, and nothing runs.
func TestBackendUnreachable(t *testing.T) {
	marker := t.TempDir() + "/ran"
	p := newProject(t, map[string]string{"trainrun.hcl": `trainrun {
  backend "postgres" {
    conn_str = "postgres://u:sekrit-pw@127.0.0.1:1/db?connect_timeout=5"
  }
}
compute "local" "here" {}
experiment "x" {
  compute = compute.here
  shell   = "touch ` + marker + `"
}
`})
	res := p.must(1, nil, "apply", "-auto-approve")
	if !strings.Contains(res.stderr, "127.0.0.1:1") || strings.Contains(res.stdout+res.stderr, "sekrit") {
		t.Fatalf("%s", res)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a run started without its state")
	}
}

// state migrate copies a checkout's local runs into the database, once:
// the second time it copies nothing, and the runs are up to date there.
func TestStateMigrate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	srv := pgtest.Start(t)
	defer srv.Stop()
	conn := srv.NewDatabase(t)
	ran := filepath.Join(t.TempDir(), "ran")
	experiments := `compute "local" "here" {}
experiment "train" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", "` + ran + `", param.lr]
  sweep {
    grid = { lr = [0.1, 0.2] }
  }
}
`
	// The backend block is in a file of its own, outside source_dir: adding
	// it changes no fingerprint.
	p := newProject(t, map[string]string{"trainrun.hcl": experiments, "src/run.sh": `echo "$2" >> "$1"; echo "lr $2"`})
	p.must(0, nil, "apply", "-auto-approve")
	p.write("backend.trainrun.hcl", `trainrun {
  backend "postgres" {
    conn_str = "`+conn+`"
  }
}
`)
	if st := p.status(nil); len(st) != 0 {
		t.Fatalf("the database has runs before migrate: %+v", st)
	}
	if res := p.must(0, nil, "state", "migrate"); !strings.Contains(res.stdout, "Copied 2 runs into the backend (0 runs there already)") {
		t.Fatalf("%s", res)
	}
	if res := p.must(0, nil, "state", "migrate"); !strings.Contains(res.stdout, "Copied 0 runs into the backend (2 runs there already)") {
		t.Fatalf("%s", res)
	}
	if st := p.status(nil); len(st) != 2 || st[0].Status != "succeeded" {
		t.Fatalf("status after migrate: %+v", st)
	}
	// The logs are in the database too: read there without the
	// checkout's results.
	if err := os.Rename(p.path(".trainrun/runs"), p.path("runs-aside")); err != nil {
		t.Fatal(err)
	}
	if res := p.must(0, nil, "logs", `experiment.train["lr=0.2"]`); res.stdout != "lr 0.2\n" {
		t.Fatalf("logs of a migrated run: %s", res)
	}
	if err := os.Rename(p.path("runs-aside"), p.path(".trainrun/runs")); err != nil {
		t.Fatal(err)
	}
	if res := p.must(0, nil, "plan"); !strings.Contains(res.stdout, "No changes") {
		t.Fatalf("%s", res)
	}
	p.must(0, nil, "apply", "-auto-approve")
	if n := lineCount(t, ran); n != 2 {
		t.Fatalf("%d runs for 2 instances after migrate and apply", n)
	}
}

// pgConfig is holdConfig recorded in PostgreSQL: three instances on a
// compute of two slots, each waiting for go.txt.
func pgConfig(conn string) string {
	return `trainrun {
  backend "postgres" {
    conn_str = "` + conn + `"
    project  = "vision"
  }
}
compute "local" "here" {
  max_runs = 2
}
experiment "hold" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root]
  sweep {
    grid = { n = [1, 2, 3] }
  }
}
`
}

// TestTeamDatabaseRestart restarts PostgreSQL under two applies of the same
// instances, one running two of them and queueing the third, the other
// waiting on its claims: the live runs keep running, both applies
// reconnect and end well, every run is recorded as succeeded, and each
// instance ran once.
func TestTeamDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	srv := pgtest.Start(t)
	defer srv.Stop()
	conn := srv.NewDatabase(t)
	p := newProject(t, map[string]string{"trainrun.hcl": pgConfig(conn), "src/hold.sh": holdRun})
	start := func() *applyProc {
		a := startApply(t, p, "-lock-timeout=2m")
		t.Cleanup(func() {
			p.write("go.txt", "")
			a.end(time.Minute)
		})
		return a
	}
	first := start()
	if !waitFor(2*time.Minute, func() bool { return lineCount(t, p.path("counter.txt")) == 2 }) {
		t.Fatalf("the first apply did not start two runs:\n%s", first.out)
	}
	second := start()
	if !waitFor(2*time.Minute, func() bool { return strings.Contains(second.out.String(), "waits on another apply") }) {
		t.Fatalf("the second apply does not wait on the first:\n%s", second.out)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	p.write("go.txt", "")
	for name, a := range map[string]*applyProc{"first": first, "second": second} {
		if err := a.end(3 * time.Minute); err != nil {
			t.Errorf("%s apply: %v\n%s", name, err, a.out)
		}
	}
	t.Logf("first:\n%s\nsecond:\n%s", first.out, second.out)
	if n := lineCount(t, p.path("counter.txt")); n != 3 {
		t.Errorf("%d runs of 3 instances; want each once", n)
	}
	st := p.status(nil)
	if len(st) != 3 {
		t.Fatalf("status: %+v", st)
	}
	for _, s := range st {
		if s.Status != "succeeded" {
			t.Errorf("status: %+v", st)
		}
	}
	if n := strings.Count(p.must(0, nil, "runs", "-json").stdout, `"id":`); n != 3 {
		t.Errorf("%d runs recorded; want 3", n)
	}
}

// applyProc is trainrun apply running in the background.
type applyProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// startApply starts trainrun apply -auto-approve ARGS… in p.
func startApply(t *testing.T, p *project, args ...string) *applyProc {
	t.Helper()
	a := &applyProc{cmd: p.command(nil, append([]string{"apply", "-auto-approve"}, args...)...), out: new(syncBuffer), done: make(chan struct{})}
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.err = a.cmd.Wait(); close(a.done) }()
	return a
}

// end waits for the apply to end, at most d, and kills it then.
func (a *applyProc) end(d time.Duration) error {
	select {
	case <-a.done:
		return a.err
	case <-time.After(d):
		_ = a.cmd.Process.Kill()
		<-a.done
		return fmt.Errorf("did not end in %v", d)
	}
}

// starterForTest is user@host as trainrun records it for runs it creates.
func starterForTest(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username + "@" + h
}

// Runs recorded in a checkout's own state say who created them too.
func TestLocalRunsSayWho(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": `compute "local" "here" {}
experiment "x" {
  compute = compute.here
  shell   = "true"
}
`})
	p.must(0, nil, "apply", "-auto-approve")
	by := starterForTest(t)
	if res := p.must(0, nil, "show", "experiment.x"); !strings.Contains(res.stdout, "created by:  "+by+"\n") {
		t.Fatalf("show does not say the run was created by %s:\n%s", by, res.stdout)
	}
	if res := p.must(0, nil, "status", "-json"); !strings.Contains(res.stdout, `"user": `) || !strings.Contains(res.stdout, `"host": `) {
		t.Fatalf("status -json does not give user and host:\n%s", res.stdout)
	}
}

// TestTeamSharedSlots: a compute's max_runs binds the applies of every
// checkout of the project (claims in the database), as it would those of
// teammates on other machines: while one checkout's run holds the only
// slot, the other checkout's apply starts nothing, and it starts its run
// once that slot is free.
func TestTeamSharedSlots(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	srv := pgtest.Start(t)
	defer srv.Stop()
	config := `trainrun {
  backend "postgres" {
    conn_str = "` + srv.NewDatabase(t) + `"
    project  = "vision"
  }
}
compute "local" "here" {
  max_runs = 1
}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root]
}
experiment "b" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "hold.sh", path.root]
}
`
	files := map[string]string{"trainrun.hcl": config, "src/hold.sh": holdRun}
	a, b := newProject(t, files), newProject(t, files)
	b.write("go.txt", "") // b's run ends as soon as it starts
	first := startApply(t, a, "-target", "experiment.a")
	defer func() {
		a.write("go.txt", "")
		first.end(time.Minute)
	}()
	if !waitFor(2*time.Minute, func() bool { return lineCount(t, a.path("counter.txt")) == 1 }) {
		t.Fatalf("checkout a started no run:\n%s", first.out)
	}
	second := startApply(t, b, "-target", "experiment.b")
	if !waitFor(2*time.Minute, func() bool { return strings.Contains(second.out.String(), "Plan:") }) {
		t.Fatalf("checkout b did not plan:\n%s", second.out)
	}
	if waitFor(3*time.Second, func() bool { return lineCount(t, b.path("counter.txt")) > 0 }) {
		t.Fatalf("checkout b started a run while checkout a held the compute's only slot:\n%s", second.out)
	}
	a.write("go.txt", "")
	for name, p := range map[string]*applyProc{"a": first, "b": second} {
		if err := p.end(3 * time.Minute); err != nil {
			t.Fatalf("checkout %s: %v\n%s", name, err, p.out)
		}
	}
	if n := lineCount(t, b.path("counter.txt")); n != 1 {
		t.Fatalf("checkout b ran %d times:\n%s", n, second.out)
	}
}

// A database whose tables a newer trainrun wrote is refused by every
// command, naming the schema version it needs; nothing runs.
func TestBackendNewerSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	srv := pgtest.Start(t)
	defer srv.Stop()
	conn := srv.NewDatabase(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, `CREATE TABLE trainrun_schema (version integer NOT NULL); INSERT INTO trainrun_schema VALUES (99)`)
	c.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	p := newProject(t, map[string]string{"trainrun.hcl": `trainrun {
  backend "postgres" {
    conn_str = "` + conn + `"
  }
}
compute "local" "here" {}
experiment "x" {
  compute = compute.here
  shell   = "touch ` + marker + `"
}
`})
	for _, args := range [][]string{{"apply", "-auto-approve"}, {"status"}} {
		res := p.must(1, nil, args...)
		if !strings.Contains(res.stderr, "schema version 99") || !strings.Contains(res.stderr, "upgrade trainrun") {
			t.Fatalf("%s", res)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a run started on a database of a newer schema")
	}
}
