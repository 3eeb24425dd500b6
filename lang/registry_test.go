package lang

import (
	"errors"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
)

// fakeCompute is a compute kind with a fixed schema and an optional
// validation rule, for decoding tests.
type fakeCompute struct {
	schema   providers.Schema
	validate func(providers.Values) []providers.Problem
}

func (f fakeCompute) Schema() providers.Schema { return f.schema }

func (f fakeCompute) Validate(v providers.Values) []providers.Problem {
	if f.validate == nil {
		return nil
	}
	return f.validate(v)
}

func (f fakeCompute) Open(string, providers.Values, providers.Env) (providers.Compute, error) {
	return nil, errors.New("fake compute kinds cannot be opened")
}

// fakeEnv is an environment kind with a fixed schema that accepts every
// value.
type fakeEnv providers.Schema

func (f fakeEnv) Schema() providers.Schema                    { return providers.Schema(f) }
func (fakeEnv) Validate(providers.Values) []providers.Problem { return nil }

func (fakeEnv) Open(string, providers.Values, providers.Env) (providers.Environment, error) {
	return nil, errors.New("fake environment kinds cannot be opened")
}

// testRegistry has local, ssh and slurm compute kinds and host, venv and
// container environment kinds, shaped like the real ones.
func testRegistry() *providers.Registry {
	return &providers.Registry{
		Computes: map[string]providers.ComputeKind{
			"local": fakeCompute{schema: providers.Schema{Attrs: []providers.Attr{
				{Name: "max_runs", Type: cty.Number},
				{Name: "gpus", Type: cty.Number},
			}}, validate: func(v providers.Values) []providers.Problem {
				if m, ok := v["max_runs"]; ok && !m.IsNull() && m.LessThan(cty.NumberIntVal(1)).True() {
					return []providers.Problem{{Attr: "max_runs", Summary: "Invalid max_runs", Detail: "max_runs must be at least 1."}}
				}
				return nil
			}},
			"ssh": fakeCompute{schema: providers.Schema{Attrs: []providers.Attr{
				{Name: "host", Type: cty.String, Required: true},
				{Name: "port", Type: cty.Number},
				{Name: "user", Type: cty.String},
				{Name: "password", Type: cty.String, Sensitive: true},
			}}},
			"slurm": fakeCompute{schema: providers.Schema{Attrs: []providers.Attr{
				{Name: "login", Type: cty.String, Ref: "compute"},
				{Name: "partition", Type: cty.String},
			}}},
		},
		Environments: map[string]providers.EnvironmentKind{
			"host": fakeEnv{Attrs: []providers.Attr{{Name: "python", Type: cty.String}}},
			"venv": fakeEnv{Attrs: []providers.Attr{
				{Name: "python", Type: cty.String},
				{Name: "requirements", Type: cty.List(cty.String)},
				{Name: "requirements_file", Type: cty.String},
				{Name: "pip_args", Type: cty.List(cty.String)},
			}},
			"container": fakeEnv{
				Attrs: []providers.Attr{{Name: "image", Type: cty.String}, {Name: "runtime", Type: cty.String}},
				Blocks: []providers.Block{{Name: "build", Attrs: []providers.Attr{
					{Name: "context", Type: cty.String},
					{Name: "dockerfile", Type: cty.String},
				}}},
			},
		},
	}
}
