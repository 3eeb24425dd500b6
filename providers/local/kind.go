package local

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/providers/runner"
)

// Kind returns the "local" compute kind: runs on the machine trainrun runs
// on.
func Kind() providers.ComputeKind { return kind{} }

type kind struct{}

func (kind) Schema() providers.Schema {
	return providers.Schema{Attrs: []providers.Attr{
		{Name: "max_runs", Type: cty.Number, Doc: "How many runs may be live at once on this compute. Default: the number of CPUs."},
		{Name: "gpus", Type: cty.Number, Doc: "How many GPUs runs are scheduled on. Default: the GPUs `nvidia-smi -L` lists, or 0."},
		{Name: "workdir", Type: cty.String, Doc: "Where run directories are made; relative to the working directory. Default: .trainrun/local/NAME."},
	}}
}

func (kind) Validate(v providers.Values) []providers.Problem {
	_, problems := decode(v)
	return problems
}

// settings are the decoded attributes; -1 means "not set".
type settings struct {
	maxRuns, gpus int
	workdir       string
}

func decode(v providers.Values) (settings, []providers.Problem) {
	s := settings{maxRuns: -1, gpus: -1}
	var problems []providers.Problem
	if n, p := runner.Count(v, "max_runs", 1, runner.MaxCount); p != nil {
		problems = append(problems, *p)
	} else {
		s.maxRuns = n
	}
	if n, p := runner.Count(v, "gpus", 0, runner.MaxCount); p != nil {
		problems = append(problems, *p)
	} else {
		s.gpus = n
	}
	if w, ok := v["workdir"]; ok && w.IsKnown() && !w.IsNull() {
		w, _ = w.UnmarkDeep() // a value derived from a sensitive variable
		if w, err := convert.Convert(w, cty.String); err != nil {
			problems = append(problems, providers.Problem{Attr: "workdir", Summary: "Invalid workdir", Detail: "workdir must be a string."})
		} else if s.workdir = w.AsString(); s.workdir == "" || strings.IndexByte(s.workdir, 0) >= 0 {
			problems = append(problems, providers.Problem{Attr: "workdir", Summary: "Invalid workdir", Detail: "workdir must be a non-empty path."})
		}
	}
	return s, problems
}

// Open returns the compute. It detects nothing and starts nothing: GPUs are
// detected on first use.
func (kind) Open(name string, v providers.Values, env providers.Env) (providers.Compute, error) {
	s, problems := decode(v)
	if len(problems) > 0 {
		return nil, fmt.Errorf("compute %q: %s", name, problems[0].Detail)
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("compute %q: the name cannot name a directory", name)
	}
	workdir, err := resolveWorkdir(s.workdir, name, env)
	if err != nil {
		return nil, fmt.Errorf("compute %q: %w", name, err)
	}
	if s.maxRuns < 0 {
		s.maxRuns = runtime.NumCPU()
	}
	return runner.New(runner.Options{
		Name:    name,
		Kind:    "local",
		Exec:    executor.Local{},
		Workdir: workdir,
		MaxRuns: s.maxRuns,
		GPUs:    s.gpus,
		BaseEnv: runner.Inherited(os.Environ()),
	}), nil
}

// resolveWorkdir makes workdir absolute (runner.ResolveWorkdir); the
// default is env.DataDir/local/NAME.
func resolveWorkdir(workdir, name string, env providers.Env) (string, error) {
	if workdir == "" {
		data := env.DataDir
		if data == "" {
			data = filepath.Join(env.Dir, ".trainrun")
		}
		workdir = filepath.Join(data, "local", name)
	}
	return runner.ResolveWorkdir(workdir, env)
}
