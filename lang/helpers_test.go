package lang

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// writeFiles writes name → content into a new temporary directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// env returns a Getenv over a fixed map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func testOptions() Options {
	return Options{Registry: testRegistry(), Getenv: env(nil)}
}

// mustLoad loads the configuration in files and fails on any error.
func mustLoad(t testing.TB, files map[string]string, opts Options) *Config {
	t.Helper()
	dir := writeFiles(t, files)
	cfg, diags := Load(dir, opts)
	if diags.HasErrors() {
		t.Fatalf("Load: unexpected errors:\n%s", renderDiags(cfg, diags))
	}
	return cfg
}

// loadErrors loads and returns the diagnostics, which must include errors.
func loadErrors(t testing.TB, files map[string]string, opts Options) (*Config, hcl.Diagnostics) {
	t.Helper()
	dir := writeFiles(t, files)
	cfg, diags := Load(dir, opts)
	if !diags.HasErrors() {
		t.Fatalf("Load: expected errors, got none (diags: %v)", diags)
	}
	return cfg, diags
}

func renderDiags(cfg *Config, diags hcl.Diagnostics) string {
	var b bytes.Buffer
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	if err := WriteDiagnostics(&b, files, diags, false); err != nil {
		return err.Error()
	}
	return b.String()
}

// hcl is a shorthand for a single trainrun.hcl file.
func one(src string) map[string]string {
	return map[string]string{"trainrun.hcl": strings.TrimLeft(src, "\n")}
}
