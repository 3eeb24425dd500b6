package planner_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
)

const reproConfig = `
variable "token" {
  type      = string
  sensitive = true
}
compute "local" "a" {}
compute "local" "b" {}
environment "host" "py" {
  python = "/usr/bin/python3"
}
experiment "t" {
  compute     = compute.a
  environment = environment.py
  source_dir  = "src"
  command     = ["python3", "t.py", "--token=${var.token}", param.lr]
  params      = { lr = 0.5 }
  env         = { PLAIN = "x" }
  timeout     = "90m"
  retries     = 2
}
`

func TestReproInstance(t *testing.T) {
	tests := []struct {
		name    string
		change  func(p *project)
		wantErr string
	}{
		{"same configuration", func(p *project) {}, ""},
		{"source changed since: the record still says what ran", func(p *project) { p.write("src/t.py", "print(2)\n") }, ""},
		{"another secret", func(p *project) { p.vars = []string{"token=other"} }, "gives experiment.t other ones now"},
		{"instance gone", func(p *project) { edit(p, `experiment "t"`, `experiment "u"`) }, "no longer in the configuration to take them from"},
		{"compute gone", func(p *project) {
			edit(p, `compute     = compute.a`, `compute     = compute.b`)
			edit(p, `compute "local" "a" {}`, ``)
		},
			`compute "a", where run`},
		{"environment changed", func(p *project) { edit(p, `"/usr/bin/python3"`, `"/usr/bin/python3.11"`) }, "environment py changed since run"},
		{"environment gone", func(p *project) {
			edit(p, "environment = environment.py", "")
			edit(p, "environment \"host\" \"py\" {\n  python = \"/usr/bin/python3\"\n}", "")
		}, `environment "py", which run`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProject(t, map[string]string{"trainrun.hcl": reproConfig, "src/t.py": "print(1)\n"})
			p.vars = []string{"token=hunter2"}
			p.apply()
			run := p.open().Latest("experiment.t")
			tt.change(p)
			cfg := p.load()
			inst, err := planner.ReproInstance(cfg, run, planner.EnvironmentFingerprint(cfg, run.Environment))
			if tt.wantErr != "" {
				if !errors.Is(err, planner.ErrNotReproducible) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrNotReproducible saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "other") && strings.Contains(err.Error(), "token=other") {
					t.Error("the error shows a sensitive value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The clear command, though the record has it redacted.
			if want := []string{"python3", "t.py", "--token=hunter2", "0.5"}; !slices.Equal(inst.Command, want) {
				t.Errorf("command = %q, want %q", inst.Command, want)
			}
			if !strings.Contains(strings.Join(run.Inputs.Command, " "), "(sensitive)") {
				t.Errorf("recorded command %q is not redacted", run.Inputs.Command)
			}
			if inst.Compute != "a" || inst.Environment != "py" || inst.Timeout.String() != "1h30m0s" || inst.Retries != 2 ||
				inst.Env["PLAIN"] != "x" || string(inst.Params["lr"]) != "0.5" || inst.SourceDir != run.Inputs.SourceDir {
				t.Errorf("instance = %+v", inst)
			}
		})
	}
}

func TestReproInstanceWithoutSecrets(t *testing.T) {
	src := strings.Replace(reproConfig, `"--token=${var.token}", `, "", 1)
	p := newProject(t, map[string]string{"trainrun.hcl": src, "src/t.py": "print(1)\n"})
	p.vars = []string{"token=unused-secret"}
	p.apply()
	run := p.open().Latest("experiment.t")
	// The command changed since: the recorded one is what runs again.
	edit(p, `"t.py"`, `"t2.py"`)
	cfg := p.load()
	envFP := planner.EnvironmentFingerprint(cfg, run.Environment)
	inst, err := planner.ReproInstance(cfg, run, envFP)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"python3", "t.py", "0.5"}; !slices.Equal(inst.Command, want) {
		t.Errorf("command = %q, want the recorded %q", inst.Command, want)
	}
	if _, err := planner.ReproInstance(nil, run, envFP); !errors.Is(err, planner.ErrNotReproducible) {
		t.Errorf("without a configuration: %v", err)
	}
	run.Inputs.Snapshot = ""
	if _, err := planner.ReproInstance(cfg, run, envFP); !errors.Is(err, planner.ErrNotReproducible) {
		t.Errorf("without a snapshot: %v", err)
	}
	run.Inputs = nil
	run.Status = providers.Failed
	if _, err := planner.ReproInstance(cfg, run, envFP); !errors.Is(err, planner.ErrNotReproducible) {
		t.Errorf("without inputs: %v", err)
	}
}
