package lang

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoad loads arbitrary bytes as trainrun.hcl and as x.trainrun.json:
// Load must never panic, and every failure must be an error diagnostic.
// The seed corpus is in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(specExample), []byte(`{}`))
	f.Add([]byte(sweep1000), []byte(`{"compute": {"local": {"j": {}}}}`))
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, native, js []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "trainrun.hcl"), native, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "x.trainrun.json"), js, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{
			Registry: reg,
			Getenv:   env(map[string]string{"TRAINRUN_VAR_lr": "0.5"}),
			Vars:     []string{"epochs=3"},
		}
		cfg, diags := Load(dir, opts)
		if cfg == nil {
			t.Fatal("nil Config")
		}
		for _, d := range diags {
			if d == nil {
				t.Fatal("nil diagnostic")
			}
			if d.Severity != hcl.DiagError && d.Severity != hcl.DiagWarning {
				t.Fatalf("diagnostic with severity %v: %v", d.Severity, d)
			}
			if d.Summary == "" {
				t.Fatalf("diagnostic without summary: %#v", d)
			}
		}
		if diags.HasErrors() {
			// Rendering must not fail or panic either.
			if err := WriteDiagnostics(discard{}, cfg.Files, diags, false); err != nil {
				t.Fatal(err)
			}
			_ = DiagnosticsJSON(diags)
			return
		}
		for _, in := range cfg.Instances {
			if in.Address == "" || cfg.Experiments[in.Experiment] == nil {
				t.Fatalf("bad instance %#v", in)
			}
			if in.Command == nil && in.Shell == "" {
				t.Fatalf("instance without command: %#v", in)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
