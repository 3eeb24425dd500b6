package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/sshtest"
)

// End-to-end tests of compute "ssh" against real OpenSSH servers on
// loopback (internal/sshtest), driving the trainrun command.

// sshServer starts an sshd for the test.
func sshServer(t *testing.T, o sshtest.Options) *sshtest.Server {
	t.Helper()
	s := sshtest.Start(t, o)
	t.Cleanup(s.Stop)
	return s
}

// remoteDir is a workdir of the test's own in the test user's home,
// removed at cleanup.
func remoteDir(t *testing.T, s *sshtest.Server) string {
	b := make([]byte, 6)
	rand.Read(b)
	name := "e2e-" + hex.EncodeToString(b)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(s.Home, name)) })
	return name
}

// sshCompute is a compute block reaching s.
func sshCompute(name string, s *sshtest.Server, workdir, extra string) string {
	return fmt.Sprintf(`compute "ssh" %q {
  host             = %q
  port             = %d
  user             = %q
  private_key_file = %q
  known_hosts_file = %q
  workdir          = "~/%s"
%s}
`, name, s.Addr, s.Port, s.User, s.KeyFile, s.KnownHostsFile, workdir, extra)
}

type showJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Handle *struct {
		Host string `json:"host"`
		Dir  string `json:"dir"`
	} `json:"handle"`
}

func (p *project) show(ref string) showJSON {
	p.t.Helper()
	res := p.must(0, nil, "show", "-json", ref)
	var s showJSON
	if err := json.Unmarshal([]byte(res.stdout), &s); err != nil {
		p.t.Fatalf("show -json: %v\n%s", err, res.stdout)
	}
	return s
}

func TestSSHApplyReapplyChangeOutputs(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	p := newProject(t, map[string]string{
		"trainrun.hcl": sshCompute("box", s, wd, "") + `
experiment "train" {
  compute    = compute.box
  source_dir = "src"
  command    = ["sh", "train.sh", param.lr]
  params     = { lr = 0.5 }
  outputs    = ["model.txt"]
}
`,
		"src/train.sh": `echo "training with $1 as $(id -un)"
[ ! -e model.txt ] || echo "stale model.txt"
echo "b is $(cat data/b.txt)"
echo "lr=$1" > model.txt
echo ok > "$TRAINRUN_OUTPUTS_DIR/done"
echo '{"name":"loss","value":0.25}' >> "$TRAINRUN_METRICS_FILE"
`,
		"src/data/big.bin": strings.Repeat("data", 1<<16),
		"src/data/b.txt":   "b",
	})
	plan := p.must(2, nil, "plan", "-detailed-exitcode")
	for _, want := range []string{"+ attach compute.box", s.User + "@127.0.0.1:" + strconv.Itoa(s.Port) + ": ", "CPUs", "+ submit experiment.train"} {
		if !strings.Contains(plan.stdout, want) {
			t.Fatalf("plan lacks %q:\n%s", want, plan.stdout)
		}
	}
	res := p.must(0, nil, "apply", "-auto-approve")
	if !strings.Contains(res.stdout, "training with 0.5 as "+s.User) || !strings.Contains(res.stdout, "compute.box: attached") {
		t.Fatalf("apply:\n%s", res)
	}
	run := p.show("experiment.train")
	if run.Handle == nil || run.Handle.Host != s.User+"@127.0.0.1:"+strconv.Itoa(s.Port) || !strings.HasPrefix(run.Handle.Dir, filepath.Join(s.Home, wd, "runs")+"/") {
		t.Fatalf("handle %+v", run.Handle)
	}
	for name, want := range map[string]string{"outputs/model.txt": "lr=0.5\n", "outputs/done": "ok\n"} {
		if b, err := os.ReadFile(p.path(".trainrun/runs/" + run.ID + "/" + name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v", name, b, err)
		}
	}
	if st := p.status(nil); len(st) != 1 || st[0].Status != "succeeded" {
		t.Fatalf("status %+v", st)
	}
	// Remote directories are the user's alone.
	for _, d := range []string{wd, wd + "/runs", wd + "/blobs"} {
		if fi, err := os.Stat(filepath.Join(s.Home, d)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, fi, err)
		}
	}
	blobs := countFiles(t, filepath.Join(s.Home, wd, "blobs"))
	if blobs != 3 {
		t.Errorf("%d blobs cached, want 3", blobs)
	}

	// Nothing changed: nothing to do, and the machine is not attached again.
	if res := p.must(0, nil, "plan", "-detailed-exitcode"); !strings.Contains(res.stdout, "No changes") {
		t.Fatalf("re-plan:\n%s", res)
	}
	p.must(0, nil, "apply", "-auto-approve")

	// One changed file: one new blob on the machine.
	p.write("src/data/b.txt", "b2")
	res = p.must(0, nil, "apply", "-auto-approve")
	if strings.Contains(res.stdout, "attach") || !strings.Contains(res.stdout, "data/b.txt modified") {
		t.Fatalf("apply after a change:\n%s", res)
	}
	if n := countFiles(t, filepath.Join(s.Home, wd, "blobs")); n != blobs+1 {
		t.Fatalf("%d blobs cached after one changed file, want %d", n, blobs+1)
	}
	if runs := strings.Count(p.must(0, nil, "runs").stdout, "succeeded"); runs != 2 {
		t.Fatalf("%d succeeded runs, want 2", runs)
	}
	// The second run took over the first one's tree, cleaned of what
	// that run wrote (model.txt), with the changed file.
	if !strings.Contains(res.stdout, "b is b2") || strings.Contains(res.stdout, "stale") {
		t.Fatalf("second run's tree:\n%s", res)
	}
	trees := filepath.Join(s.Home, wd, "trees")
	if n := countFiles(t, trees); n != 1+4 { // one tree's record and files
		t.Fatalf("%d files in %s, want the second run's tree", n, trees)
	}
	if _, err := os.Stat(filepath.Join(p.show("experiment.train").Handle.Dir, "src")); !os.IsNotExist(err) {
		t.Fatalf("a succeeded run's source tree is still in its directory: %v", err)
	}
	second := p.show("experiment.train")
	where := s.User + "@127.0.0.1:" + strconv.Itoa(s.Port) + ":" + second.Handle.Dir
	if out := p.must(0, nil, "show", "experiment.train").stdout; !strings.Contains(out, "ran in:") || !strings.Contains(out, where) {
		t.Fatalf("show does not say where the run ran (%s):\n%s", where, out)
	}
	// destroy removes the trees kept for reuse with the run directories.
	p.must(0, nil, "destroy", "-auto-approve")
	if out := p.must(0, nil, "show", "experiment.train").stdout; !strings.Contains(out, where+" (removed by destroy)") {
		t.Fatalf("show after destroy:\n%s", out)
	}
	if _, err := os.Stat(trees); !os.IsNotExist(err) {
		t.Fatalf("destroy left %s: %v", trees, err)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSSHLogsFollowAndCancel(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	marker := "hang-marker-" + wd
	p := newProject(t, map[string]string{
		"trainrun.hcl": sshCompute("box", s, wd, "  max_runs = 2\n") + `
experiment "talk" {
  compute = compute.box
  shell   = "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done"
}
experiment "hang" {
  compute = compute.box
  command = ["sh", "-c", "sleep 300; echo never", "` + marker + `"]
}
`,
	})
	var out syncBuffer
	cmd := p.command(nil, "apply", "-auto-approve")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
	}()
	var talkID, hangID string
	if !waitFor(30*time.Second, func() bool {
		for _, r := range p.status(nil) {
			if r.Status != "running" {
				continue
			}
			if r.Address == "experiment.talk" {
				talkID = r.ID
			} else {
				hangID = r.ID
			}
		}
		return talkID != "" && hangID != ""
	}) {
		t.Fatalf("the runs did not start:\n%s", out.String())
	}
	logs := p.must(0, nil, "logs", "-f", talkID)
	if want := "line 1\nline 2\nline 3\nline 4\nline 5\n"; logs.stdout != want {
		t.Fatalf("logs -f = %q, want %q", logs.stdout, want)
	}
	if !processWith(marker) {
		t.Fatal("the hanging run's process is not there")
	}
	p.must(0, nil, "cancel", hangID)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("apply did not end after cancel:\n%s", out.String())
	}
	if !waitFor(10*time.Second, func() bool { return !processWith(marker) }) {
		t.Fatal("the cancelled run's processes are still there")
	}
	for _, r := range p.status(nil) {
		want := map[string]string{"experiment.talk": "succeeded", "experiment.hang": "cancelled"}[r.Address]
		if r.Status != want {
			t.Errorf("%s is %s, want %s", r.Address, r.Status, want)
		}
	}
}

// processWith reports whether a process's command line contains s.
func processWith(s string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

func TestSSHHostPool(t *testing.T) {
	a := sshServer(t, sshtest.Options{})
	b := sshServer(t, sshtest.Options{KeyFile: a.KeyFile})
	wd := remoteDir(t, a)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(a.KnownHostsLine()+b.KnownHostsLine()), 0o644)
	p := newProject(t, map[string]string{
		"trainrun.hcl": fmt.Sprintf(`compute "ssh" "pool" {
  hosts            = ["127.0.0.1:%d", "127.0.0.1:%d"]
  user             = %q
  private_key_file = %q
  known_hosts_file = %q
  workdir          = "~/%s"
  max_runs         = 1
}
experiment "sweep" {
  compute = compute.pool
  command = ["sh", "-c", "sleep 1; echo point $1", "sh", param.i]
  sweep {
    grid = { i = [1, 2, 3, 4] }
  }
}
`, a.Port, b.Port, a.User, a.KeyFile, kh, wd),
	})
	plan := p.must(0, nil, "plan")
	if strings.Count(plan.stdout, "Debian") != 2 && strings.Count(plan.stdout, "CPUs") != 2 {
		t.Fatalf("plan does not show both machines:\n%s", plan.stdout)
	}
	start := time.Now()
	p.must(0, nil, "apply", "-auto-approve")
	elapsed := time.Since(start)
	hosts := map[string]int{}
	for _, r := range p.status(nil) {
		if r.Status != "succeeded" {
			t.Errorf("%s is %s", r.Address, r.Status)
		}
		hosts[p.show(r.ID).Handle.Host]++
	}
	if len(hosts) != 2 || hosts[a.User+"@127.0.0.1:"+strconv.Itoa(a.Port)] != 2 {
		t.Fatalf("runs per host: %v", hosts)
	}
	// Two machines, one run each at a time: 4 runs of 1 s take about 2 s.
	if elapsed > 15*time.Second {
		t.Fatalf("apply took %s", elapsed)
	}
}

func TestSSHJumpHosts(t *testing.T) {
	bastion := sshServer(t, sshtest.Options{})
	inner := sshServer(t, sshtest.Options{Addr: "127.0.0.2", KeyFile: bastion.KeyFile})
	wd := remoteDir(t, inner)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(bastion.KnownHostsLine()+inner.KnownHostsLine()), 0o644)
	exp := `
experiment "hop" {
  compute = compute.inner
  shell   = "echo via $SSH_CONNECTION"
}
`
	t.Run("jump attribute", func(t *testing.T) {
		p := newProject(t, map[string]string{
			"trainrun.hcl": sshCompute("bastion", bastion, wd, "") +
				strings.Replace(sshCompute("inner", inner, wd, "  jump = compute.bastion\n"), kh0(inner), kh, 1) + exp,
		})
		p.must(0, nil, "apply", "-auto-approve")
		if log := bastion.Log(); !strings.Contains(log, "127.0.0.2 port "+strconv.Itoa(inner.Port)) {
			t.Fatalf("the bastion did not forward to the inner machine:\n%s", log)
		}
	})
	t.Run("ProxyJump in ssh config", func(t *testing.T) {
		p := newProject(t, map[string]string{
			".ssh/config": fmt.Sprintf(`Host inner-box
  HostName 127.0.0.2
  Port %d
  User %s
  IdentityFile %s
  UserKnownHostsFile %s
  ProxyJump %s@127.0.0.1:%d
Host 127.0.0.1
  IdentityFile %s
  UserKnownHostsFile %s
`, inner.Port, inner.User, inner.KeyFile, kh, bastion.User, bastion.Port, bastion.KeyFile, kh),
			"trainrun.hcl": fmt.Sprintf(`compute "ssh" "inner" {
  host    = "inner-box"
  workdir = "~/%s"
}
`, wd) + exp,
		})
		before := strings.Count(bastion.Log(), "direct-tcpip")
		p.must(0, nil, "apply", "-auto-approve")
		if strings.Count(bastion.Log(), "direct-tcpip") <= before {
			t.Fatalf("the bastion did not forward:\n%s", bastion.Log())
		}
	})
}

// kh0 is the known_hosts_file line sshCompute writes for s.
func kh0(s *sshtest.Server) string { return s.KnownHostsFile }

func TestSSHHostKeysNothingRuns(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	other := sshServer(t, sshtest.Options{}) // its key is the wrong one
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte(strings.Replace(other.KnownHostsLine(), strconv.Itoa(other.Port), strconv.Itoa(s.Port), 1)), 0o644)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	marker := filepath.Join(s.Home, wd+"-ran")
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"unknown", empty, []string{"is not a known host", "ssh-keyscan -p " + strconv.Itoa(s.Port) + " 127.0.0.1 >> " + empty, s.Fingerprint}},
		{"changed", wrong, []string{"has CHANGED", "man-in-the-middle", other.Fingerprint, s.Fingerprint}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t, map[string]string{
				"trainrun.hcl": strings.Replace(sshCompute("box", s, wd, ""), s.KnownHostsFile, tc.file, 1) + `
experiment "x" {
  compute = compute.box
  command = ["touch", "` + marker + `"]
}
`,
			})
			for _, args := range [][]string{{"plan"}, {"apply", "-auto-approve"}} {
				res := p.must(1, nil, args...)
				for _, w := range tc.want {
					if !strings.Contains(res.stderr, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", args[0], w, res.stderr)
					}
				}
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the run ran")
			}
			if _, err := os.Stat(filepath.Join(s.Home, wd)); err == nil {
				t.Fatal("the workdir was created")
			}
			if st := p.status(nil); len(st) != 0 {
				t.Fatalf("runs were recorded: %+v", st)
			}
			if n := strings.Count(s.Log(), "Accepted publickey"); n != 0 {
				t.Fatalf("%d logins", n)
			}
		})
	}
}

func TestSSHHostileParameters(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	pwned := filepath.Join(s.Home, wd+"-pwned")
	value := "it's \"quoted\" $(touch " + pwned + ") `touch " + pwned + "` $HOME ; rm -rf ~ \n second line ünïcödé ✓ \\ * ~"
	p := newProject(t, map[string]string{
		"trainrun.hcl": sshCompute("box", s, wd, "") + `
variable "v" {
  type = string
}
experiment "hostile" {
  compute = compute.box
  command = ["sh", "-c", "printf '%s' \"$1\" > \"$TRAINRUN_OUTPUTS_DIR/arg\"; printf '%s' \"$TRAINRUN_PARAM_V\" > \"$TRAINRUN_OUTPUTS_DIR/env\"; printf '%s' \"$V\" > \"$TRAINRUN_OUTPUTS_DIR/var\"", "sh", param.v]
  params  = { v = var.v }
  env     = { V = var.v }
}
`,
	})
	p.must(0, nil, "apply", "-auto-approve", "-var", "v="+value)
	run := p.show("experiment.hostile")
	for _, f := range []string{"arg", "env", "var"} {
		b, err := os.ReadFile(p.path(".trainrun/runs/" + run.ID + "/outputs/" + f))
		if err != nil || string(b) != value {
			t.Errorf("%s arrived as %q, %v\nwant %q", f, b, err, value)
		}
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("a value was run as a command")
	}
	if _, err := os.Stat(s.Home); err != nil {
		t.Fatal("the home directory is gone")
	}
}

func TestSSHDroppedConnectionMidRun(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	count := filepath.Join(s.Home, wd+"-count")
	started := filepath.Join(s.Home, wd+"-started")
	t.Cleanup(func() { os.Remove(count); os.Remove(started) })
	p := newProject(t, map[string]string{
		"trainrun.hcl": sshCompute("box", s, wd, "") + `
experiment "long" {
  compute = compute.box
  shell   = "echo once >> ` + count + `; touch ` + started + `; sleep 3; echo result > \"$TRAINRUN_OUTPUTS_DIR/r\"; echo finished"
}
`,
	})
	var out syncBuffer
	cmd := p.command(nil, "apply", "-auto-approve")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	if !waitFor(30*time.Second, func() bool { _, err := os.Stat(started); return err == nil }) {
		t.Fatalf("the run did not start:\n%s", out.String())
	}
	if n := s.KillSessions(); n == 0 {
		t.Fatal("no connection to drop")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("apply did not end:\n%s", out.String())
	}
	if b, _ := os.ReadFile(count); string(b) != "once\n" {
		t.Fatalf("the run ran %q times", b)
	}
	if !strings.Contains(out.String(), "succeeded") {
		t.Fatalf("apply:\n%s", out.String())
	}
	run := p.show("experiment.long")
	if b, err := os.ReadFile(p.path(".trainrun/runs/" + run.ID + "/outputs/r")); err != nil || string(b) != "result\n" {
		t.Fatalf("outputs: %q, %v", b, err)
	}
	if b, _ := os.ReadFile(p.path(".trainrun/runs/" + run.ID + "/log")); !strings.Contains(string(b), "finished") {
		t.Fatalf("log: %q", b)
	}
	// The apply went on over a new connection.
	if n := strings.Count(s.Log(), "Accepted publickey"); n < 2 {
		t.Fatalf("%d logins, want a second one after the drop", n)
	}
}

func TestSSHKilledApplyReattaches(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	count := filepath.Join(s.Home, wd+"-count")
	started := filepath.Join(s.Home, wd+"-started")
	t.Cleanup(func() { os.Remove(count); os.Remove(started) })
	p := newProject(t, map[string]string{
		"trainrun.hcl": sshCompute("box", s, wd, "") + `
experiment "long" {
  compute = compute.box
  shell   = "echo once >> ` + count + `; touch ` + started + `; sleep 2; echo done"
}
`,
	})
	cmd := p.command(nil, "apply", "-auto-approve")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(30*time.Second, func() bool { _, err := os.Stat(started); return err == nil }) {
		cmd.Process.Kill()
		t.Fatal("the run did not start")
	}
	cmd.Process.Kill() // SIGKILL: no chance to clean up
	cmd.Wait()
	res := p.must(0, nil, "apply", "-auto-approve")
	if !strings.Contains(res.stdout, "re-attached to run") || !strings.Contains(res.stdout, "succeeded") {
		t.Fatalf("second apply:\n%s", res)
	}
	if b, _ := os.ReadFile(count); string(b) != "once\n" {
		t.Fatalf("the run ran %q times", b)
	}
}

func TestSSHEncryptedKeyPassphraseStaysSecret(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	const pass = "pa55phrase-never-printed"
	key := filepath.Join(t.TempDir(), "enc")
	pub, err := sshtest.NewEncryptedKey(key, pass)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(pub); err != nil {
		t.Fatal(err)
	}
	p := newProject(t, map[string]string{
		"trainrun.hcl": strings.Replace(sshCompute("box", s, wd, "  passphrase = var.pp\n"), s.KeyFile, key, 1) + `
variable "pp" {
  type      = string
  sensitive = true
}
experiment "x" {
  compute = compute.box
  shell   = "echo ran"
}
`,
	})
	env := []string{"TRAINRUN_VAR_pp=" + pass}
	res := p.must(0, env, "apply", "-auto-approve")
	res2 := p.must(1, []string{"TRAINRUN_VAR_pp=wrong-" + pass}, "apply", "-auto-approve", "-replace", "experiment.x")
	for _, r := range []result{res, res2} {
		if strings.Contains(r.stdout+r.stderr, pass) {
			t.Fatalf("the passphrase was printed:\n%s", r)
		}
	}
	if !strings.Contains(res2.stderr+res2.stdout, "cannot decrypt it with the passphrase given") {
		t.Fatalf("wrong passphrase:\n%s", res2)
	}
	// Nowhere in what trainrun keeps, here or on the machine.
	for _, dir := range []string{p.path(".trainrun"), filepath.Join(s.Home, wd)} {
		filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				if b, _ := os.ReadFile(path); strings.Contains(string(b), pass) {
					t.Errorf("%s holds the passphrase", path)
				}
			}
			return nil
		})
	}
}

// Inputs reach runs on an SSH machine as read-only copies in the run's
// directory (SPEC §8): a write by mistake is refused, and a run that gives
// itself the permission back and writes anyway fails, naming the input;
// the upstream's outputs here are untouched.
func TestSSHInputsReadOnly(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	wd := remoteDir(t, s)
	p := newProject(t, map[string]string{
		"trainrun.hcl": sshCompute("box", s, wd, "") + `
experiment "prep" {
  compute = compute.box
  shell   = "echo 'rows v1' > $TRAINRUN_OUTPUTS_DIR/data.txt"
  sweep {
    grid = { shard = [1, 2] }
  }
}

experiment "train" {
  compute = compute.box
  inputs  = { data = experiment.prep["shard=1"].outputs, all = experiment.prep.outputs }
  shell   = "echo \"read: $(cat $TRAINRUN_INPUT_DATA/data.txt) $(ls $TRAINRUN_INPUT_ALL | tr '\\n' ' ')\"; echo junk >> $TRAINRUN_INPUT_DATA/data.txt || echo 'write refused'"
}

experiment "vandal" {
  compute = compute.box
  inputs  = { all = experiment.prep.outputs }
  shell   = "chmod -R u+w $TRAINRUN_INPUT_ALL && echo junk >> $TRAINRUN_INPUT_ALL/shard=2/data.txt"
}
`,
	})
	res := p.must(1, nil, "apply", "-auto-approve")
	logs := p.must(0, nil, "logs", "experiment.train")
	for _, want := range []string{"read: rows v1 shard=1 shard=2", "Permission denied", "write refused"} {
		if !strings.Contains(logs.stdout, want) {
			t.Errorf("train's log lacks %q:\n%s", want, logs)
		}
	}
	for _, want := range []string{
		"experiment.train: succeeded",
		"experiment.vandal: failed",
		"input all (shard=2) was changed while the run ran (its copy on the compute: data.txt modified)",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("apply lacks %q:\n%s", want, res)
		}
	}
	for _, st := range p.status(nil) {
		if !strings.HasPrefix(st.Address, "experiment.prep") {
			continue
		}
		b, err := os.ReadFile(p.path(".trainrun/runs/" + st.ID + "/outputs/data.txt"))
		if err != nil || string(b) != "rows v1\n" {
			t.Errorf("%s's collected outputs: %q, %v", st.Address, b, err)
		}
	}
	plan := p.must(2, nil, "plan", "-detailed-exitcode")
	if strings.Contains(plan.stdout, "submit experiment.prep") || !strings.Contains(plan.stdout, "submit experiment.vandal") {
		t.Errorf("after the failed run, the plan:\n%s", plan.stdout)
	}
}
