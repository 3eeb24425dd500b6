package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestExport(t *testing.T) {
	src := t.TempDir()
	for name, content := range map[string]string{"model.bin": "weights", "eval/metrics.json": "{}", "run.sh": "#!/bin/sh\n"} {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("model.bin", filepath.Join(src, "latest")); err != nil {
		t.Fatal(err)
	}
	store, err := OpenStore(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.PutTree(src)
	if err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "ws")
	res, err := store.Export(m, dst, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written) != 4 || len(res.Unchanged) != 0 {
		t.Errorf("first export: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "eval/metrics.json")); string(b) != "{}" {
		t.Errorf("metrics.json = %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "run.sh")); fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode %o", fi.Mode().Perm())
	}
	if target, _ := os.Readlink(filepath.Join(dst, "latest")); target != "model.bin" {
		t.Errorf("latest → %q", target)
	}

	// Again: nothing to write.
	res, err = store.Export(m, dst, false)
	if err != nil || len(res.Written) != 0 || len(res.Unchanged) != 4 {
		t.Errorf("second export: %+v, %v", res, err)
	}

	// A file that differs is not overwritten without force, and nothing
	// else is written either.
	os.WriteFile(filepath.Join(dst, "model.bin"), []byte("mine"), 0o644)
	os.Remove(filepath.Join(dst, "run.sh"))
	_, err = store.Export(m, dst, false)
	var ce *ConflictError
	if !errors.As(err, &ce) || !slices.Equal(ce.Paths, []string{"model.bin"}) {
		t.Fatalf("err = %v, want a conflict on model.bin", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "run.sh")); err == nil {
		t.Error("run.sh was written although the export was refused")
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "model.bin")); string(b) != "mine" {
		t.Error("model.bin was overwritten without force")
	}
	res, err = store.Export(m, dst, true)
	if err != nil || !slices.Equal(res.Replaced, []string{"model.bin"}) {
		t.Fatalf("forced export: %+v, %v", res, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "model.bin")); string(b) != "weights" {
		t.Error("model.bin was not overwritten with force")
	}

	// A directory on the way that is a link is refused, even with force,
	// and nothing is written where it leads.
	elsewhere := t.TempDir()
	os.RemoveAll(filepath.Join(dst, "eval"))
	if err := os.Symlink(elsewhere, filepath.Join(dst, "eval")); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Export(m, dst, true); err == nil {
		t.Error("exported through a link")
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("wrote %d files where the link leads", len(ents))
	}

	// A file that is a link to something outside is replaced, not written
	// through.
	os.Remove(filepath.Join(dst, "eval"))
	outside := filepath.Join(elsewhere, "victim")
	os.WriteFile(outside, []byte("keep"), 0o644)
	os.Remove(filepath.Join(dst, "model.bin"))
	if err := os.Symlink(outside, filepath.Join(dst, "model.bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Export(m, dst, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Error("the file a link led to was written")
	}
	if fi, _ := os.Lstat(filepath.Join(dst, "model.bin")); !fi.Mode().IsRegular() {
		t.Error("model.bin is still a link")
	}
}
