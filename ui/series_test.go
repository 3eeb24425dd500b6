package ui

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSeriesCacheReadsOn: a growing metrics file is read on from where it
// was read, a line cut short waits for its end, and a file replaced is
// read anew.
func TestSeriesCacheReadsOn(t *testing.T) {
	p := filepath.Join(t.TempDir(), "metrics.jsonl")
	var c seriesCache
	appendTo := func(s string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	ys := func() map[string][]float64 {
		out := map[string][]float64{}
		for _, s := range c.read(p) {
			out[s.Name] = s.Y
		}
		return out
	}
	if got := c.read(p); got != nil {
		t.Fatalf("missing file: %v", got)
	}
	appendTo(`{"name":"loss","value":3,"step":1}` + "\n" + `{"name":"loss","val`)
	first := ys()
	if !slices.Equal(first["loss"], []float64{3}) {
		t.Fatalf("after a line and a half: %v", first)
	}
	appendTo(`ue":2,"step":2}` + "\n" + `{"name":"acc","value":0.5}` + "\n")
	got := ys()
	if !slices.Equal(got["loss"], []float64{3, 2}) || !slices.Equal(got["acc"], []float64{0.5}) {
		t.Fatalf("after the rest: %v", got)
	}
	if !slices.Equal(first["loss"], []float64{3}) {
		t.Fatalf("an earlier answer changed: %v", first)
	}
	// Replaced by a shorter file: read from its start.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	appendTo(`{"name":"loss","value":9}` + "\n")
	if got := ys(); !slices.Equal(got["loss"], []float64{9}) || got["acc"] != nil {
		t.Fatalf("after replacing the file: %v", got)
	}
	// A link is not followed.
	link := filepath.Join(t.TempDir(), "link.jsonl")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if got := c.read(link); got != nil {
		t.Fatalf("read through a link: %v", got)
	}
}
