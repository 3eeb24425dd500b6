package snapshot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSetReadOnly(t *testing.T) {
	root := filepath.Join(t.TempDir(), "out")
	for _, d := range []string{"a/b", "c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]os.FileMode{"f.txt": 0o644, "a/run.sh": 0o755, "a/b/g": 0o600}
	for name, mode := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "c/link")); err != nil {
		t.Fatal(err)
	}

	if err := SetReadOnly(root, true); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{".": 0o555, "a": 0o555, "a/b": 0o555, "c": 0o555, "f.txt": 0o444, "a/run.sh": 0o555, "a/b/g": 0o400}
	for name, mode := range want {
		fi, err := os.Lstat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("read-only: %s has mode %o, want %o", name, fi.Mode().Perm(), mode)
		}
	}
	if fi, _ := os.Stat(outside); fi.Mode().Perm() != 0o644 {
		t.Errorf("the link's target outside the tree changed mode to %o", fi.Mode().Perm())
	}

	if err := SetReadOnly(root, false); err != nil {
		t.Fatal(err)
	}
	want = map[string]os.FileMode{".": 0o755, "a": 0o755, "a/b": 0o755, "f.txt": 0o644, "a/run.sh": 0o755, "a/b/g": 0o600}
	for name, mode := range want {
		fi, err := os.Lstat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("writable again: %s has mode %o, want %o", name, fi.Mode().Perm(), mode)
		}
	}
	if err := os.RemoveAll(root); err != nil {
		t.Errorf("remove after making writable: %v", err)
	}
	if err := SetReadOnly(filepath.Join(t.TempDir(), "missing"), true); err != nil {
		t.Errorf("missing root: %v", err)
	}
}
