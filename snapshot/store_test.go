package snapshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenStore(t *testing.T) {
	s := openTestStore(t)
	fi, err := os.Stat(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("store mode %v, want 0700", fi.Mode().Perm())
	}
	h := sha("x")
	if got, want := s.BlobPath(h), filepath.Join(s.Dir(), "blobs", h[:2], h[2:]); got != want {
		t.Errorf("BlobPath = %s, want %s", got, want)
	}
	for _, bad := range []string{"", "../../etc/passwd", strings.ToUpper(h), h[:63], h + "0"} {
		if p := s.BlobPath(bad); p != "" {
			t.Errorf("BlobPath(%q) = %q, want \"\"", bad, p)
		}
		if s.Has(bad) {
			t.Errorf("Has(%q) = true", bad)
		}
	}
}

func TestPut(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, baseTree)
	write(t, root, "dup1", "same")
	write(t, root, "dup2", "same")
	m, _, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t)
	if err := s.Put(root, m); err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if !s.Has(e.Hash) {
			t.Errorf("blob of %s missing", e.Path)
			continue
		}
		data, err := os.ReadFile(s.BlobPath(e.Hash))
		if err != nil {
			t.Fatal(err)
		}
		if sha(string(data)) != e.Hash {
			t.Errorf("blob of %s does not hash to its name", e.Path)
		}
		fi, _ := os.Stat(s.BlobPath(e.Hash))
		if fi.Mode().Perm() != 0o444 {
			t.Errorf("blob of %s has mode %v, want 0444", e.Path, fi.Mode().Perm())
		}
	}
	link, _ := os.ReadFile(s.BlobPath(sha("lib/util.py")))
	if string(link) != "lib/util.py" {
		t.Errorf("symlink blob holds %q, want its target", link)
	}
	if tmp, _ := os.ReadDir(filepath.Join(s.Dir(), "tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left behind: %v", tmp)
	}
	// Again: nothing to copy, no error.
	if err := s.Put(root, m); err != nil {
		t.Fatal(err)
	}
}

func TestPutChanged(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, root string)
	}{
		{"content", func(t *testing.T, root string) { write(t, root, "train.py", "print('TRAIN')") }},
		{"removed", func(t *testing.T, root string) { remove(t, root, "train.py") }},
		{"grew", func(t *testing.T, root string) { write(t, root, "train.py", "print('train') # more") }},
		{"became a symlink", func(t *testing.T, root string) {
			remove(t, root, "train.py")
			symlink(t, root, "README.md", "train.py")
		}},
		{"symlink retargeted", func(t *testing.T, root string) {
			remove(t, root, "link-to-util.py")
			symlink(t, root, "lib/deep/x.txt", "link-to-util.py")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, baseTree)
			m, _, err := Scan(root, ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, root)
			s := openTestStore(t)
			err = s.Put(root, m)
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("Put = %v, want ErrChanged", err)
			}
			var changed Entry
			for _, e := range m.Entries {
				if strings.Contains(err.Error(), e.Path+":") {
					changed = e
				}
			}
			if changed.Path == "" {
				t.Fatalf("error %q names no entry", err)
			}
			if s.Has(changed.Hash) {
				t.Errorf("blob of changed %s stored anyway", changed.Path)
			}
			for _, e := range m.Entries {
				if e.Path != changed.Path && !s.Has(e.Hash) {
					t.Errorf("blob of unchanged %s not stored", e.Path)
				}
			}
			if tmp, _ := os.ReadDir(filepath.Join(s.Dir(), "tmp")); len(tmp) != 0 {
				t.Errorf("temporary files left behind: %v", tmp)
			}
		})
	}
}

func TestManifestRoundTrip(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, baseTree)
	s := openTestStore(t)
	m, err := s.PutTree(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadManifest(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || len(got.Entries) != len(m.Entries) {
		t.Fatalf("LoadManifest = %+v, want %+v", got, m)
	}
	for i := range m.Entries {
		if got.Entries[i] != m.Entries[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got.Entries[i], m.Entries[i])
		}
	}
	// PutTree ignores nothing: outputs are kept whole.
	if !strings.Contains(strings.Join(entryPaths(m), " "), ".gitignore") {
		t.Error("PutTree left out .gitignore")
	}

	// A tampered manifest is refused.
	p := s.manifestPath(m.ID)
	data, _ := os.ReadFile(p)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), "train.py", "TRAIN.py", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadManifest(m.ID); err == nil {
		t.Error("LoadManifest accepted a manifest whose entries do not hash to its ID")
	}
	if _, err := s.LoadManifest("../../x"); err == nil {
		t.Error("LoadManifest accepted a malformed id")
	}
	if _, err := s.LoadManifest(sha("nothing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadManifest of an unknown id = %v, want ErrNotExist", err)
	}
}

func TestPutTreeDeduplicates(t *testing.T) {
	s := openTestStore(t)
	a, b := t.TempDir(), t.TempDir()
	write(t, a, "model.bin", strings.Repeat("w", 1000))
	write(t, a, "metrics.json", `{"loss": 1}`)
	write(t, b, "model.bin", strings.Repeat("w", 1000))
	write(t, b, "metrics.json", `{"loss": 0.5}`)
	if _, err := s.PutTree(a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutTree(b); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(filepath.Join(s.Dir(), "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if n != 3 {
		t.Errorf("store holds %d blobs, want 3 (model.bin once)", n)
	}
}

func TestMaterializeRoundTrip(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, baseTree)
	chmod(t, root, "scripts/run.sh", 0o755)
	write(t, root, "empty.txt", "")
	s := openTestStore(t)
	m, err := s.PutTree(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{
		filepath.Join(t.TempDir(), "new", "dir"), // absent
		t.TempDir(),                              // empty
	} {
		if err := s.Materialize(m, dst); err != nil {
			t.Fatal(err)
		}
		got, _, err := Scan(dst, ScanOptions{NoIgnore: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != m.ID {
			t.Errorf("materialized tree differs: %s", Diff(m, got))
		}
		fi, err := os.Lstat(filepath.Join(dst, "scripts/run.sh"))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("run.sh: %v, %v; want mode 0755", fi.Mode(), err)
		}
		fi, err = os.Lstat(filepath.Join(dst, "train.py"))
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("train.py: %v, %v; want mode 0644", fi.Mode(), err)
		}
		if target, err := os.Readlink(filepath.Join(dst, "link-to-util.py")); err != nil || target != "lib/util.py" {
			t.Errorf("link-to-util.py: %q, %v", target, err)
		}
		// Files are copies: writing one leaves the store intact.
		write(t, dst, "train.py", "overwritten")
		if data, _ := os.ReadFile(s.BlobPath(sha("print('train')"))); string(data) != "print('train')" {
			t.Error("writing a materialized file changed its blob")
		}
	}

	nonEmpty := t.TempDir()
	write(t, nonEmpty, "x", "x")
	if err := s.Materialize(m, nonEmpty); err == nil {
		t.Error("Materialize into a non-empty directory succeeded")
	}
}

func TestMaterializeRejects(t *testing.T) {
	file := func(p string) Entry { return Entry{Path: p, Mode: ModeFile, Size: 1, Hash: sha("x")} }
	link := func(p, target string) Entry {
		return Entry{Path: p, Mode: ModeSymlink, Size: int64(len(target)), Hash: sha(target)}
	}
	tests := []struct {
		name    string
		entries []Entry
		want    string // in the error
	}{
		{"absolute path", []Entry{file("/etc/x")}, "absolute"},
		{"dot-dot", []Entry{file("../x")}, `".." element`},
		{"dot-dot inside", []Entry{file("a/../../x")}, `".." element`},
		{"dot", []Entry{file("a/./x")}, `"." element`},
		{"empty element", []Entry{file("a//x")}, "empty element"},
		{"trailing slash", []Entry{file("a/")}, "empty element"},
		{"empty path", []Entry{file("")}, "empty path"},
		{"file used as directory", []Entry{file("a"), file("a/b")}, "goes through entry"},
		{"path through a symlink", []Entry{link("s", "sub"), file("s/x"), file("sub/y")}, "goes through entry"},
		{"path through a symlink escaping", []Entry{link("s", ".."), file("s/x")}, "goes through entry"},
		{"absolute target", []Entry{link("s", "/etc/passwd")}, "absolute target"},
		{"target leaves", []Entry{link("s", "../x")}, "leaves the tree"},
		{"target leaves from a subdirectory", []Entry{link("a/b/s", "../../../x")}, "leaves the tree"},
		{"target through a symlink to the root", []Entry{link("r", "."), link("s", "r/..")}, "leaves the tree"},
		{"target through a chain of symlinks", []Entry{link("a/up", ".."), link("b/s", "../a/up/..")}, "leaves the tree"},
		{"symlink loop", []Entry{link("a", "b"), link("b", "a"), link("c", "a/x")}, "too many levels"},
		{"empty target", []Entry{link("s", "")}, "empty target"},
		{"unknown mode", []Entry{{Path: "x", Mode: 0o4755, Size: 1, Hash: sha("x")}}, "unknown mode"},
		{"missing blob", []Entry{{Path: "x", Mode: ModeFile, Size: 7, Hash: sha("missing")}}, "missing from the store"},
	}
	s := openTestStore(t)
	for _, blob := range []string{"x", "sub", "..", "/etc/passwd", "../x", "../../../x", ".", "r/..", "../a/up/..", "a", "b", "a/x", ""} {
		putBlob(t, s, blob)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "dst")
			m := NewManifest(tt.entries)
			err := s.Materialize(m, dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Materialize = %v, want an error about %q", err, tt.want)
			}
			ents, _ := os.ReadDir(parent)
			if len(ents) != 0 {
				t.Errorf("Materialize left %v in %s", ents, parent)
			}
		})
	}

	// Symlinks inside the tree, even through other symlinks, are fine.
	ok := NewManifest([]Entry{
		file("a/x"), link("a/up", ".."), link("b/s", "../a/up/a/x"), link("c", "a"), link("d", "c/x"), link("e", "does/not/exist"),
	})
	for _, target := range []string{"..", "../a/up/a/x", "a", "c/x", "does/not/exist"} {
		putBlob(t, s, target)
	}
	dst := t.TempDir()
	if err := s.Materialize(ok, dst); err != nil {
		t.Fatalf("Materialize of in-tree symlinks: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(dst, "d")); err != nil || string(data) != "x" {
		t.Errorf("reading through d: %q, %v", data, err)
	}
}

// putBlob stores content as a blob.
func putBlob(t testing.TB, s *Store, content string) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "f", content)
	m := NewManifest([]Entry{{Path: "f", Mode: ModeFile, Size: int64(len(content)), Hash: sha(content)}})
	if err := s.Put(dir, m); err != nil {
		t.Fatal(err)
	}
}

// TestCheckoutLinksAsTheyWere: Checkout gives back symlinks that point
// outside the tree or are absolute, as the run saw them, while writing
// nothing through them and nothing outside dst.
func TestCheckoutLinksAsTheyWere(t *testing.T) {
	file := func(p string) Entry { return Entry{Path: p, Mode: ModeFile, Size: 1, Hash: sha("x")} }
	link := func(p, target string) Entry {
		return Entry{Path: p, Mode: ModeSymlink, Size: int64(len(target)), Hash: sha(target)}
	}
	s := openTestStore(t)
	for _, blob := range []string{"/etc/passwd", "..", "../../sentinel", "up/sentinel", "x", "/tmp"} {
		putBlob(t, s, blob)
	}
	entries := []Entry{file("x"), link("abs", "/etc/passwd"), link("up", ".."), link("a/b/far", "../../sentinel"), link("through", "up/sentinel")}
	parent := t.TempDir()
	dst := filepath.Join(parent, "dst")
	if err := s.Materialize(NewManifest(entries), dst); err == nil {
		t.Fatal("Materialize took links that leave the tree")
	}
	if err := s.Checkout(NewManifest(entries), dst); err != nil {
		t.Fatalf("Checkout: %v", err)
	}
	for p, want := range map[string]string{"abs": "/etc/passwd", "up": "..", "a/b/far": "../../sentinel", "through": "up/sentinel"} {
		if got, err := os.Readlink(filepath.Join(dst, p)); err != nil || got != want {
			t.Errorf("%s: link to %q, %v; want %q", p, got, err, want)
		}
	}
	got, _, err := Scan(dst, ScanOptions{NoIgnore: true})
	if err != nil || got.ID != NewManifest(entries).ID {
		t.Errorf("the checkout scans to another tree (%v): %s", err, Diff(NewManifest(entries), got))
	}

	// An entry below a link would be written through it: refused, nothing
	// written.
	for _, bad := range [][]Entry{
		{link("up", ".."), file("up/x")},
		{link("abs", "/tmp"), file("abs/x")},
	} {
		dst := filepath.Join(t.TempDir(), "dst")
		if err := s.Checkout(NewManifest(bad), dst); err == nil || !strings.Contains(err.Error(), "goes through entry") {
			t.Errorf("Checkout(%v) = %v; want a refusal", bad, err)
		}
		if _, err := os.Lstat(dst); err == nil {
			t.Errorf("a refused checkout left %s", dst)
		}
	}
}

// A file a writer found (Put, PutManifest) counts as used then: gc's
// RemoveUnused keeps it; one unused since removes.
func TestRemoveUnusedKeepsWhatWritersFound(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.PutTree(src)
	if err != nil {
		t.Fatal(err)
	}
	hash := m.Entries[0].Hash
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{s.BlobPath(hash), s.manifestPath(m.ID)} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(-time.Hour)
	// A later apply finds both: they are used again.
	if _, err := s.PutTree(src); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"blob", "manifest"} {
		id := map[string]string{"blob": hash, "manifest": m.ID}[kind]
		if removed, err := s.RemoveUnused(kind, id, since); err != nil || removed {
			t.Errorf("RemoveUnused(%s) of a file a writer just found = %v, %v; want kept", kind, removed, err)
		}
	}
	if !s.Has(hash) {
		t.Fatal("the blob is gone")
	}
	if _, err := s.LoadManifest(m.ID); err != nil {
		t.Fatal(err)
	}
	// Unused for two hours: removed.
	for _, p := range []string{s.BlobPath(hash), s.manifestPath(m.ID)} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	for _, kind := range []string{"blob", "manifest"} {
		id := map[string]string{"blob": hash, "manifest": m.ID}[kind]
		if removed, err := s.RemoveUnused(kind, id, since); err != nil || !removed {
			t.Errorf("RemoveUnused(%s) of an unused file = %v, %v; want removed", kind, removed, err)
		}
	}
	if s.Has(hash) {
		t.Error("the unused blob is still there")
	}
	// Put stores it again.
	if _, err := s.PutTree(src); err != nil || !s.Has(hash) {
		t.Errorf("PutTree after gc: %v, blob there: %v", err, s.Has(hash))
	}
}
