package envs

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

func strList(s ...string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(s))
	for i, x := range s {
		vals[i] = cty.StringVal(x)
	}
	return cty.ListVal(vals)
}

func TestValidate(t *testing.T) {
	build := func(attrs map[string]cty.Value) cty.Value {
		obj := map[string]cty.Value{
			"context":    cty.NullVal(cty.String),
			"dockerfile": cty.NullVal(cty.String),
			"args":       cty.NullVal(cty.Map(cty.String)),
		}
		for k, v := range attrs {
			obj[k] = v
		}
		return cty.ObjectVal(obj)
	}
	for _, tc := range []struct {
		name string
		kind providers.EnvironmentKind
		v    providers.Values
		want string // a problem's attribute and detail contain this; "" means none
	}{
		{"host empty", Host(), providers.Values{}, ""},
		{"host python", Host(), providers.Values{"python": cty.StringVal("/usr/bin/python3")}, ""},
		{"host blank python", Host(), providers.Values{"python": cty.StringVal(" ")}, "python: python must name"},
		{"host colon in path", Host(), providers.Values{"path": strList("/a:/b")}, "path: Each path entry"},
		{"venv requirements", Venv(), providers.Values{"requirements": strList("numpy")}, ""},
		{"venv empty", Venv(), providers.Values{}, ""},
		{"venv both", Venv(), providers.Values{"requirements": strList("numpy"), "requirements_file": cty.StringVal("r.txt")}, "requirements_file: Give requirements or requirements_file"},
		{"venv newline", Venv(), providers.Values{"requirements": strList("numpy\nscipy")}, "requirements: A requirement cannot span lines"},
		{"venv NUL", Venv(), providers.Values{"python": cty.StringVal("py\x00")}, "python: python cannot contain a NUL"},
		{"conda deps", Conda(), providers.Values{"dependencies": strList("numpy=1.26"), "channels": strList("conda-forge")}, ""},
		{"conda file", Conda(), providers.Values{"file": cty.StringVal("environment.yml")}, ""},
		{"conda nothing", Conda(), providers.Values{}, ": A conda environment needs file"},
		{"conda both", Conda(), providers.Values{"file": cty.StringVal("e.yml"), "dependencies": strList("x")}, "dependencies: Give file or dependencies"},
		{"conda file and channels", Conda(), providers.Values{"file": cty.StringVal("e.yml"), "channels": strList("x")}, "channels: channels go with dependencies"},
		{"container image", Container(), providers.Values{"image": cty.StringVal("docker.io/library/python:3.12")}, ""},
		{"container build", Container(), providers.Values{"build": build(map[string]cty.Value{"context": cty.StringVal(".")})}, ""},
		{"container nothing", Container(), providers.Values{}, ": A container environment needs image"},
		{"container both", Container(), providers.Values{"image": cty.StringVal("x"), "build": build(map[string]cty.Value{"context": cty.StringVal(".")})}, "image: Give image or a build block"},
		{"container no context", Container(), providers.Values{"build": build(nil)}, "build: build needs context"},
		{"container dockerfile outside", Container(), providers.Values{"build": build(map[string]cty.Value{"context": cty.StringVal("."), "dockerfile": cty.StringVal("../Dockerfile")})}, "dockerfile: dockerfile must be a path inside"},
		{"container runtime", Container(), providers.Values{"image": cty.StringVal("x"), "runtime": cty.StringVal("lxc")}, "runtime: runtime must be"},
		{"container build arg name", Container(), providers.Values{"build": build(map[string]cty.Value{"context": cty.StringVal("."), "args": cty.MapVal(map[string]cty.Value{"A=B": cty.StringVal("x")})})}, "args:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.kind.Validate(tc.v)
			if tc.want == "" {
				if len(ps) > 0 {
					t.Fatalf("problems %+v, want none", ps)
				}
				return
			}
			for _, p := range ps {
				if strings.Contains(p.Attr+": "+p.Detail, tc.want) {
					return
				}
			}
			t.Fatalf("problems %+v, want one with %q", ps, tc.want)
		})
	}
}

func open(t *testing.T, k providers.EnvironmentKind, v providers.Values, dir string) providers.Environment {
	t.Helper()
	e, err := k.Open("e", v, providers.Env{Dir: dir, DataDir: filepath.Join(dir, ".trainrun")})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func spec(t *testing.T, e providers.Environment) providers.EnvSpec {
	t.Helper()
	s, err := e.Spec(context.Background(), executor.Local{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVenvSpecIdentity(t *testing.T) {
	dir := t.TempDir()
	id := func(v providers.Values) string { return spec(t, open(t, Venv(), v, dir)).ID }
	base := id(providers.Values{"requirements": strList("scikit-learn==1.2.1", "numpy")})
	if !strings.HasPrefix(base, "venv-") || !validID(base) {
		t.Fatalf("id %q", base)
	}
	same := []providers.Values{
		{"requirements": strList("numpy", "scikit-learn==1.2.1")},              // order
		{"requirements": strList("NumPy", " Scikit_Learn == 1.2.1 ", "numpy")}, // spelling, duplicates
		{"requirements": strList("numpy", "scikit-learn==1.2.1"), "python": cty.StringVal("python3")},
	}
	for i, v := range same {
		if got := id(v); got != base {
			t.Errorf("same spec %d: id %s, want %s", i, got, base)
		}
	}
	different := []providers.Values{
		{"requirements": strList("numpy", "scikit-learn==1.3.0")},
		{"requirements": strList("numpy")},
		{"requirements": strList("numpy", "scikit-learn==1.2.1"), "python": cty.StringVal("python3.11")},
		{"requirements": strList("numpy", "scikit-learn==1.2.1"), "pip_args": strList("--no-index")},
		{"requirements": strList("numpy", "scikit-learn==1.2.1"), "system_site_packages": cty.True},
	}
	seen := map[string]int{base: -1}
	for i, v := range different {
		got := id(v)
		if j, dup := seen[got]; dup {
			t.Errorf("spec %d has the id of spec %d", i, j)
		}
		seen[got] = i
	}

	// A requirements file: its content is the identity.
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("numpy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := providers.Values{"requirements_file": cty.StringVal("requirements.txt")}
	a := spec(t, open(t, Venv(), f, dir))
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("numpy\n# a comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := spec(t, open(t, Venv(), f, dir))
	if a.ID == b.ID || !reflect.DeepEqual(a.Requirements, b.Requirements) {
		t.Errorf("requirements file edit: ids %s %s, requirements %v %v", a.ID, b.ID, a.Requirements, b.Requirements)
	}
	if got := b.Changes(a); !slices.Equal(got, []string{"requirements_file changed"}) {
		t.Errorf("changes %q", got)
	}
}

func TestRequirementsFileRefusesIncludes(t *testing.T) {
	for _, line := range []string{"-r other.txt", "--requirement=other.txt", "-c constraints.txt", "-e ./pkg"} {
		if _, err := parseRequirementsFile([]byte("numpy\n" + line + "\n")); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
	got, err := parseRequirementsFile([]byte("# deps\nnumpy==1.24 # pinned\n--index-url https://x\n\nscipy\n"))
	if err != nil || !slices.Equal(got, []string{"numpy==1.24", "scipy"}) {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestNormalizeRequirement(t *testing.T) {
	for in, want := range map[string]string{
		"Scikit_Learn == 1.2.1":                 "scikit-learn==1.2.1",
		"numpy>=1.2, <2":                        "numpy>=1.2,<2",
		"torch[cuda] ==2.1":                     "torch[cuda]==2.1",
		`numpy; python_version > "3.8"`:         `numpy; python_version > "3.8"`,
		"pkg @ https://example.org/pkg-1.0.whl": "pkg @ https://example.org/pkg-1.0.whl",
		"  zope.interface  ":                    "zope-interface",
	} {
		if got := normalizeRequirement(in); got != want {
			t.Errorf("normalizeRequirement(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCondaSteps(t *testing.T) {
	deps := &conda{s: condaSettings{deps: []string{"numpy=1.26", "python>=3.11"}, channels: []string{"conda-forge", "bioconda"}}}
	file := &conda{s: condaSettings{file: "environment.yml"}}
	for _, tc := range []struct {
		e          *conda
		tool       string
		create     []string
		lockPrefix []string
	}{
		{deps, "micromamba", []string{"micromamba", "create", "--yes", "--prefix", prefixWord, "--override-channels", "--channel", "conda-forge", "--channel", "bioconda", "numpy=1.26", "python>=3.11"},
			[]string{"micromamba", "env", "export", "--prefix", prefixWord, "--explicit"}},
		{deps, "conda", []string{"conda", "create", "--yes", "--prefix", prefixWord, "--override-channels", "--channel", "conda-forge", "--channel", "bioconda", "numpy=1.26", "python>=3.11"},
			[]string{"conda", "list", "--prefix", prefixWord, "--explicit"}},
		{file, "micromamba", []string{"micromamba", "create", "--yes", "--prefix", prefixWord, "--file", inputWord},
			[]string{"micromamba", "env", "export", "--prefix", prefixWord, "--explicit"}},
		{file, "mamba", []string{"mamba", "env", "create", "--prefix", prefixWord, "--file", inputWord},
			[]string{"mamba", "list", "--prefix", prefixWord, "--explicit"}},
		{file, "conda", []string{"conda", "env", "create", "--prefix", prefixWord, "--file", inputWord},
			[]string{"conda", "list", "--prefix", prefixWord, "--explicit"}},
	} {
		steps := tc.e.steps(tc.tool)
		if len(steps) != 2 || !slices.Equal(steps[0].argv, tc.create) || !slices.Equal(steps[1].argv, tc.lockPrefix) ||
			steps[1].stdout != prefixWord+"/"+lockFile {
			t.Errorf("%s: steps %q", tc.tool, steps)
		}
	}
	// The script renders placeholders as shell expansions, and nothing else.
	got := stepsFunc(file.steps("conda"))
	want := "steps() {\n\tconda env create --prefix \"$prefix\" --file \"$input\"\n\tconda list --prefix \"$prefix\" --explicit >\"$prefix\"/.trainrun-lock\n}\n"
	if got != want {
		t.Errorf("script\n%s\nwant\n%s", got, want)
	}
}

func TestEnvironmentFileDeps(t *testing.T) {
	yml := `name: x
channels:
  - conda-forge
dependencies:
  - python=3.11   # the interpreter
  - "numpy>=1.26"
  - pip
  - pip:
      - torch==2.1
prefix: /opt/x
`
	got := environmentFileDeps([]byte(yml))
	want := []string{"python=3.11", "numpy>=1.26", "pip", "pip:torch==2.1"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLauncher(t *testing.T) {
	x := providers.Launch{
		RunDir: "/w/runs/r1", WorkDir: "/w/runs/r1/src", Argv: []string{"python", "train.py", "--lr", "0.1; rm -rf /"},
		Env: []string{"TRAINRUN_RUN_ID", "SEED"}, Mounts: []string{"/data/in"}, GPUs: []int{0, 2},
	}
	common := []string{"--volume", "/w/runs/r1:/w/runs/r1", "--workdir", "/w/runs/r1/src", "--volume", "/data/in:/data/in:ro",
		"--env", "TRAINRUN_RUN_ID", "--env", "SEED"}
	for _, tc := range []struct {
		name string
		l    launcher
		want []string
	}{
		{"podman as root", launcher{runtime: "podman", uid: "0", gid: "0", image: "abc", runArgs: []string{"--shm-size", "1g"}},
			concat([]string{"podman", "run", "--rm", "--init", "--user", "0:0"}, common,
				[]string{"--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=2", "--shm-size", "1g", "abc", "python", "train.py", "--lr", "0.1; rm -rf /"})},
		{"rootless podman", launcher{runtime: "podman", rootless: true, uid: "1000", gid: "100", image: "abc"},
			concat([]string{"podman", "run", "--rm", "--init", "--user", "1000:100", "--userns=keep-id"}, common,
				[]string{"--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=2", "abc", "python", "train.py", "--lr", "0.1; rm -rf /"})},
		{"docker", launcher{runtime: "docker", docker: true, uid: "1000", gid: "100", image: "abc"},
			concat([]string{"docker", "run", "--rm", "--init", "--user", "1000:100"}, common,
				[]string{"--gpus", `"device=0,2"`, "abc", "python", "train.py", "--lr", "0.1; rm -rf /"})},
	} {
		got, err := tc.l.Launch(x)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q, %v\nwant %q", tc.name, got, err, tc.want)
		}
	}
	l := launcher{runtime: "podman", uid: "0", gid: "0", image: "abc"}
	for _, bad := range []providers.Launch{
		{RunDir: "/w/r:1", WorkDir: "/w/r:1/src", Argv: []string{"x"}},
		{RunDir: "/w/r", WorkDir: "/w/r/src", Argv: []string{"x"}, Mounts: []string{"relative"}},
		{RunDir: "/w/r", WorkDir: "/w/r/src", Argv: []string{"x"}, Env: []string{"A=B"}},
		{RunDir: "/w/r", WorkDir: "/w/r/src"},
	} {
		if got, err := l.Launch(bad); err == nil {
			t.Errorf("%+v: %q, want an error", bad, got)
		}
	}
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestContainerTag(t *testing.T) {
	for name, want := range map[string]string{
		"cuda":     "localhost/trainrun-cuda:abc",
		"My_Env-2": "localhost/trainrun-my-env-2:abc",
		"_x__":     "localhost/trainrun-x:abc",
		"__":       "localhost/trainrun-env:abc",
	} {
		if got := (&container{name: name}).tag("container-abc"); got != want {
			t.Errorf("tag of %q = %q, want %q", name, got, want)
		}
	}
}

func TestHostSpec(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on PATH")
	}
	dir := t.TempDir()
	s := spec(t, open(t, Host(), providers.Values{}, dir))
	if s.Attrs["python"] == "" || s.Attrs["python"] == "none" || !strings.HasPrefix(s.Attrs["python_version"], "cpython 3.") {
		t.Fatalf("spec %+v", s)
	}
	// The python a path entry holds is found first.
	bin := t.TempDir()
	fake := filepath.Join(bin, "python3")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho /opt/fake/python3; echo cpython 3.99.0 final\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := spec(t, open(t, Host(), providers.Values{"path": strList(bin)}, dir))
	if f.Attrs["python"] != "/opt/fake/python3" || f.Attrs["python_version"] != "cpython 3.99.0" || f.ID == s.ID {
		t.Fatalf("spec with path %+v (default %s)", f, s.ID)
	}
	if got := f.Changes(s); len(got) != 3 {
		t.Errorf("changes %q", got)
	}
	p, err := open(t, Host(), providers.Values{"python": cty.StringVal(fake)}, dir).Prepare(context.Background(), nil, "", f)
	if err != nil || p.Env["TRAINRUN_PYTHON"] != "/opt/fake/python3" || p.Env[providers.PathPrependVar] != bin {
		t.Fatalf("prepared %+v, %v", p, err)
	}
	// A python that was asked for and is missing is an error; the
	// default, missing, is recorded as missing.
	missing := open(t, Host(), providers.Values{"python": cty.StringVal("/nonexistent/python3")}, dir)
	if _, err := missing.Spec(context.Background(), executor.Local{}); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("missing python: %v", err)
	}
	// Without python3 on PATH at all.
	only := t.TempDir()
	if err := os.Symlink(sh(t), filepath.Join(only, "sh")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", only)
	if n := spec(t, open(t, Host(), providers.Values{}, dir)); n.Attrs["python"] != "none" || n.ID == s.ID {
		t.Errorf("no python3: spec %+v", n)
	}
}

func sh(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	return p
}

// machine is executor.Local counting the commands it runs.
type machine struct {
	executor.Local
	mu   sync.Mutex
	runs int
}

func (m *machine) Run(ctx context.Context, argv []string, stdin io.Reader) ([]byte, error) {
	m.mu.Lock()
	m.runs++
	m.mu.Unlock()
	return m.Local.Run(ctx, argv, stdin)
}
