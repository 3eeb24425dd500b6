package runtime

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// A gc killed after it moved collected outputs aside, before it removed
// them, leaves them in gc-trash: the next gc removes them, read-only
// directories included, and counts their bytes.
func TestGCFinishesWhatAKilledGCLeft(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	store, err := snapshot.OpenStore(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, gcTrash, "0123456789ab", "sub")
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "model.bin"), make([]byte, 5000), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.SetReadOnly(filepath.Join(dir, gcTrash), true); err != nil {
		t.Fatal(err)
	}
	r := &Runtime{State: st, DataDir: dir, Store: store, Computes: NewComputes(nil, nil, providers.Env{Dir: dir, DataDir: dir})}
	p, err := r.GCPlan(context.Background(), GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Bytes != 5000 {
		t.Errorf("plan frees %d bytes, want the 5000 left in gc-trash", p.Bytes)
	}
	if _, err := r.GC(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, gcTrash)); !os.IsNotExist(err) {
		t.Errorf("gc-trash is still there (%v)", err)
	}
}

// A file counts as freed once every link to it is among what goes.
func TestGCUsageCountsLinkedFilesOnce(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	for _, d := range []string{a, b, c} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(a, "f"), make([]byte, 300), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(a, "f"), filepath.Join(b, "f")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c, "g"), make([]byte, 20), 0o600); err != nil {
		t.Fatal(err)
	}
	var u usage
	u.add(a)
	u.add(c)
	if got := u.freed(); got != 20 {
		t.Errorf("a and c free %d bytes, want 20 (a's file is linked from b)", got)
	}
	u.add(b)
	if got := u.freed(); got != 320 {
		t.Errorf("a, b and c free %d bytes, want 320", got)
	}
}
