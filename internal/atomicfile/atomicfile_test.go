package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		perm os.FileMode
	}{
		{"plain", Options{}, 0o600},
		{"durable", Options{Sync: true}, 0o444},
		{"temp elsewhere", Options{TempDir: "tmp", TempPattern: "x-*"}, 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.opts.TempDir != "" {
				tt.opts.TempDir = filepath.Join(dir, tt.opts.TempDir)
				if err := os.Mkdir(tt.opts.TempDir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "f")
			for _, content := range []string{"old", "new"} {
				if err := WriteFile(path, []byte(content), tt.perm, tt.opts); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != "new" {
				t.Fatalf("content %q, %v; want new", b, err)
			}
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != tt.perm {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tt.perm)
			}
			for _, d := range []string{dir, tt.opts.TempDir} {
				if d == "" {
					continue
				}
				ents, _ := os.ReadDir(d)
				for _, e := range ents {
					if e.Name() != "f" && e.Name() != "tmp" {
						t.Errorf("left behind %s in %s", e.Name(), d)
					}
				}
			}
		})
	}
}

func TestWriteFileFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	// The target is a directory: the rename fails and nothing is left.
	target := filepath.Join(dir, "d")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, []byte("x"), 0o600, Options{}); err == nil {
		t.Fatal("want an error renaming over a non-empty directory")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("entries %v; want only d", ents)
	}
}
