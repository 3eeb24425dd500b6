package runtime

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadMetricsFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		want          map[string]float64
		err           string
	}{
		{"m.json", `{"avg_prec": {"train": 0.9, "test": 0.85}, "roc_auc": 0.93, "note": "x", "ok": true, "curve": [1, 2]}`,
			map[string]float64{"avg_prec.train": 0.9, "avg_prec.test": 0.85, "roc_auc": 0.93}, ""},
		{"m.yaml", "avg_prec:\n  test: 0.5\nepochs: 10\n", map[string]float64{"avg_prec.test": 0.5, "epochs": 10}, ""},
		{"m.yml", "a: {b: {c: 1e-3}}\n", map[string]float64{"a.b.c": 0.001}, ""},
		{"top.json", `0.5`, map[string]float64{}, ""},
		{"bad.json", `{"a": `, nil, "as JSON"},
		{"bad.yaml", "a: [1,\n", nil, "as YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadMetricsFile(p)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMetricsFile(filepath.Join(dir, "link.json")); err == nil {
		t.Error("a metrics file that is a link was read")
	}
}

// TestMetricsFileNestedDeep: a 2 MB metrics file nested a million deep is
// refused at once, not after seconds and hundreds of MB of decoding.
func TestMetricsFileNestedDeep(t *testing.T) {
	dir := t.TempDir()
	const n = 1000000
	for _, name := range []string{"m.yaml", "m.json"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("[", n)+strings.Repeat("]", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := ReadMetricsFile(p)
		if err == nil || !strings.Contains(err.Error(), "nests more than") {
			t.Errorf("%s: %v; want a refusal for its nesting", name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: refused after %v", name, d)
		}
	}
}
