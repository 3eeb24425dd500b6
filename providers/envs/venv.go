package envs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
)

// Venv returns the "venv" environment kind: a Python virtual environment
// built from a requirement list with pip, once per spec.
func Venv() providers.EnvironmentKind { return venvKind{} }

type venvKind struct{}

func (venvKind) Schema() providers.Schema {
	return providers.Schema{Attrs: []providers.Attr{
		{Name: "python", Type: cty.String, Doc: "The interpreter that creates the environment. Default: python3."},
		{Name: "requirements", Type: cty.List(cty.String), Doc: "Requirements, as pip takes them: \"scikit-learn==1.2.1\"."},
		{Name: "requirements_file", Type: cty.String, Doc: "A requirements file, relative to the working directory; instead of requirements."},
		{Name: "pip_args", Type: cty.List(cty.String), Doc: "Further arguments of pip install: [\"--no-index\", \"--find-links\", \"/wheels\"]."},
		{Name: "system_site_packages", Type: cty.Bool, Doc: "Let the environment see the interpreter's installed packages. Default: false."},
	}}
}

// venvSettings are the decoded attributes.
type venvSettings struct {
	python           string
	requirements     []string
	requirementsFile string
	pipArgs          []string
	systemSite       bool
}

func decodeVenv(v providers.Values) (venvSettings, []providers.Problem) {
	var s venvSettings
	var ps []providers.Problem
	var p *providers.Problem
	var ok bool
	if s.python, ok, p = str(v, "python"); p != nil {
		ps = append(ps, *p)
	} else if ok && strings.TrimSpace(s.python) == "" {
		ps = append(ps, *problem("python", "python must name an interpreter, such as \"python3\" or \"/usr/bin/python3.11\"."))
	}
	if s.python == "" {
		s.python = "python3"
	}
	s.requirements, _, p = list(v, "requirements")
	ps = appendProblem(ps, p)
	for _, r := range s.requirements {
		if strings.ContainsAny(r, "\n\r") {
			ps = append(ps, *problem("requirements", "A requirement cannot span lines: %q.", r))
		}
	}
	s.requirementsFile, ok, p = str(v, "requirements_file")
	ps = appendProblem(ps, p)
	if ok && s.requirementsFile == "" {
		ps = append(ps, *problem("requirements_file", "requirements_file must be a path."))
	}
	if ok && len(s.requirements) > 0 {
		ps = append(ps, *problem("requirements_file", "Give requirements or requirements_file, not both."))
	}
	s.pipArgs, _, p = list(v, "pip_args")
	ps = appendProblem(ps, p)
	s.systemSite, p = boolean(v, "system_site_packages")
	ps = appendProblem(ps, p)
	return s, ps
}

func (venvKind) Validate(v providers.Values) []providers.Problem {
	_, ps := decodeVenv(v)
	return ps
}

func (venvKind) Open(name string, v providers.Values, env providers.Env) (providers.Environment, error) {
	s, ps := decodeVenv(v)
	if err := firstProblem("venv", name, ps); err != nil {
		return nil, err
	}
	e := &venv{name: name, s: s}
	spec := providers.EnvSpec{Kind: "venv", Builds: true, Attrs: map[string]string{"python": s.python}}
	if len(s.pipArgs) > 0 {
		b, _ := json.Marshal(s.pipArgs)
		spec.Attrs["pip_args"] = string(b)
	}
	if s.systemSite {
		spec.Attrs["system_site_packages"] = "true"
	}
	if s.requirementsFile != "" {
		p := s.requirementsFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(env.Dir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("environment %q: read requirements_file: %w", name, err)
		}
		reqs, err := parseRequirementsFile(data)
		if err != nil {
			return nil, fmt.Errorf("environment %q: requirements_file %s: %w", name, s.requirementsFile, err)
		}
		spec.Requirements = normalizeRequirements(reqs)
		spec.Attrs["requirements_file.sha256"] = sha(data)
		e.input = data
	} else {
		spec.Requirements = normalizeRequirements(s.requirements)
		if len(spec.Requirements) > 0 {
			e.input = []byte(strings.Join(spec.Requirements, "\n") + "\n")
		}
	}
	e.spec = withID(spec)
	return e, nil
}

// parseRequirementsFile returns the requirement lines of a pip requirements
// file. Lines that name other files (-r, -c, -e) are refused: the file is
// sent to the compute alone, where they would not be found.
func parseRequirementsFile(data []byte) ([]string, error) {
	var reqs []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "-") {
			opt, _, _ := strings.Cut(line, " ")
			opt, _, _ = strings.Cut(opt, "=")
			switch opt {
			case "-r", "--requirement", "-c", "--constraint", "-e", "--editable":
				return nil, fmt.Errorf("%s names another file, which is not sent to the compute; list its requirements instead", opt)
			}
			continue // an option line (--index-url …): pip reads it from the file
		}
		reqs = append(reqs, line)
	}
	return reqs, sc.Err()
}

type venv struct {
	name  string
	s     venvSettings
	spec  providers.EnvSpec
	input []byte // what pip install -r reads
}

func (e *venv) Spec(context.Context, providers.Machine) (providers.EnvSpec, error) {
	return e.spec, nil
}

// steps are the commands that build the environment.
func (e *venv) steps() []step {
	create := []string{e.s.python, "-m", "venv"}
	if e.s.systemSite {
		create = append(create, "--system-site-packages")
	}
	steps := []step{{argv: append(create, prefixWord)}}
	py := prefixWord + "/bin/python"
	if len(e.input) > 0 {
		install := []string{py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"}
		install = append(install, e.s.pipArgs...)
		steps = append(steps, step{argv: append(install, "-r", inputWord)})
	}
	steps = append(steps, step{argv: []string{py, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"}, stdout: prefixWord + "/" + lockFile})
	return steps
}

func (e *venv) Prepare(ctx context.Context, m providers.Machine, dir string, spec providers.EnvSpec) (*providers.Prepared, error) {
	if spec.ID != e.spec.ID {
		return nil, fmt.Errorf("environment %q changed since it was planned (a requirements file was edited?); plan again", e.name)
	}
	lock, built, err := buildDir(ctx, m, dir, spec.ID, e.steps(), e.input, ".txt")
	if err != nil {
		return nil, fmt.Errorf("venv %s: %w", e.name, err)
	}
	loc := path.Join(dir, spec.ID)
	return &providers.Prepared{
		Location: loc,
		Built:    built,
		Created:  true,
		Lock:     lock,
		Env: map[string]string{
			"VIRTUAL_ENV":            loc,
			"TRAINRUN_PYTHON":        loc + "/bin/python",
			providers.PathPrependVar: loc + "/bin",
		},
	}, nil
}

func (venvKind) Remove(ctx context.Context, m providers.Machine, dir, location string) error {
	return removeAt(ctx, m, dir, location)
}

// removeAt removes the directory environment at location, which must be
// an environment directory of dir.
func removeAt(ctx context.Context, m providers.Machine, dir, location string) error {
	if path.Dir(location) != dir {
		return fmt.Errorf("remove %s: not an environment of %s", location, dir)
	}
	return removeDir(ctx, m, dir, path.Base(location))
}
