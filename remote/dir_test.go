package remote

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/snapshot"
)

// pushFetch pushes a tree from one store to r and fetches it into
// another, as two checkouts do, and checks what a remote must refuse.
// corrupt writes an object on the remote behind the store's back.
func pushFetch(t *testing.T, r snapshot.Remote, corrupt func(key string, data []byte)) {
	t.Helper()
	ctx := context.Background()
	src := t.TempDir()
	files := map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n", "sub/c.txt": "alpha\n"}
	for name, content := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := snapshot.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a.SetRemote(r)
	m, err := a.PutTree(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	// Pushed: the remote lacks none of it.
	keys := []string{snapshot.ManifestKey(m.ID)}
	for _, e := range m.Entries {
		keys = append(keys, snapshot.BlobKey(e.Hash))
	}
	if missing, err := r.Missing(ctx, keys); err != nil || len(missing) != 0 {
		t.Fatalf("after push, missing %v (%v)", missing, err)
	}

	b, err := snapshot.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b.SetRemote(r)
	if !b.Available(ctx, m.ID) || b.Holds(m.ID) {
		t.Fatal("Available/Holds before fetching")
	}
	// A corrupted blob is refused; the store keeps nothing of it.
	beta := m.Entries[1].Hash
	if m.Entries[1].Path != "sub/b.txt" {
		t.Fatalf("entries: %+v", m.Entries)
	}
	corrupt(snapshot.BlobKey(beta), []byte("BETA\n"))
	if _, err := b.Fetch(ctx, m.ID); err == nil || !strings.Contains(err.Error(), "arrived corrupted") {
		t.Fatalf("fetch of a corrupted blob: %v", err)
	}
	if b.Has(beta) {
		t.Fatal("the store kept a corrupted blob")
	}
	corrupt(snapshot.BlobKey(beta), []byte("beta\n"))
	got, err := b.Fetch(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || !b.Holds(m.ID) {
		t.Fatal("fetched snapshot not whole")
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := b.Materialize(got, dst); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if data, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(data) != content {
			t.Fatalf("%s: %q %v", name, data, err)
		}
	}
	// A manifest that is not the one asked for is refused.
	other, err := a.PutTree(filepath.Join(src, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(a.Dir(), "manifests", other.ID+".json"))
	fake := strings.Repeat("0", 64)
	corrupt(snapshot.ManifestKey(fake), data)
	if _, err := b.Fetch(ctx, fake); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("fetch of a manifest under another id: %v", err)
	}
	// Keys that are not a store's are refused.
	for _, k := range []string{"../x", "blobs/../../etc/passwd", "manifests/x.json", "/etc/passwd"} {
		if _, err := r.Missing(ctx, []string{k}); err == nil {
			t.Errorf("Missing(%q): no error", k)
		}
	}
}

func TestDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "remote")
	r, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	pushFetch(t, r, func(key string, data []byte) {
		p := filepath.Join(root, filepath.FromSlash(key))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.Remove(p)
		if err := os.WriteFile(p, data, 0o444); err != nil {
			t.Fatal(err)
		}
	})
	// Nothing is left in tmp/.
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp/ holds %d files", len(ents))
	}
}

// A symbolic link below the root is never followed: not to write, not to
// read.
func TestDirNoSymlinks(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "remote")
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(root, "blobs"), 0o755)
	if err := os.Symlink(outside, filepath.Join(root, "blobs", "ab")); err != nil {
		t.Fatal(err)
	}
	r, _ := NewDir(root)
	key := "blobs/ab/" + strings.Repeat("c", 62)
	src := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(src, []byte("x"), 0o644)
	if err := r.Put(ctx, []snapshot.Object{{Key: key, Path: src, Size: 1}}); err == nil {
		t.Fatal("Put wrote through a symbolic link")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatal("a file was written outside the root")
	}
	os.WriteFile(filepath.Join(outside, strings.Repeat("c", 62)), []byte("x"), 0o644)
	if err := r.Get(ctx, []string{key}, func(string, io.Reader) error { return nil }); err == nil {
		t.Fatal("Get read through a symbolic link")
	}
}

// countingRemote counts the objects put.
type countingRemote struct {
	snapshot.Remote
	put []string
}

func (c *countingRemote) Put(ctx context.Context, objs []snapshot.Object) error {
	for _, o := range objs {
		c.put = append(c.put, o.Key)
	}
	return c.Remote.Put(ctx, objs)
}

// A push sends only what the remote lacks: nothing for a snapshot it
// holds, only the new blobs of one that shares files with it.
func TestPushOnlyMissing(t *testing.T) {
	ctx := context.Background()
	d, _ := NewDir(filepath.Join(t.TempDir(), "remote"))
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a"), []byte("shared\n"), 0o644)
	os.WriteFile(filepath.Join(src, "b"), []byte("first\n"), 0o644)
	store := func() (*snapshot.Store, *countingRemote) {
		s, err := snapshot.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c := &countingRemote{Remote: d}
		s.SetRemote(c)
		return s, c
	}
	s1, c1 := store()
	m1, _ := s1.PutTree(src)
	if err := s1.Push(ctx, m1.ID); err != nil {
		t.Fatal(err)
	}
	if len(c1.put) != 3 { // two blobs, then the manifest
		t.Fatalf("first push put %v", c1.put)
	}
	if c1.put[2] != snapshot.ManifestKey(m1.ID) {
		t.Fatalf("the manifest went before its blobs: %v", c1.put)
	}
	// Another checkout pushing the same snapshot: nothing is sent.
	s2, c2 := store()
	if _, err := s2.PutTree(src); err != nil {
		t.Fatal(err)
	}
	if err := s2.Push(ctx, m1.ID); err != nil || len(c2.put) != 0 {
		t.Fatalf("second push put %v (%v)", c2.put, err)
	}
	// A changed file: its blob and the new manifest only.
	os.WriteFile(filepath.Join(src, "b"), []byte("second\n"), 0o644)
	m2, _ := s2.PutTree(src)
	if err := s2.Push(ctx, m2.ID); err != nil {
		t.Fatal(err)
	}
	if len(c2.put) != 2 || c2.put[1] != snapshot.ManifestKey(m2.ID) {
		t.Fatalf("push of a changed snapshot put %v", c2.put)
	}
}
