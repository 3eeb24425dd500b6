package local

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/runner"
)

func TestKind(t *testing.T) {
	k := Kind()
	for _, a := range []string{"max_runs", "gpus", "workdir"} {
		if k.Schema().Attr(a) == nil {
			t.Errorf("no attribute %s", a)
		}
	}
	tests := []struct {
		name string
		v    providers.Values
		bad  string // attribute with a problem; "" none
	}{
		{"empty", providers.Values{}, ""},
		{"ok", providers.Values{"max_runs": cty.NumberIntVal(2), "gpus": cty.NumberIntVal(0), "workdir": cty.StringVal("/w")}, ""},
		{"zero runs", providers.Values{"max_runs": cty.NumberIntVal(0)}, "max_runs"},
		{"fraction", providers.Values{"max_runs": cty.NumberFloatVal(1.5)}, "max_runs"},
		{"huge", providers.Values{"max_runs": cty.NumberIntVal(1 << 40)}, "max_runs"},
		{"negative gpus", providers.Values{"gpus": cty.NumberIntVal(-1)}, "gpus"},
		{"fractional gpus", providers.Values{"gpus": cty.NumberFloatVal(0.5)}, "gpus"},
		{"not a number", providers.Values{"gpus": cty.StringVal("two")}, "gpus"},
		{"empty workdir", providers.Values{"workdir": cty.StringVal("")}, "workdir"},
		{"unknown", providers.Values{"max_runs": cty.UnknownVal(cty.Number)}, ""},
		{"null", providers.Values{"max_runs": cty.NullVal(cty.Number)}, ""},
		{"sensitive", providers.Values{"max_runs": cty.NumberIntVal(0).Mark("sensitive")}, "max_runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := k.Validate(tt.v)
			if tt.bad == "" && len(problems) > 0 || tt.bad != "" && (len(problems) != 1 || problems[0].Attr != tt.bad) {
				t.Errorf("Validate = %+v, want a problem with %q", problems, tt.bad)
			}
			if tt.bad != "" {
				if _, err := k.Open("x", tt.v, providers.Env{}); err == nil {
					t.Error("Open accepted invalid values")
				}
			}
		})
	}
}

func TestOpenDefaults(t *testing.T) {
	// A fake nvidia-smi that says when it runs.
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	script := "#!/bin/sh\necho called >> " + calls + "\nprintf 'GPU 0: A (UUID: x)\\nGPU 1: B (UUID: y)\\n'\n"
	os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(script), 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	dir := t.TempDir()
	comp, err := Kind().Open("laptop", providers.Values{}, providers.Env{Dir: dir, DataDir: filepath.Join(dir, ".trainrun")})
	if err != nil {
		t.Fatal(err)
	}
	c := comp.(*runner.Compute)
	if _, err := os.Stat(calls); err == nil {
		t.Error("Open ran nvidia-smi")
	}
	if c.Slots() != runtime.NumCPU() {
		t.Errorf("Slots = %d, want %d", c.Slots(), runtime.NumCPU())
	}
	if want := filepath.Join(dir, ".trainrun", "local", "laptop"); c.Workdir() != want {
		t.Errorf("workdir %s, want %s", c.Workdir(), want)
	}
	if c.GPUs(t.Context()) != 2 || c.GPUs(t.Context()) != 2 {
		t.Errorf("GPUs = %d, want 2", c.GPUs(t.Context()))
	}
	if data, _ := os.ReadFile(calls); string(data) != "called\n" {
		t.Errorf("nvidia-smi ran %q times", data)
	}

	comp, err = Kind().Open("box", providers.Values{"max_runs": cty.NumberIntVal(3), "gpus": cty.NumberIntVal(1),
		"workdir": cty.StringVal("scratch")}, providers.Env{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c = comp.(*runner.Compute)
	if c.Slots() != 3 || c.GPUs(t.Context()) != 1 || c.Workdir() != filepath.Join(dir, "scratch") {
		t.Errorf("Slots %d GPUs %d workdir %s", c.Slots(), c.GPUs(t.Context()), c.Workdir())
	}
	if data, _ := os.ReadFile(calls); string(data) != "called\n" {
		t.Errorf("nvidia-smi ran although gpus was set: %q", data)
	}
	os.Remove(filepath.Join(bin, "nvidia-smi"))
	comp, _ = Kind().Open("nogpu", providers.Values{}, providers.Env{Dir: dir})
	if n := comp.GPUs(t.Context()); n != 0 {
		t.Errorf("GPUs without nvidia-smi = %d", n)
	}
	if _, err := Kind().Open("../x", providers.Values{}, providers.Env{Dir: dir}); err == nil {
		t.Error("Open accepted a name that escapes the data directory")
	}
}
