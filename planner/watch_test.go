package planner

import (
	"reflect"
	"testing"

	"github.com/trainrun/trainrun/lang"
)

func TestWatchTargets(t *testing.T) {
	cfg := &lang.Config{Instances: []*lang.Instance{
		{Address: `experiment.b["x=1"]`, SourceDir: "/p/src"},
		{Address: `experiment.b["x=2"]`, SourceDir: "/p/src"},
		{Address: "experiment.a", SourceDir: "/p"},
	}}
	got := WatchTargets("/p", []string{"dev.tfvars", "/etc/shared.hcl"}, cfg)
	if len(got.Dirs) != 1 || got.Dirs[0].Path != "/p" || !got.Dirs[0].Match("trainrun.hcl") || got.Dirs[0].Match("train.py") {
		t.Errorf("Dirs = %+v, want /p matching configuration files only", got.Dirs)
	}
	if want := []string{"/p/dev.tfvars", "/etc/shared.hcl"}; !reflect.DeepEqual(got.Files, want) {
		t.Errorf("Files = %q, want %q", got.Files, want)
	}
	if want := []string{"/p", "/p/src"}; !reflect.DeepEqual(got.Trees, want) {
		t.Errorf("Trees = %q, want %q (each source_dir once, sorted)", got.Trees, want)
	}
	if none := WatchTargets("/p", nil, nil); len(none.Trees) != 0 || len(none.Files) != 0 {
		t.Errorf("without a configuration: %+v, want the configuration files only", none)
	}
}
