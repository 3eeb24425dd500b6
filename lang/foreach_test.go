package lang

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const forEachBase = `
compute "local" "l" {}
experiment "prep" {
  compute = compute.l
  command = ["prep"]
}
experiment "train" {
  compute = compute.l
  command = ["train", param.lr]
  params  = { epochs = 3 }
  sweep {
    grid = { lr = [0.1, 0.2] }
  }
}
`

// TestForEach: for_each matches instances by key, with each.key,
// each.params (also param.*) and each.outputs in inputs; a sweep beside it
// makes the cross product; each instance waits for its own match only.
func TestForEach(t *testing.T) {
	cfg := mustLoad(t, one(forEachBase+`
experiment "eval" {
  compute  = compute.l
  for_each = experiment.train
  inputs   = { model = each.outputs, data = experiment.prep.outputs }
  command  = ["eval", each.key, param.lr, each.params.epochs, param.split, param.epochs]
  sweep {
    grid = { split = ["val", "test"] }
  }
}
experiment "report" {
  compute  = compute.l
  for_each = experiment.eval
  command  = ["report", each.key]
}
experiment "single" {
  compute  = compute.l
  for_each = experiment.prep
  inputs   = { data = each.outputs }
  command  = ["x"]
}
`), testOptions())
	var got []string
	byAddr := map[string]*Instance{}
	for _, in := range cfg.Experiments["eval"].Instances {
		got = append(got, in.Address)
		byAddr[in.Address] = in
	}
	want := []string{`experiment.eval["lr=0.1,split=test"]`, `experiment.eval["lr=0.1,split=val"]`, `experiment.eval["lr=0.2,split=test"]`, `experiment.eval["lr=0.2,split=val"]`}
	if !slices.Equal(got, want) {
		t.Fatalf("instances %q, want %q", got, want)
	}
	in := byAddr[`experiment.eval["lr=0.2,split=val"]`]
	if !slices.Equal(in.Command, []string{"eval", "lr=0.2", "0.2", "3", "val", "3"}) {
		t.Errorf("command %q", in.Command)
	}
	if in.Each != `experiment.train["lr=0.2"]` {
		t.Errorf("Each = %q", in.Each)
	}
	if !slices.Equal(in.DependsOn, []string{"experiment.prep", `experiment.train["lr=0.2"]`}) {
		t.Errorf("DependsOn = %q, want prep and its own train instance only", in.DependsOn)
	}
	if !slices.Equal(in.Inputs["model"], []string{`experiment.train["lr=0.2"]`}) || !slices.Equal(in.Inputs["data"], []string{"experiment.prep"}) {
		t.Errorf("Inputs = %q", in.Inputs)
	}
	if in.InputKeys != nil {
		t.Errorf("InputKeys = %q: one matched instance is not a whole sweep", in.InputKeys)
	}
	for name, want := range map[string]string{"lr": "0.2", "epochs": "3", "split": `"val"`} {
		if string(in.Params[name]) != want {
			t.Errorf("param %s = %s, want %s", name, in.Params[name], want)
		}
	}
	// Chained: report has eval's keys, its params included.
	var rep []string
	for _, in := range cfg.Experiments["report"].Instances {
		rep = append(rep, in.Address)
	}
	if len(rep) != 4 || rep[0] != `experiment.report["lr=0.1,split=test"]` {
		t.Errorf("report instances %q", rep)
	}
	if r := cfg.Experiments["report"].Instances[0]; string(r.Params["split"]) != `"test"` || !slices.Equal(r.DependsOn, []string{`experiment.eval["lr=0.1,split=test"]`}) {
		t.Errorf("report: params %s, deps %q", r.Params, r.DependsOn)
	}
	// Over an experiment without a sweep: one instance, no key.
	if s := cfg.Experiments["single"].Instances; len(s) != 1 || s[0].Address != "experiment.single" || s[0].Each != "experiment.prep" {
		t.Errorf("single: %+v", s)
	}
}

func TestForEachDiagnostics(t *testing.T) {
	tests := []struct {
		name, src, summary, detail string
	}{
		{"each without for_each", `
experiment "e" {
  compute = compute.l
  command = ["x", each.key]
}`, "Invalid reference to each", "only available in an experiment with for_each"},
		{"each.outputs without for_each", `
experiment "e" {
  compute = compute.l
  command = ["x"]
  inputs  = { m = each.outputs }
}`, "Reference to each without for_each", "add for_each = experiment.NAME"},
		{"each.outputs in command", `
experiment "e" {
  compute  = compute.l
  for_each = experiment.train
  command  = ["x", each.outputs]
}`, "Invalid reference to each.outputs", "only be used as a value of inputs"},
		{"unknown each attribute", `
experiment "e" {
  compute  = compute.l
  for_each = experiment.train
  command  = ["x", each.keys]
}`, "Invalid reference to each", `Did you mean "key"?`},
		{"each in params", `
experiment "e" {
  compute  = compute.l
  for_each = experiment.train
  command  = ["x"]
  params   = { k = each.key }
}`, "Invalid reference to each", "attributes evaluated for each instance"},
		{"for_each of one instance", `
experiment "e" {
  compute  = compute.l
  for_each = experiment.train["lr=0.1"]
  command  = ["x"]
}`, "Invalid for_each", "names a whole experiment"},
		{"for_each not a reference", `
experiment "e" {
  compute  = compute.l
  for_each = ["a", "b"]
  command  = ["x"]
}`, "Invalid for_each", "must be a reference to an experiment"},
		{"for_each of an undeclared experiment", `
experiment "e" {
  compute  = compute.l
  for_each = experiment.trian
  command  = ["x"]
}`, "Reference to undeclared experiment", `Did you mean "train"?`},
		{"swept twice", `
experiment "e" {
  compute  = compute.l
  for_each = experiment.train
  command  = ["x"]
  sweep {
    grid = { lr = [1] }
  }
}`, "Parameter swept twice", "lr names the instances of experiment.train"},
		{"param defined twice", `
experiment "e" {
  compute  = compute.l
  for_each = experiment.train
  command  = ["x"]
  params   = { epochs = 1 }
}`, "Parameter defined twice", "epochs is a parameter of experiment.train"},
		{"for_each of itself", `
experiment "e" {
  compute  = compute.l
  for_each = experiment.e
  command  = ["x"]
}`, "Dependency cycle", "experiment.e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := loadErrors(t, one(forEachBase+tt.src), testOptions())
			var d *hcl.Diagnostic
			for _, x := range diags {
				if x.Severity == hcl.DiagError {
					d = x
					break
				}
			}
			if d == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(d.Summary, tt.summary) || !strings.Contains(d.Detail, tt.detail) || d.Subject == nil {
				t.Errorf("got:\n%s\nwant %q: …%s…", renderDiags(cfg, diags), tt.summary, tt.detail)
			}
		})
	}
}
