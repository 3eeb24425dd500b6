package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
)

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		v      cty.Value
		lo, hi int
		want   int
		detail string
	}{
		{cty.NumberIntVal(3), 1, MaxCount, 3, ""},
		{cty.StringVal("4"), 0, MaxCount, 4, ""},
		{cty.UnknownVal(cty.Number), 1, MaxCount, -1, ""},
		{cty.NullVal(cty.Number), 1, MaxCount, -1, ""},
		{cty.NumberIntVal(0), 1, MaxCount, -1, "n must be a whole number, at least 1."},
		{cty.NumberFloatVal(1.5), 0, MaxCount, -1, "n must be a whole number, at least 0."},
		{cty.NumberIntVal(MaxCount + 1), 0, MaxCount, -1, "n must be at most 1048576."},
		{cty.NumberIntVal(70000), 1, 65535, -1, "n must be a whole number from 1 to 65535."},
		{cty.StringVal("x"), 1, 65535, -1, "n must be a whole number from 1 to 65535."},
		{cty.NumberIntVal(22).Mark("sensitive"), 1, 65535, 22, ""},
	} {
		got, p := Count(providers.Values{"n": tt.v}, "n", tt.lo, tt.hi)
		detail := ""
		if p != nil {
			detail = p.Detail
		}
		if got != tt.want || detail != tt.detail {
			t.Errorf("Count(%#v, %d, %d) = %d, %q; want %d, %q", tt.v, tt.lo, tt.hi, got, detail, tt.want, tt.detail)
		}
	}
	if n, p := Count(providers.Values{}, "n", 1, MaxCount); n != -1 || p != nil {
		t.Errorf("unset: %d, %v", n, p)
	}
}

func TestResolveWorkdir(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip(err)
	}
	env := providers.Env{Dir: "/proj"}
	for in, want := range map[string]string{
		"~":            home,
		"~/w":          filepath.Join(home, "w"),
		"scratch":      "/proj/scratch",
		"../x/./y":     "/x/y",
		"/abs/../data": "/data",
	} {
		if got, err := ResolveWorkdir(in, env); err != nil || got != want {
			t.Errorf("ResolveWorkdir(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
