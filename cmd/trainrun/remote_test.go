package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/trainrun/trainrun/internal/pgtest"
	"github.com/trainrun/trainrun/internal/sshtest"
	"github.com/trainrun/trainrun/snapshot"
)

// teamRemote is one remote under test: its block in the trainrun block,
// the environment the commands need, and a way to write an object on it
// behind trainrun's back (to corrupt a blob, and mend it).
type teamRemote struct {
	block string
	env   []string
	write func(t *testing.T, key string, data []byte)
	// secret must appear in no output and no file of either checkout.
	secret string
}

// TestTeamRemoteDir: two checkouts, one PostgreSQL, one shared directory.
func TestTeamRemoteDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "shared", "store")
	testTeamRemote(t, teamRemote{
		block: `remote "dir" {
    path = "` + root + `"
  }`,
		write: func(t *testing.T, key string, data []byte) {
			p := filepath.Join(root, filepath.FromSlash(key))
			os.Remove(p)
			if err := os.WriteFile(p, data, 0o444); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestTeamRemoteSSH: two checkouts, one PostgreSQL, one directory on an
// SSH server (a real sshd on loopback), reached as compute "ssh" reaches
// machines.
func TestTeamRemoteSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd and PostgreSQL")
	}
	s := sshServer(t, sshtest.Options{})
	name := remoteDir(t, s)
	testTeamRemote(t, teamRemote{
		block: fmt.Sprintf(`remote "ssh" {
    host             = %q
    port             = %d
    user             = %q
    private_key_file = %q
    known_hosts_file = %q
    path             = "~/%s/store"
  }`, s.Addr, s.Port, s.User, s.KeyFile, s.KnownHostsFile, name),
		write: func(t *testing.T, key string, data []byte) {
			p := filepath.Join(s.Home, name, "store", filepath.FromSlash(key))
			os.Remove(p)
			if err := os.WriteFile(p, data, 0o444); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestTeamRemoteS3: two checkouts, one PostgreSQL, one bucket of a real
// S3-protocol server (gofakes3) listening on a loopback port; credentials
// from the AWS_* variables, never shown or stored.
func TestTeamRemoteS3(t *testing.T) {
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	if err := backend.CreateBucket("team"); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-never-shown"
	client, err := minio.New(strings.TrimPrefix(srv.URL, "http://"), &minio.Options{Creds: credentials.NewStaticV4("trainrun-test", secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	testTeamRemote(t, teamRemote{
		block: `remote "s3" {
    bucket   = "team"
    prefix   = "vision"
    endpoint = "` + srv.URL + `"
    region   = "us-east-1"
  }`,
		env:    []string{"AWS_ACCESS_KEY_ID=trainrun-test", "AWS_SECRET_ACCESS_KEY=" + secret},
		secret: secret,
		write: func(t *testing.T, key string, data []byte) {
			if _, err := client.PutObject(context.Background(), "team", "vision/"+key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// testTeamRemote runs the team scenario: checkout A runs a pipeline, then
// its .trainrun is removed; checkout B, which never ran anything, shares
// A's PostgreSQL and remote and gets everything from them: outputs,
// checkout and rerun of A's runs, a blob corrupted on the remote refused,
// A's result through the run cache, and A's upstream outputs as inputs of
// a run of its own.
func testTeamRemote(t *testing.T, rem teamRemote) {
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
  ` + rem.block + `
}
variable "v" {
  type    = string
  default = "1"
}
compute "local" "here" {}
experiment "prep" {
  compute    = compute.here
  source_dir = "prep"
  shell      = "echo prep >> ` + ran + ` && cp data.txt \"$TRAINRUN_OUTPUTS_DIR/data.txt\""
}
experiment "train" {
  compute    = compute.here
  source_dir = "train"
  inputs     = { data = experiment.prep.outputs }
  params     = { v = var.v }
  command    = ["sh", "train.sh", "` + ran + `"]
}
`
	files := map[string]string{
		"trainrun.hcl":  config,
		"prep/data.txt": "the team's data\n",
		"train/train.sh": `echo "train $TRAINRUN_PARAM_V" >> "$1"
{ cat "$TRAINRUN_INPUT_DATA/data.txt"; echo "model v=$TRAINRUN_PARAM_V"; } > "$TRAINRUN_OUTPUTS_DIR/model.txt"
`,
	}
	a := newProject(t, files)
	b := newProject(t, files)
	a.env = append(a.env, rem.env...)
	b.env = append(b.env, rem.env...)
	var said []string // what the commands printed
	defer func() {
		if rem.secret == "" || t.Failed() {
			return
		}
		for _, out := range said {
			if strings.Contains(out, rem.secret) {
				t.Errorf("a command printed the secret:\n%s", out)
			}
		}
		for _, p := range []*project{a, b} {
			filepath.WalkDir(p.path(".trainrun"), func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					if data, _ := os.ReadFile(path); bytes.Contains(data, []byte(rem.secret)) {
						t.Errorf("%s holds the secret", path)
					}
				}
				return nil
			})
		}
	}()
	must := func(p *project, code int, args ...string) result {
		t.Helper()
		res := p.must(code, nil, args...)
		said = append(said, res.stdout+res.stderr)
		return res
	}

	must(a, 0, "apply", "-auto-approve", "-var", "v=1")
	train1 := latestID(t, a, "experiment.train")
	must(a, 0, "apply", "-auto-approve", "-var", "v=2")
	train2 := latestID(t, a, "experiment.train")
	prep := latestID(t, a, "experiment.prep")
	if n := lineCount(t, ran); n != 3 {
		t.Fatalf("%d runs, want 3 (prep, train 1, train 2)", n)
	}
	// Nothing of A's is on this machine any more but the remote and the
	// database.
	_ = snapshot.SetReadOnly(a.dir, false)
	if err := os.RemoveAll(a.path(".trainrun")); err != nil {
		t.Fatal(err)
	}

	// A blob corrupted on the remote is refused, nothing is written, and
	// the store does not keep it.
	model2 := "the team's data\nmodel v=2\n"
	key := blobKey(model2)
	rem.write(t, key, []byte("the team's data\nmodel v=666\n"))
	res := must(b, 1, "outputs", train2, "out2")
	if !strings.Contains(res.stderr, "arrived corrupted") {
		t.Fatalf("corrupted blob: %s", res)
	}
	if _, err := os.Stat(b.path("out2/model.txt")); err == nil {
		t.Fatal("a corrupted blob was written out")
	}
	rem.write(t, key, []byte(model2))

	// outputs and checkout of A's runs.
	must(b, 0, "outputs", train2, "out2")
	if got := readFile(t, b.path("out2/model.txt")); got != model2 {
		t.Fatalf("outputs: model.txt = %q", got)
	}
	must(b, 0, "checkout", train1, "co")
	if got := readFile(t, b.path("co/train.sh")); got != files["train/train.sh"] {
		t.Fatalf("checkout: train.sh = %q", got)
	}

	// The run cache: v=1 is A's first train run, restored, not run.
	res = must(b, 0, "apply", "-auto-approve", "-var", "v=1")
	if !strings.Contains(res.stdout, "1 restored") {
		t.Fatalf("the run cache did not restore A's run: %s", res)
	}
	if n := lineCount(t, ran); n != 3 {
		t.Fatalf("%d runs after a cached apply, want 3", n)
	}
	restored := latestID(t, b, "experiment.train")
	if got := readFile(t, b.path(".trainrun/runs/"+restored+"/outputs/model.txt")); got != "the team's data\nmodel v=1\n" {
		t.Fatalf("restored outputs: model.txt = %q", got)
	}

	// A new train run reads A's prep outputs, which B never had.
	must(b, 0, "apply", "-auto-approve", "-var", "v=3")
	if n := lineCount(t, ran); n != 4 {
		t.Fatalf("%d runs, want 4 (train 3 added)", n)
	}
	train3 := latestID(t, b, "experiment.train")
	if got := readFile(t, b.path(".trainrun/runs/"+train3+"/outputs/model.txt")); got != "the team's data\nmodel v=3\n" {
		t.Fatalf("B's run given A's upstream outputs: model.txt = %q", got)
	}

	// rerun of A's prep run: its snapshot from the remote.
	res = must(b, 0, "rerun", prep)
	if !strings.Contains(res.stdout, "Outputs identical") {
		t.Fatalf("rerun: %s", res)
	}

	// B's runs went to the remote too: A, with nothing of its own, has
	// their outputs.
	must(a, 0, "outputs", train3, "out3")
	if got := readFile(t, a.path("out3/model.txt")); got != "the team's data\nmodel v=3\n" {
		t.Fatalf("A: outputs of B's run: model.txt = %q", got)
	}
}

// latestID is the ID of addr's current run in p.
func latestID(t *testing.T, p *project, addr string) string {
	t.Helper()
	for _, s := range p.status(nil) {
		if s.Address == addr {
			return s.ID
		}
	}
	t.Fatalf("no run of %s", addr)
	return ""
}

func blobKey(content string) string {
	sum := sha256.Sum256([]byte(content))
	return snapshot.BlobKey(hex.EncodeToString(sum[:]))
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestTeamRemoteReattach: an apply killed while its run goes on never
// pushes the run's snapshot; the teammate's apply that finds the run ended
// and collects it pushes its own identical snapshot, so that a third
// checkout can check the run out.
func TestTeamRemoteReattach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	srv := pgtest.Start(t)
	defer srv.Stop()
	conn := srv.NewDatabase(t)
	tmp := t.TempDir()
	started, release := filepath.Join(tmp, "started"), filepath.Join(tmp, "release")
	files := map[string]string{
		"trainrun.hcl": `trainrun {
  backend "postgres" {
    conn_str = "` + conn + `"
    project  = "vision"
  }
  remote "dir" {
    path = "` + filepath.Join(tmp, "store") + `"
  }
}
compute "local" "here" {}
experiment "train" {
  compute    = compute.here
  source_dir = "train"
  command    = ["sh", "train.sh", "` + started + `", "` + release + `"]
}
`,
		"train/train.sh": `touch "$1"
while [ ! -e "$2" ]; do sleep 0.05; done
echo model > "$TRAINRUN_OUTPUTS_DIR/model.txt"
`,
	}
	a, b, c := newProject(t, files), newProject(t, files), newProject(t, files)
	cmd := a.command(nil, "apply", "-auto-approve")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the run did not start within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill() // kill -9: it never collects nor pushes
	_ = cmd.Wait()
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := b.must(0, nil, "apply", "-auto-approve")
	if !strings.Contains(res.stdout, "experiment.train: succeeded") || strings.Contains(res.stdout+res.stderr, "teammates cannot fetch") {
		t.Fatalf("the second apply should collect the run and push it:\n%s", res)
	}
	c.must(0, nil, "checkout", "experiment.train", "co")
	if data, err := os.ReadFile(c.path("co/train.sh")); err != nil || string(data) != files["train/train.sh"] {
		t.Fatalf("checkout in a third checkout: %q, %v", data, err)
	}
}
