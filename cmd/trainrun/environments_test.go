package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/envtest"
	"github.com/trainrun/trainrun/internal/sshtest"
)

// events parses the JSON lines of apply -json.
func events(t *testing.T, res result) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("apply -json line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

// builds counts the environments an apply built.
func builds(t *testing.T, res result) int {
	t.Helper()
	n := 0
	for _, ev := range events(t, res) {
		if ev["type"] == "environment_ready" && strings.Contains(ev["message"].(string), "built") {
			n++
		}
	}
	return n
}

// entries lists a directory; a missing one is empty.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func statusOf(t *testing.T, p *project) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range p.status(nil) {
		out[s.Address] = s.Status
	}
	return out
}

const venvConfig = `
compute "local" "here" {}

environment "venv" "v" {
  python       = "/usr/bin/python3"
  requirements = ["trhello==REQ"]
  pip_args     = ["--no-index", "--find-links", "WHEELS"]
}

experiment "a" {
  compute     = compute.here
  environment = environment.v
  source_dir  = "src"
  command     = ["python", "show.py", "a"]
}

experiment "b" {
  compute     = compute.here
  environment = environment.v
  source_dir  = "src"
  command     = ["python", "show.py", "b"]
}

experiment "plain" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "-c", "echo plain"]
}
`

const showPy = `import os, sys, trhello
print(sys.argv[1], "trhello", trhello.VERSION, "in", os.environ["VIRTUAL_ENV"])
`

// TestVenvEnvironment takes a venv through its life: built once for the
// two experiments that use it, cached on the next apply, rebuilt (and its
// runs run again) when a requirement changes, a bad requirement failing
// with pip's message and harming nothing else, removed by destroy.
func TestVenvEnvironment(t *testing.T) {
	envtest.RequireVenv(t)
	wheels := t.TempDir()
	envtest.Wheel(t, wheels, "trhello", "1.0")
	envtest.Wheel(t, wheels, "trhello", "2.0")
	config := func(req string) string {
		return strings.NewReplacer("REQ", req, "WHEELS", wheels).Replace(venvConfig)
	}
	p := newProject(t, map[string]string{"trainrun.hcl": config("1.0"), "src/show.py": showPy})
	envs := p.path(".trainrun/local/here/envs")

	plan := p.must(0, nil, "plan")
	if !strings.Contains(plan.stdout, "+ create environment.v on compute.here\n        new\n") ||
		!strings.Contains(plan.stdout, "Plan: 1 to create, 3 to submit") {
		t.Fatalf("first plan:\n%s", plan.stdout)
	}
	first := p.must(0, nil, "apply", "-auto-approve", "-json")
	if n := builds(t, first); n != 1 {
		t.Fatalf("built %d times, want once:\n%s", n, first.stdout)
	}
	for addr, st := range statusOf(t, p) {
		if st != "succeeded" {
			t.Errorf("%s: %s", addr, st)
		}
	}
	// show summarizes the lock (pip freeze --all: pip too): how many, and
	// those the spec names; show -lock lists them all.
	show := p.must(0, nil, "show", "experiment.a")
	for _, want := range []string{"Environment v on here:", "  resolved packages (its lock): ", " packages; all of them: trainrun show -lock ", "    trhello==1.0\n"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("show does not say %q:\n%s", want, show.stdout)
		}
	}
	if strings.Contains(show.stdout, "    pip==") {
		t.Errorf("show lists pip, which the spec does not name:\n%s", show.stdout)
	}
	whole := p.must(0, nil, "show", "-lock", "experiment.a")
	for _, want := range []string{"  resolved packages (its lock):\n", "    trhello==1.0\n", "    pip=="} {
		if !strings.Contains(whole.stdout, want) {
			t.Errorf("show -lock does not say %q:\n%s", want, whole.stdout)
		}
	}
	logs := p.must(0, nil, "logs", "experiment.b")
	if !strings.HasPrefix(logs.stdout, "b trhello 1.0 in "+envs+"/venv-") {
		t.Errorf("b's log: %q", logs.stdout)
	}

	// Cached: nothing to do; forced runs reuse it.
	if again := p.must(0, nil, "apply", "-auto-approve"); !strings.Contains(again.stdout, "No changes.") {
		t.Fatalf("second apply:\n%s", again)
	}
	replaced := p.must(0, nil, "apply", "-auto-approve", "-json", "-replace", "experiment.a")
	if n := builds(t, replaced); n != 0 || len(entries(t, filepath.Join(envs, ".d"))) != 1 {
		t.Fatalf("a cached environment was built again (%d, %q):\n%s", n, entries(t, filepath.Join(envs, ".d")), replaced.stdout)
	}

	// A changed requirement: configured again; the runs that use it run
	// again, the others do not.
	p.write("trainrun.hcl", config("2.0"))
	plan = p.must(0, nil, "plan")
	for _, want := range []string{
		"~ configure environment.v on compute.here\n        requirements changed: trhello 1.0 → 2.0\n",
		"+ submit experiment.a\n        environment v changed: requirements changed: trhello 1.0 → 2.0\n",
		"Plan: 1 to configure, 2 to submit, 0 to update, 0 to destroy, 1 unchanged.",
	} {
		if !strings.Contains(plan.stdout, want) {
			t.Fatalf("plan after the change does not say %q:\n%s", want, plan.stdout)
		}
	}
	changed := p.must(0, nil, "apply", "-auto-approve", "-json")
	if n := builds(t, changed); n != 1 {
		t.Fatalf("built %d times, want once:\n%s", n, changed.stdout)
	}
	if logs := p.must(0, nil, "logs", "experiment.a"); !strings.HasPrefix(logs.stdout, "a trhello 2.0 ") {
		t.Errorf("a's log after the change: %q", logs.stdout)
	}

	// A requirement that cannot be had: pip's own words, the runs that
	// need it fail, everything else stays.
	p.write("trainrun.hcl", strings.Replace(config("2.0"), `"trhello==2.0"`, `"trhello==2.0", "nosuchpkg==9"`, 1))
	bad := p.must(1, nil, "apply", "-auto-approve")
	if !strings.Contains(bad.stdout, "No matching distribution found for nosuchpkg==9") {
		t.Fatalf("a bad requirement:\n%s", bad)
	}
	st := statusOf(t, p)
	if st["experiment.a"] != "failed" || st["experiment.b"] != "failed" || st["experiment.plain"] != "succeeded" {
		t.Errorf("status after a failed build: %v", st)
	}
	if got := entries(t, filepath.Join(envs, ".d")); len(got) != 2 {
		t.Errorf("after a failed build the environments directory holds %q, want the two good ones", got)
	}
	// Back to the good list: the environment is there, only the runs that
	// failed run again.
	p.write("trainrun.hcl", config("2.0"))
	back := p.must(0, nil, "apply", "-auto-approve", "-json")
	if n := builds(t, back); n != 0 {
		t.Errorf("built %d times; the environment was there", n)
	}

	// destroy removes the environments; the plan lists them.
	destroy := p.must(0, nil, "destroy", "-auto-approve")
	if strings.Count(destroy.stdout, "- destroy environment v (venv ") != 2 || !strings.Contains(destroy.stdout, "2 environments removed") {
		t.Fatalf("destroy:\n%s", destroy)
	}
	for _, name := range entries(t, envs) {
		if strings.HasPrefix(name, "venv-") {
			t.Errorf("%s is still there", name)
		}
	}
	if got := entries(t, filepath.Join(envs, ".d")); len(got) != 0 {
		t.Errorf("left in .d: %q", got)
	}
}

// TestVenvConcurrentApplies: two projects sharing one compute directory
// apply at once, both needing the same new environment: it is built once.
func TestVenvConcurrentApplies(t *testing.T) {
	envtest.RequireVenv(t)
	wheels := t.TempDir()
	envtest.Wheel(t, wheels, "trhello", "1.0")
	shared := t.TempDir()
	config := strings.NewReplacer("REQ", "1.0", "WHEELS", wheels, `compute "local" "here" {}`,
		`compute "local" "here" {
  workdir = "`+shared+`"
}`).Replace(venvConfig)
	projects := []*project{
		newProject(t, map[string]string{"trainrun.hcl": config, "src/show.py": showPy}),
		newProject(t, map[string]string{"trainrun.hcl": config, "src/show.py": showPy + "# another project\n"}),
	}
	results := make([]result, len(projects))
	var wg sync.WaitGroup
	for i, p := range projects {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = p.run(nil, "apply", "-auto-approve", "-json")
		}()
	}
	wg.Wait()
	total := 0
	for _, res := range results {
		if res.code != 0 {
			t.Fatalf("%s", res)
		}
		total += builds(t, res)
	}
	if total != 1 {
		t.Errorf("built %d times by two concurrent applies, want once", total)
	}
	if got := entries(t, filepath.Join(shared, "envs", ".d")); len(got) != 1 {
		t.Errorf("environments built: %q", got)
	}
}

// TestHostEnvironment: a host environment's interpreter is looked at on the
// compute; runs get it first on PATH, and a new version re-runs them.
func TestHostEnvironment(t *testing.T) {
	bin := t.TempDir()
	fake := filepath.Join(bin, "python3")
	writeFake := func(version string) {
		script := "#!/bin/sh\nif [ \"$1\" = -I ]; then echo " + fake + "; echo cpython " + version + " final; exit 0; fi\necho \"fake python " + version + " running $*\"\n"
		if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFake("3.11.2")
	p := newProject(t, map[string]string{
		"trainrun.hcl": `
compute "local" "here" {}
environment "host" "sys" {
  python = "` + fake + `"
}
experiment "e" {
  compute     = compute.here
  environment = environment.sys
  source_dir  = "src"
  command     = ["sh", "-c", "python3 train.py; echo \"TRAINRUN_PYTHON=$TRAINRUN_PYTHON\""]
}
`,
		"src/train.py": "",
	})
	plan := p.must(0, nil, "plan")
	if strings.Contains(plan.stdout, "environment.sys") || !strings.Contains(plan.stdout, "1 to submit") {
		t.Fatalf("a host environment has nothing to create:\n%s", plan.stdout)
	}
	p.must(0, nil, "apply", "-auto-approve")
	if logs := p.must(0, nil, "logs", "experiment.e"); logs.stdout != "fake python 3.11.2 running train.py\nTRAINRUN_PYTHON="+fake+"\n" {
		t.Errorf("log %q", logs.stdout)
	}
	if plan := p.must(0, nil, "plan"); !strings.Contains(plan.stdout, "No changes.") {
		t.Fatalf("unchanged:\n%s", plan.stdout)
	}
	writeFake("3.11.7")
	plan = p.must(0, nil, "plan")
	if !strings.Contains(plan.stdout, "environment sys changed: python_version: cpython 3.11.2 → cpython 3.11.7") {
		t.Fatalf("a new interpreter:\n%s", plan.stdout)
	}
	// -refresh=false looks at nothing: the interpreter is as recorded.
	if plan := p.must(0, nil, "plan", "-refresh=false"); !strings.Contains(plan.stdout, "No changes.") {
		t.Errorf("-refresh=false:\n%s", plan.stdout)
	}
}

// TestContainerEnvironment runs experiments in containers of an image built
// from a local context with real podman: the run sees its snapshot, params,
// outputs and metrics paths; the image is built once; its digest is
// recorded; a cancelled run leaves no container; destroy removes the image.
func TestContainerEnvironment(t *testing.T) {
	runArgs := envtest.RequirePodman(t)
	args, _ := json.Marshal(runArgs)
	// A context of its own, so that the image is new; removed in any case.
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Cleanup(func() {
		ids, _ := exec.Command("podman", "images", "-q", "--filter", "label=trainrun-test="+nonce).Output()
		for _, id := range strings.Fields(string(ids)) {
			exec.Command("podman", "rmi", "-f", id).Run()
		}
	})
	p := newProject(t, map[string]string{
		"image/Dockerfile":   "FROM " + envtest.BusyboxImage + "\nLABEL trainrun-test=" + nonce + "\nCOPY greeting.txt /greeting.txt\n",
		"image/greeting.txt": "hello from the image\n",
		"src/train.sh": `cat /greeting.txt
echo "lr=$TRAINRUN_PARAM_LR in $PWD"
echo '{"name":"accuracy","value":0.75}' >> "$TRAINRUN_METRICS_FILE"
echo weights > "$TRAINRUN_OUTPUTS_DIR/model.txt"
`,
		"trainrun.hcl": `
compute "local" "here" {}
environment "container" "box" {
  runtime  = "podman"
  run_args = ` + string(args) + `
  build {
    context = "image"
  }
}
experiment "train" {
  compute     = compute.here
  environment = environment.box
  source_dir  = "src"
  command     = ["sh", "train.sh"]
  params      = { lr = 0.5 }
}
experiment "long" {
  compute     = compute.here
  environment = environment.box
  source_dir  = "src"
  shell       = "echo started; sleep 60"
}
`,
	})
	var image string
	// The long run is cancelled while it runs.
	apply := p.command(nil, "apply", "-auto-approve", "-json")
	var out syncBuffer
	apply.Stdout = &out
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	started := waitFor(2*time.Minute, func() bool {
		for _, ev := range events(t, result{stdout: out.String()}) {
			if ev["type"] == "run_started" && ev["address"] == "experiment.long" {
				log, _ := os.ReadFile(p.path(".trainrun/local/here/runs/" + ev["run_id"].(string) + "/log"))
				return string(log) == "started\n"
			}
		}
		return false
	})
	if !started {
		apply.Process.Kill()
		t.Fatalf("the long run did not start:\n%s", out.String())
	}
	p.must(0, nil, "cancel", "experiment.long")
	if err := apply.Wait(); err == nil {
		t.Errorf("apply with a cancelled run exited 0")
	}
	res := result{stdout: out.String()}
	if n := builds(t, res); n != 1 {
		t.Errorf("built %d times, want once:\n%s", n, res.stdout)
	}

	var show struct {
		Status string `json:"status"`
		Env    struct {
			Location string `json:"location"`
			Digest   string `json:"digest"`
		} `json:"env"`
		Metrics map[string]any `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(p.must(0, nil, "show", "-json", "experiment.train").stdout), &show); err != nil {
		t.Fatal(err)
	}
	image = show.Env.Location
	if show.Status != "succeeded" || !strings.HasPrefix(show.Env.Digest, "sha256:") || !strings.HasPrefix(image, "localhost/trainrun-box:") {
		t.Fatalf("show -json: %+v", show)
	}
	// The cancelled run's container is gone (--rm), not left running. Its
	// removal is podman's cleanup process's, after the container ended:
	// not done yet, maybe, when apply is (under load it took seconds).
	var ps []byte
	var psErr error
	if !waitFor(time.Minute, func() bool {
		ps, psErr = exec.Command("podman", "ps", "-a", "--filter", "ancestor="+image, "--format", "{{.ID}} {{.Status}}").Output()
		return psErr == nil && len(strings.TrimSpace(string(ps))) == 0
	}) {
		t.Errorf("containers of %s left a minute after apply ended: %q, %v", image, ps, psErr)
	}
	logs := p.must(0, nil, "logs", "experiment.train").stdout
	if !strings.HasPrefix(logs, "hello from the image\nlr=0.5 in "+p.path(".trainrun/local/here/runs/")) {
		t.Errorf("log %q", logs)
	}
	if st := statusOf(t, p); st["experiment.long"] != "cancelled" {
		t.Errorf("status %v", st)
	}
	if data, err := os.ReadFile(filepath.Join(p.path(".trainrun/runs"), p.status(nil)[1].ID, "outputs", "model.txt")); err != nil || string(data) != "weights\n" {
		t.Errorf("collected output %q, %v", data, err)
	}

	again := p.must(0, nil, "apply", "-auto-approve", "-json", "-target", "experiment.train", "-replace", "experiment.train")
	if n := builds(t, again); n != 0 {
		t.Errorf("a cached image was built again:\n%s", again.stdout)
	}

	destroy := p.must(0, nil, "destroy", "-auto-approve")
	if !strings.Contains(destroy.stdout, "- destroy environment box (container "+image+") on here") {
		t.Fatalf("destroy:\n%s", destroy)
	}
	if exec.Command("podman", "image", "exists", image).Run() == nil {
		t.Errorf("%s is still there after destroy", image)
	}
}

// TestVenvOnSSH builds a venv on an SSH compute (a real sshd on loopback,
// an unprivileged user), through the same executor the runs use: built
// once, cached, removed by destroy.
func TestVenvOnSSH(t *testing.T) {
	envtest.RequireVenv(t)
	s := sshtest.Start(t, sshtest.Options{})
	t.Cleanup(s.Stop)
	// The wheels where the remote user can read them.
	wheels := filepath.Join(s.Home, "wheels-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.MkdirAll(wheels, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(wheels) })
	envtest.Wheel(t, wheels, "trhello", "1.0")
	workdir := wheels + "-work"
	t.Cleanup(func() { os.RemoveAll(workdir) })
	config := strings.NewReplacer("REQ", "1.0", "WHEELS", wheels, `compute "local" "here" {}`, fmt.Sprintf(`compute "ssh" "here" {
  host             = %q
  port             = %d
  user             = %q
  private_key_file = %q
  known_hosts_file = %q
  workdir          = %q
}`, s.Addr, s.Port, s.User, s.KeyFile, s.KnownHostsFile, workdir)).Replace(venvConfig)
	p := newProject(t, map[string]string{"trainrun.hcl": config, "src/show.py": showPy})

	first := p.must(0, nil, "apply", "-auto-approve", "-json")
	if n := builds(t, first); n != 1 {
		t.Fatalf("built %d times, want once:\n%s", n, first.stdout)
	}
	logs := p.must(0, nil, "logs", "experiment.a")
	if !strings.HasPrefix(logs.stdout, "a trhello 1.0 in "+workdir+"/envs/venv-") {
		t.Errorf("a's log: %q", logs.stdout)
	}
	if fi, err := os.Stat(filepath.Join(workdir, "envs", ".d")); err != nil {
		t.Fatal(err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid == 0 {
		t.Errorf("the environment was built as root, not as the compute's user")
	}
	again := p.must(0, nil, "apply", "-auto-approve", "-json", "-replace", "experiment.a")
	if n := builds(t, again); n != 0 {
		t.Errorf("a cached environment was built again:\n%s", again.stdout)
	}
	destroy := p.must(0, nil, "destroy", "-auto-approve")
	if !strings.Contains(destroy.stdout, "1 environment removed") {
		t.Fatalf("destroy:\n%s", destroy)
	}
	if got := entries(t, filepath.Join(workdir, "envs", ".d")); len(got) != 0 {
		t.Errorf("left on the compute: %q", got)
	}
}

// TestContainerOnSSH builds an image on an SSH compute and runs in it with
// the remote user's rootless podman: the run's outputs belong to that user,
// not to root or a sub-uid.
func TestContainerOnSSH(t *testing.T) {
	runArgs := envtest.RequirePodman(t)
	s := sshtest.Start(t, sshtest.Options{})
	t.Cleanup(s.Stop)
	runArgs = envtest.ImportBusyboxAs(t, s.User, runArgs)
	args, _ := json.Marshal(runArgs)
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	workdir := filepath.Join(s.Home, "ctr-"+nonce)
	t.Cleanup(func() {
		exec.Command("su", "-s", "/bin/sh", s.User, "-c", "cd && podman images -q --filter label=trainrun-test="+nonce+" | xargs -r podman rmi -f").Run()
		os.RemoveAll(workdir)
	})
	p := newProject(t, map[string]string{
		"image/Dockerfile":   "FROM " + envtest.BusyboxImage + "\nLABEL trainrun-test=" + nonce + "\nCOPY greeting.txt /greeting.txt\n",
		"image/greeting.txt": "hello from the remote image\n",
		"src/train.sh":       "cat /greeting.txt; id -u; echo weights > \"$TRAINRUN_OUTPUTS_DIR/model.txt\"\n",
		"trainrun.hcl": fmt.Sprintf(`
compute "ssh" "remote" {
  host             = %q
  port             = %d
  user             = %q
  private_key_file = %q
  known_hosts_file = %q
  workdir          = %q
}
environment "container" "box" {
  run_args = %s
  build {
    context = "image"
  }
}
experiment "train" {
  compute     = compute.remote
  environment = environment.box
  source_dir  = "src"
  command     = ["sh", "train.sh"]
}
`, s.Addr, s.Port, s.User, s.KeyFile, s.KnownHostsFile, workdir, args),
	})
	first := p.must(0, nil, "apply", "-auto-approve", "-json")
	if n := builds(t, first); n != 1 {
		t.Fatalf("built %d times, want once:\n%s", n, first.stdout)
	}
	u, err := user.Lookup(s.User)
	if err != nil {
		t.Fatal(err)
	}
	if logs := p.must(0, nil, "logs", "experiment.train").stdout; logs != "hello from the remote image\n"+u.Uid+"\n" {
		t.Errorf("log %q", logs)
	}
	run := p.status(nil)[0]
	fi, err := os.Stat(filepath.Join(workdir, "runs", run.ID, "outputs", "model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); strconv.Itoa(int(st.Uid)) != u.Uid {
		t.Errorf("the output on the compute is owned by uid %d, want %s's (%s)", st.Uid, s.User, u.Uid)
	}
	if data, err := os.ReadFile(filepath.Join(p.path(".trainrun/runs"), run.ID, "outputs", "model.txt")); err != nil || string(data) != "weights\n" {
		t.Errorf("collected %q, %v", data, err)
	}
	var show struct {
		Env struct {
			Location string `json:"location"`
		} `json:"env"`
	}
	if err := json.Unmarshal([]byte(p.must(0, nil, "show", "-json", run.ID).stdout), &show); err != nil || show.Env.Location == "" {
		t.Fatalf("show -json: %+v, %v", show, err)
	}
	destroy := p.must(0, nil, "destroy", "-auto-approve")
	if !strings.Contains(destroy.stdout, "1 environment removed") {
		t.Fatalf("destroy:\n%s", destroy)
	}
	if exec.Command("su", "-s", "/bin/sh", s.User, "-c", "cd && podman image exists "+show.Env.Location).Run() == nil {
		t.Errorf("%s is still in %s's images after destroy", show.Env.Location, s.User)
	}
}
