package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
  shell   = "echo trained >> ` + ran + `"
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
	b.must(0, nil, "show", `experiment.train["lr=0.1"]`)
	// Nothing was recorded locally.
	if _, err := os.Stat(a.path(".trainrun/state.json")); err == nil {
		t.Fatal("the postgres backend wrote a local state")
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
	p := newProject(t, map[string]string{"trainrun.hcl": experiments, "src/run.sh": `echo "$2" >> "$1"`})
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
	if res := p.must(0, nil, "plan"); !strings.Contains(res.stdout, "No changes") {
		t.Fatalf("%s", res)
	}
	p.must(0, nil, "apply", "-auto-approve")
	if n := lineCount(t, ran); n != 2 {
		t.Fatalf("%d runs for 2 instances after migrate and apply", n)
	}
}
