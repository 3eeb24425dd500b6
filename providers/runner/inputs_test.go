package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
	"github.com/trainrun/trainrun/snapshot"
)

func TestLocalTreeFollowsOnlyTopLevelLinks(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "model.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(other, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(root, "lr=0.1")); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	files, err := localTree(root, "data", tmp)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]providers.File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	if f, ok := byPath["data/lr=0.1/model.json"]; !ok || f.Mode&0o170000 != 0o100000 {
		t.Errorf("instance link not followed: %+v", files)
	}
	f, ok := byPath["data/lr=0.1/escape"]
	if !ok || f.Mode != 0o120000 {
		t.Fatalf("inner link not kept as a link: %+v", files)
	}
	if target, _ := os.ReadFile(f.Blob); string(target) != "/etc/passwd" {
		t.Errorf("link target %q", target)
	}
}

// TestPutInputsReadOnlyAndHashed: inputs are copied read-only, and
// InputFiles hashes the copies as snapshots do, by input and key.
func TestPutInputsReadOnlyAndHashed(t *testing.T) {
	ctx := context.Background()
	up := t.TempDir()
	for name, content := range map[string]string{"data.txt": "rows\n", "sub/x.bin": "x"} {
		if err := os.MkdirAll(filepath.Join(up, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(up, name), []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	sweep := t.TempDir()
	if err := os.Symlink(up, filepath.Join(sweep, "lr=1")); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(t.TempDir(), "runs", "r1")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	e := executor.Local{}
	names, err := PutInputs(ctx, e, map[string]string{"data": up, "models": sweep}, run)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"data", "models"}) {
		t.Errorf("names %q", names)
	}
	for _, p := range []string{"inputs/data", "inputs/data/data.txt", "inputs/models/lr=1/sub/x.bin"} {
		fi, err := os.Lstat(filepath.Join(run, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o222 != 0 {
			t.Errorf("%s has mode %o: writable", p, fi.Mode().Perm())
		}
	}
	files, err := InputFiles(ctx, e, run)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := snapshot.Scan(up, snapshot.ScanOptions{NoIgnore: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := manifestOf(files["data"]); got != want.ID {
		t.Errorf("data hashes to %s, want %s (the upstream's)", got, want.ID)
	}
	var key []providers.File
	for _, f := range files["models"] {
		if rest, ok := strings.CutPrefix(f.Path, "lr=1/"); ok {
			f.Path = rest
			key = append(key, f)
		}
	}
	if got := manifestOf(key); got != want.ID {
		t.Errorf("models/lr=1 hashes to %s, want %s", got, want.ID)
	}
	if err := os.WriteFile(filepath.Join(run, "inputs/data/data.txt"), []byte("junk"), 0o644); err != nil && !os.IsPermission(err) {
		t.Fatal(err)
	}
	if err == nil {
		files, _ = InputFiles(ctx, e, run)
		if manifestOf(files["data"]) == want.ID {
			t.Error("a changed input hashes as before")
		}
	}
	if got, err := InputFiles(ctx, e, t.TempDir()); err != nil || got != nil {
		t.Errorf("a run without inputs: %v, %v", got, err)
	}
}

func manifestOf(files []providers.File) string {
	entries := make([]snapshot.Entry, len(files))
	for i, f := range files {
		entries[i] = snapshot.Entry{Path: f.Path, Mode: f.Mode, Hash: f.Hash}
	}
	return snapshot.NewManifest(entries).ID
}
