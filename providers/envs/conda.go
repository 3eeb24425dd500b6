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

// Conda returns the "conda" environment kind: a prefix built by
// micromamba, mamba or conda (the first the compute has), from an
// environment file or a dependency list, once per spec.
func Conda() providers.EnvironmentKind { return condaKind{} }

type condaKind struct{}

func (condaKind) Schema() providers.Schema {
	return providers.Schema{Attrs: []providers.Attr{
		{Name: "file", Type: cty.String, Doc: "An environment.yml, relative to the working directory."},
		{Name: "dependencies", Type: cty.List(cty.String), Doc: "Packages, as conda takes them: \"numpy=1.26\"; instead of file."},
		{Name: "channels", Type: cty.List(cty.String), Doc: "Channels for dependencies, in priority order; only these are used."},
	}}
}

type condaSettings struct {
	file     string
	deps     []string
	channels []string
}

func decodeConda(v providers.Values) (condaSettings, []providers.Problem) {
	var s condaSettings
	var ps []providers.Problem
	var p *providers.Problem
	var hasFile, hasDeps bool
	s.file, hasFile, p = str(v, "file")
	ps = appendProblem(ps, p)
	if hasFile && s.file == "" {
		ps = append(ps, *problem("file", "file must be a path to an environment.yml."))
	}
	s.deps, hasDeps, p = list(v, "dependencies")
	ps = appendProblem(ps, p)
	s.channels, _, p = list(v, "channels")
	ps = appendProblem(ps, p)
	switch {
	case hasFile && hasDeps:
		ps = append(ps, *problem("dependencies", "Give file or dependencies, not both."))
	case hasFile && len(s.channels) > 0:
		ps = append(ps, *problem("channels", "channels go with dependencies; an environment file lists its own channels."))
	case !hasFile && len(s.deps) == 0 && len(ps) == 0:
		ps = append(ps, providers.Problem{Summary: "Empty conda environment", Detail: "A conda environment needs file = \"environment.yml\" or dependencies = [...]."})
	}
	for _, d := range append(append([]string(nil), s.deps...), s.channels...) {
		if strings.TrimSpace(d) == "" || strings.ContainsAny(d, "\n\r") {
			ps = append(ps, *problem("dependencies", "Each dependency and channel must be one non-empty line (%q).", d))
			break
		}
	}
	return s, ps
}

func (condaKind) Validate(v providers.Values) []providers.Problem {
	_, ps := decodeConda(v)
	return ps
}

func (condaKind) Open(name string, v providers.Values, env providers.Env) (providers.Environment, error) {
	s, ps := decodeConda(v)
	if err := firstProblem("conda", name, ps); err != nil {
		return nil, err
	}
	e := &conda{name: name, s: s}
	spec := providers.EnvSpec{Kind: "conda", Builds: true, Attrs: map[string]string{}}
	if s.file != "" {
		p := s.file
		if !filepath.IsAbs(p) {
			p = filepath.Join(env.Dir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("environment %q: read file: %w", name, err)
		}
		e.input = data
		spec.Requirements = normalizeCondaDeps(environmentFileDeps(data))
		spec.Attrs["file.sha256"] = sha(data)
	} else {
		for i, d := range s.deps {
			s.deps[i] = strings.TrimSpace(d)
		}
		spec.Requirements = normalizeCondaDeps(s.deps)
		if len(s.channels) > 0 {
			b, _ := json.Marshal(s.channels) // order matters: priority
			spec.Attrs["channels"] = string(b)
		}
	}
	e.spec = withID(spec)
	return e, nil
}

// normalizeCondaDeps lower-cases package names (conda's are) and sorts.
func normalizeCondaDeps(deps []string) []string {
	out := make([]string, 0, len(deps))
	for _, d := range deps {
		d = strings.TrimSpace(d)
		i := 0
		for i < len(d) && isCondaNameByte(d[i]) {
			i++
		}
		out = append(out, strings.ToLower(d[:i])+strings.Join(strings.Fields(d[i:]), ""))
	}
	return normalizeSorted(out)
}

func isCondaNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c == '/'
}

func normalizeSorted(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sortStrings(out)
	return out
}

// environmentFileDeps reads the dependency list of an environment.yml
// well enough to say which packages changed: the "- item" lines below
// dependencies:, pip's nested list as "pip:NAME". The file's content
// hash, not this list, decides whether the environment is rebuilt.
func environmentFileDeps(data []byte) []string {
	var deps []string
	in, pip := false, false
	pipIndent := 0
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		text := strings.TrimSpace(line)
		if indent == 0 {
			in, pip = text == "dependencies:", false
			continue
		}
		if !in {
			continue
		}
		item, ok := strings.CutPrefix(text, "- ")
		if !ok {
			continue
		}
		item = strings.Trim(strings.TrimSpace(item), `"'`)
		switch {
		case item == "pip:":
			pip, pipIndent = true, indent
		case pip && indent > pipIndent:
			deps = append(deps, "pip:"+item)
		default:
			pip = false
			deps = append(deps, item)
		}
	}
	return deps
}

type conda struct {
	name  string
	s     condaSettings
	spec  providers.EnvSpec
	input []byte // the environment file
}

func (e *conda) Spec(context.Context, providers.Machine) (providers.EnvSpec, error) {
	return e.spec, nil
}

// condaTools are the programs that build conda environments, in the order
// they are preferred.
var condaTools = []string{"micromamba", "mamba", "conda"}

// findTool says which of condaTools m has.
func findTool(ctx context.Context, m providers.Machine) (string, error) {
	script := `for t do if command -v "$t" >/dev/null 2>&1; then echo "$t"; exit 0; fi; done; exit 3`
	out, err := m.Run(ctx, append([]string{"sh", "-c", script, "trainrun-find"}, condaTools...), nil)
	if err != nil {
		return "", fmt.Errorf("none of %s is installed on the compute (or on its PATH)", strings.Join(condaTools, ", "))
	}
	return strings.TrimSpace(string(out)), nil
}

// steps are the commands that build the environment with tool.
func (e *conda) steps(tool string) []step {
	var create []string
	switch {
	case e.s.file != "" && tool == "micromamba":
		create = []string{tool, "create", "--yes", "--prefix", prefixWord, "--file", inputWord}
	case e.s.file != "":
		create = []string{tool, "env", "create", "--prefix", prefixWord, "--file", inputWord}
	default:
		create = []string{tool, "create", "--yes", "--prefix", prefixWord}
		if len(e.s.channels) > 0 {
			create = append(create, "--override-channels")
			for _, c := range e.s.channels {
				create = append(create, "--channel", c)
			}
		}
		create = append(create, e.s.deps...)
	}
	lock := []string{tool, "list", "--prefix", prefixWord, "--explicit"}
	if tool == "micromamba" {
		lock = []string{tool, "env", "export", "--prefix", prefixWord, "--explicit"}
	}
	return []step{{argv: create}, {argv: lock, stdout: prefixWord + "/" + lockFile}}
}

func (e *conda) Prepare(ctx context.Context, m providers.Machine, dir string, spec providers.EnvSpec) (*providers.Prepared, error) {
	if spec.ID != e.spec.ID {
		return nil, fmt.Errorf("environment %q changed since it was planned (its file was edited?); plan again", e.name)
	}
	loc := path.Join(dir, spec.ID)
	lock, err := m.ReadFile(ctx, path.Join(loc, lockFile))
	built := false
	if err != nil {
		// Not there (or unreadable): find a tool and build under the lock,
		// which looks again.
		tool, terr := findTool(ctx, m)
		if terr != nil {
			return nil, fmt.Errorf("conda %s: %w", e.name, terr)
		}
		var l string
		l, built, err = buildDir(ctx, m, dir, spec.ID, e.steps(tool), e.input, ".yml")
		if err != nil {
			return nil, fmt.Errorf("conda %s: %w", e.name, err)
		}
		lock = []byte(l)
	}
	return &providers.Prepared{
		Location: loc,
		Built:    built,
		Created:  true,
		Lock:     string(lock),
		Env: map[string]string{
			"CONDA_PREFIX":           loc,
			"TRAINRUN_PYTHON":        loc + "/bin/python",
			providers.PathPrependVar: loc + "/bin",
		},
	}, nil
}

func (condaKind) Remove(ctx context.Context, m providers.Machine, dir, location string) error {
	return removeAt(ctx, m, dir, location)
}
