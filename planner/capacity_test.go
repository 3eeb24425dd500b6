package planner

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// fakeCapacity: "here" is a local machine with 4 CPUs, 8 GiB and no GPU;
// "box" (ssh) schedules 2 GPUs, its CPUs and memory in its facts.
type fakeCapacity struct{ fakeComputes }

func (*fakeCapacity) Capacity(ctx context.Context, c string) Capacity {
	switch c {
	case "here":
		return Capacity{GPUs: 0, CPUs: 4, Memory: 8 << 30, Where: "this machine"}
	case "box":
		return Capacity{GPUs: 2}
	}
	return Capacity{GPUs: -1}
}

func TestCheckCapacity(t *testing.T) {
	recs, err := state.OpenComputes(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := recs.Put(&state.Compute{Name: "box", Kind: "ssh", Hosts: []providers.HostFacts{{Host: "ml@box:22", CPUs: 16, Memory: 64 << 30}}}); err != nil {
		t.Fatal(err)
	}
	run := func(addr, compute, action string, r providers.Resources) *Action {
		exp, _, _ := strings.Cut(strings.TrimPrefix(addr, "experiment."), "[")
		return &Action{Address: addr, Action: action, Instance: &lang.Instance{Address: addr, Experiment: exp, Compute: compute, Resources: r,
			DeclRange: hcl.Range{Filename: "trainrun.hcl", Start: hcl.Pos{Line: 7}}}}
	}
	tests := []struct {
		name    string
		actions []*Action
		want    string // "" for no error
	}{
		{"fits", []*Action{run("experiment.a", "here", Submit, providers.Resources{CPUs: 4, Memory: 8 << 30}), run("experiment.b", "box", Submit, providers.Resources{GPUs: 2, Memory: 64 << 30})}, ""},
		{"no GPU", []*Action{run(`experiment.t["lr=1"]`, "here", Submit, providers.Resources{GPUs: 1}), run(`experiment.t["lr=2"]`, "here", Pending, providers.Resources{GPUs: 1})},
			"trainrun.hcl:7: experiment.t[\"lr=1\"] and 1 other instance: resources { gpus = 1 }, but compute.here schedules no GPU"},
		{"too many GPUs", []*Action{run("experiment.t", "box", Submit, providers.Resources{GPUs: 3})}, "resources { gpus = 3 }, but compute.box schedules 2 GPUs"},
		{"memory", []*Action{run("experiment.t", "here", Submit, providers.Resources{Memory: 1 << 40})}, `resources { memory = "1TiB" }, but compute.here has 8GiB (this machine)`},
		{"memory from facts", []*Action{run("experiment.t", "box", Submit, providers.Resources{Memory: 100 << 30})}, `resources { memory = "100GiB" }, but compute.box has 64GiB (ml@box:22)`},
		{"cpus", []*Action{run("experiment.t", "here", Submit, providers.Resources{CPUs: 5})}, "resources { cpus = 5 }, but compute.here has 4 CPUs (this machine)"},
		{"unknown compute", []*Action{run("experiment.t", "cluster", Submit, providers.Resources{GPUs: 64, Memory: 1 << 40})}, ""},
		{"not started", []*Action{run("experiment.t", "here", NoOp, providers.Resources{GPUs: 1}), run("experiment.u", "here", Update, providers.Resources{GPUs: 1})}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkCapacity(t.Context(), &Plan{Actions: tt.actions}, &fakeCapacity{}, recs)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// A resolver that cannot say: nothing is checked.
	if err := checkCapacity(t.Context(), &Plan{Actions: []*Action{run("experiment.t", "here", Submit, providers.Resources{GPUs: 9})}}, &fakeComputes{}, recs); err != nil {
		t.Fatalf("resolver without capacity: %v", err)
	}
}
