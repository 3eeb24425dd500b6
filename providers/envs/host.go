package envs

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/zclconf/go-cty/cty"

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
	}}
}

type hostSettings struct {
	python   string
	declared bool // python was written
	path     []string
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

func (hostKind) Open(name string, v providers.Values, _ providers.Env) (providers.Environment, error) {
	s, ps := decodeHost(v)
	if err := firstProblem("host", name, ps); err != nil {
		return nil, err
	}
	return &host{name: name, s: s}, nil
}

type host struct {
	name string
	s    hostSettings
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
// where and what it is. Arguments: PREPEND PYTHON.
const probeScript = `[ -z "$1" ] || PATH=$1:$PATH
command -v "$2" >/dev/null 2>&1 || { echo trainrun-no-python; exit 0; }
exec "$2" -I -S -c 'import sys; print(sys.executable); print(sys.implementation.name, "%d.%d.%d" % sys.version_info[:3], sys.version_info.releaselevel)'`

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
	case len(lines) == 2:
		spec.Attrs["python"] = lines[0]
		spec.Attrs["python_version"] = strings.TrimSuffix(lines[1], " final")
	default:
		return spec, fmt.Errorf("environment %s: %s says %q, not its path and version", h.name, h.s.python, firstLine(string(out)))
	}
	return withID(spec), nil
}

func (h *host) Prepare(_ context.Context, _ providers.Machine, _ string, spec providers.EnvSpec) (*providers.Prepared, error) {
	p := &providers.Prepared{Env: map[string]string{}}
	if py := spec.Attrs["python"]; py != "" && py != "none" {
		p.Location = py
		p.Env["TRAINRUN_PYTHON"] = py
	}
	if dirs := h.prepend(); len(dirs) > 0 {
		p.Env[providers.PathPrependVar] = strings.Join(dirs, ":")
	}
	return p, nil
}
