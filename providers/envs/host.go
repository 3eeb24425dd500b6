package envs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/internal/atomicfile"
	"github.com/trainrun/trainrun/providers"
)

// Host returns the "host" environment kind: what the compute has installed,
// used as it is. Nothing is built; the interpreter the compute resolves
// (its path and version) is part of the identity, so a changed interpreter
// shows in the plan.
func Host() providers.EnvironmentKind { return hostKind{} }

type hostKind struct{}

func (hostKind) Schema() providers.Schema {
	return providers.Schema{Attrs: []providers.Attr{
		{Name: "python", Type: cty.String, Doc: "The interpreter; exported as TRAINRUN_PYTHON, and its directory put first on PATH when it is a path. Default: python3 as PATH finds it."},
		{Name: "path", Type: cty.List(cty.String), Doc: "Directories put first on the run's PATH, in this order."},
		{Name: "lock", Type: cty.Bool, Doc: "Make the installed packages (importlib.metadata's name==version) part of the fingerprint of the runs that use it. Default false: they are recorded with each run, and a plan says when they changed, but an upgrade does not re-run anything."},
	}}
}

type hostSettings struct {
	python   string
	declared bool // python was written
	path     []string
	lock     bool // the packages are part of the identity
}

func decodeHost(v providers.Values) (hostSettings, []providers.Problem) {
	var s hostSettings
	var ps []providers.Problem
	var p *providers.Problem
	if s.python, s.declared, p = str(v, "python"); p != nil {
		ps = append(ps, *p)
	} else if s.declared && strings.TrimSpace(s.python) == "" {
		ps = append(ps, *problem("python", "python must name an interpreter, such as \"python3\" or \"/usr/bin/python3\"."))
	}
	if s.python == "" {
		s.python = "python3"
	}
	s.path, _, p = list(v, "path")
	ps = appendProblem(ps, p)
	s.lock, p = boolean(v, "lock")
	ps = appendProblem(ps, p)
	for _, d := range s.path {
		if d == "" || strings.Contains(d, ":") {
			ps = append(ps, *problem("path", "Each path entry must be a directory, without ':' (%q).", d))
			break
		}
	}
	return s, ps
}

func (hostKind) Validate(v providers.Values) []providers.Problem {
	_, ps := decodeHost(v)
	return ps
}

func (hostKind) Open(name string, v providers.Values, env providers.Env) (providers.Environment, error) {
	s, ps := decodeHost(v)
	if err := firstProblem("host", name, ps); err != nil {
		return nil, err
	}
	h := &host{name: name, s: s}
	if env.DataDir != "" {
		h.cacheDir = filepath.Join(env.DataDir, "cache", "host-packages")
	}
	return h, nil
}

type host struct {
	name     string
	s        hostSettings
	cacheDir string // where package sets are cached by packagesKey; "": not cached
}

// prepend is the run's PATH prefix: the path entries, then the
// interpreter's directory when python is a path.
func (h *host) prepend() []string {
	dirs := append([]string(nil), h.s.path...)
	if path.IsAbs(h.s.python) {
		dirs = append(dirs, path.Dir(h.s.python))
	}
	return dirs
}

// probeScript resolves the interpreter with the run's PATH and has it say
// where and what it is, the machine's name, and the modification times
// (ns) of the directories packages are installed in: installing, removing
// or upgrading a package changes one of them. Arguments: PREPEND PYTHON.
const probeScript = `[ -z "$1" ] || PATH=$1:$PATH
command -v "$2" >/dev/null 2>&1 || { echo trainrun-no-python; exit 0; }
exec "$2" -I -c '
import os, site, sys
print(sys.executable)
print(sys.implementation.name, "%d.%d.%d" % sys.version_info[:3], sys.version_info.releaselevel)
print("node", os.uname().nodename)
for d in site.getsitepackages() + [site.getusersitepackages()]:
    try:
        print("site", os.stat(d).st_mtime_ns, d)
    except OSError:
        pass
'`

// packagesScript lists the distributions the interpreter imports from
// (the first of each name on sys.path, as import finds it), as
// "name==version" lines sorted by name, after a comment line (an
// interpreter with no packages has a lock too). Arguments: PREPEND PYTHON,
// as probeScript's.
const packagesScript = `[ -z "$1" ] || PATH=$1:$PATH
exec "$2" -E -c '
import importlib.metadata as m, re
print("# installed distributions (importlib.metadata)")
seen = {}
for d in m.distributions():
    n = d.metadata["Name"]
    if not n:
        continue
    k = re.sub(r"[-_.]+", "-", n).lower()
    if k not in seen:
        seen[k] = "%s==%s" % (n, d.version)
for k in sorted(seen):
    print(seen[k])
'`

// packagesKey names a package set in the cache: the machine, the
// interpreter, and its package directories' modification times ("MTIME
// DIR" lines). Any install or removal there gives another key.
func packagesKey(node, python string, sites []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "trainrun-host-packages-1\x00%s\x00%s\x00", node, python)
	for _, s := range sites {
		fmt.Fprintf(h, "%s\n", s)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// packages returns the package set of python on m: from the cache when
// its key is there, else by asking the interpreter (once per key).
func (h *host) packages(ctx context.Context, m providers.Machine, python, node string, sites []string) (string, error) {
	var cached string
	if h.cacheDir != "" {
		cached = filepath.Join(h.cacheDir, packagesKey(node, python, sites))
		if b, err := os.ReadFile(cached); err == nil {
			return string(b), nil
		}
	}
	out, err := m.Run(ctx, []string{"sh", "-c", packagesScript, "trainrun-packages", strings.Join(h.prepend(), ":"), h.s.python}, nil)
	if err != nil {
		return "", fmt.Errorf("environment %s: list the packages of %s: %w", h.name, python, err)
	}
	if cached != "" {
		// A cache: failing to keep it costs the next plan a look.
		if os.MkdirAll(h.cacheDir, 0o700) == nil {
			_ = atomicfile.WriteFile(cached, out, 0o600, atomicfile.Options{})
		}
	}
	return string(out), nil
}

// Spec asks m which interpreter a run would get. A python that was written
// and is missing is an error; the default python3, missing, is recorded
// as missing.
func (h *host) Spec(ctx context.Context, m providers.Machine) (providers.EnvSpec, error) {
	spec := providers.EnvSpec{Kind: "host", Attrs: map[string]string{}}
	if len(h.s.path) > 0 {
		b, _ := json.Marshal(h.s.path)
		spec.Attrs["path"] = string(b)
	}
	if m == nil {
		return spec, fmt.Errorf("host environment %s: no machine to look at", h.name)
	}
	out, err := m.Run(ctx, []string{"sh", "-c", probeScript, "trainrun-probe", strings.Join(h.prepend(), ":"), h.s.python}, nil)
	if err != nil {
		return spec, fmt.Errorf("environment %s: ask %s for its version: %w", h.name, h.s.python, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	switch {
	case len(lines) == 1 && lines[0] == "trainrun-no-python" && !h.s.declared:
		spec.Attrs["python"] = "none"
	case len(lines) == 1 && lines[0] == "trainrun-no-python":
		return spec, fmt.Errorf("environment %s: %s is not installed on the compute (or not on its PATH)", h.name, h.s.python)
	case len(lines) >= 2 && !strings.HasPrefix(lines[0], "trainrun-"):
		spec.Attrs["python"] = lines[0]
		spec.Attrs["python_version"] = strings.TrimSuffix(lines[1], " final")
		var node string
		var sites []string
		for _, l := range lines[2:] {
			if n, ok := strings.CutPrefix(l, "node "); ok {
				node = n
			} else if s, ok := strings.CutPrefix(l, "site "); ok {
				sites = append(sites, s)
			}
		}
		pkgs, err := h.packages(ctx, m, lines[0], node, sites)
		if err != nil {
			return spec, err
		}
		spec.Packages = pkgs
		if h.s.lock {
			spec.Attrs["packages.sha256"] = sha([]byte(pkgs))
		}
	default:
		return spec, fmt.Errorf("environment %s: %s says %q, not its path and version", h.name, h.s.python, firstLine(string(out)))
	}
	return withID(spec), nil
}

func (h *host) Prepare(_ context.Context, _ providers.Machine, _ string, spec providers.EnvSpec) (*providers.Prepared, error) {
	p := &providers.Prepared{Env: map[string]string{}, Lock: spec.Packages}
	if py := spec.Attrs["python"]; py != "" && py != "none" {
		p.Location = py
		p.Env["TRAINRUN_PYTHON"] = py
	}
	if dirs := h.prepend(); len(dirs) > 0 {
		p.Env[providers.PathPrependVar] = strings.Join(dirs, ":")
	}
	return p, nil
}
