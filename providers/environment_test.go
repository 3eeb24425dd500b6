package providers

import (
	"slices"
	"testing"
)

func TestEnvSpecChanges(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new EnvSpec
		want     []string
	}{
		{"same", EnvSpec{Kind: "venv", Requirements: []string{"numpy"}}, EnvSpec{Kind: "venv", Requirements: []string{"numpy"}}, nil},
		{"requirements",
			EnvSpec{Kind: "venv", Requirements: []string{"pandas", "scikit-learn==1.2.1"}},
			EnvSpec{Kind: "venv", Requirements: []string{"numpy", "scikit-learn==1.3.0"}},
			[]string{"requirements changed: +numpy, -pandas, scikit-learn 1.2.1 → 1.3.0"}},
		{"constraints",
			EnvSpec{Kind: "conda", Requirements: []string{"numpy", "python=3.11", "torch>=2"}},
			EnvSpec{Kind: "conda", Requirements: []string{"numpy>=1.26", "python=3.12", "torch>=2", "scipy==1.11"}},
			[]string{"requirements changed: numpy any → >=1.26, python 3.11 → 3.12, +scipy 1.11"}},
		{"attributes",
			EnvSpec{Kind: "host", Attrs: map[string]string{"python": "/usr/bin/python3", "python_version": "cpython 3.11.2", "path": `["/a"]`}},
			EnvSpec{Kind: "host", Attrs: map[string]string{"python": "/usr/bin/python3", "python_version": "cpython 3.11.7", "file.sha256": "x"}},
			[]string{"file changed", "path removed (was [\"/a\"])", "python_version: cpython 3.11.2 → cpython 3.11.7"}},
		{"hashed",
			EnvSpec{Kind: "container", Attrs: map[string]string{"context.sha256": "a", "dockerfile.sha256": "b"}},
			EnvSpec{Kind: "container", Attrs: map[string]string{"context.sha256": "c", "dockerfile.sha256": "b"}},
			[]string{"context changed"}},
		{"kind", EnvSpec{Kind: "host"}, EnvSpec{Kind: "venv"}, []string{"kind changed: host → venv"}},
	} {
		if got := tc.new.Changes(tc.old); !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestPackagesDiff(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"# x\nnumpy==1.24.2\n", "# x\nnumpy==1.26.4\n", "numpy 1.24.2 → 1.26.4"},
		{"numpy==1.24.2\nsix==1.16.0\n", "numpy==1.24.2\ntorch==2.1.0\n", "-six, +torch 2.1.0"},
		{"numpy==1.24.2\n", "numpy==1.24.2\n", ""},
		{"", "# installed distributions\n", ""},
	} {
		if got := PackagesDiff(tc.old, tc.new); got != tc.want {
			t.Errorf("PackagesDiff(%q, %q) = %q, want %q", tc.old, tc.new, got, tc.want)
		}
	}
}
