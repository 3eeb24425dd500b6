package runtime

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/state"
)

func TestInstances(t *testing.T) {
	// a depends on b: the graph lists b first. Instances of the
	// configuration come sorted by address, as lang.Load sorts them.
	cfg := &lang.Config{Instances: []*lang.Instance{
		{Address: "experiment.a", Experiment: "a", DependsOn: []string{"experiment.b"}},
		{Address: "experiment.b", Experiment: "b"},
	}}
	runs := []*state.Run{
		{ID: "1", Address: "experiment.a", Experiment: "a"},
		{ID: "2", Address: `experiment.gone["n=10"]`, Experiment: "gone"},
		{ID: "3", Address: "experiment.a", Experiment: "a"},
		{ID: "4", Address: `experiment.gone["n=9"]`, Experiment: "gone"},
	}
	latest := func(addr string) *state.Run {
		var l *state.Run
		for _, r := range runs {
			if r.Address == addr {
				l = r
			}
		}
		return l
	}
	tests := []struct {
		name string
		cfg  *lang.Config
		want string
	}{
		{"configured and recorded", cfg, `experiment.b:true:- experiment.a:true:3 experiment.gone["n=9"]:false:4 experiment.gone["n=10"]:false:2`},
		{"no configuration", nil, `experiment.a:false:3 experiment.gone["n=9"]:false:4 experiment.gone["n=10"]:false:2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			for i, in := range Instances(tt.cfg, runs, latest) {
				id := "-"
				if in.Run != nil {
					id = in.Run.ID
				}
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s:%v:%s", in.Address, in.Configured, id)
			}
			if got != tt.want {
				t.Errorf("Instances = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEnvironmentLock(t *testing.T) {
	dir := t.TempDir()
	recs, err := state.OpenEnvironments(dir)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := recs.PutLock("numpy==1.26.4\n")
	if err != nil {
		t.Fatal(err)
	}
	run := &state.Run{Env: &state.RunEnvironment{Lock: hash}}
	if got := EnvironmentLock(dir, run); got != "numpy==1.26.4\n" {
		t.Errorf("EnvironmentLock = %q, want the recorded lock", got)
	}
	if got := EnvironmentLock(dir, &state.Run{}); got != "" {
		t.Errorf("EnvironmentLock of a run without environment = %q, want \"\"", got)
	}
	if got := EnvironmentLock(filepath.Join(dir, "missing"), run); got != "" {
		t.Errorf("EnvironmentLock without records = %q, want \"\"", got)
	}
}
