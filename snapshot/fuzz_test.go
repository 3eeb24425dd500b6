package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzMaterialize feeds arbitrary manifests to Materialize: it must never
// panic nor write outside dst, and what it writes must scan back to the
// manifest.
//
// The input is one entry per line: "f PATH" (a file), "x PATH" (an
// executable) or "l PATH TARGET" (a symlink, target after a tab).
func FuzzMaterialize(f *testing.F) {
	for _, seed := range []string{
		"f a\nf b/c\nl d\tb/c",
		"f ../escape",
		"l s\t..\nf s/x",
		"l up\t..\nl s\tup/sentinel/x",
		"l r\t.\nl s\tr/../sentinel",
		"l a/b\t../../sentinel",
		"l a\t/etc\nf a/passwd",
		"x run.sh\nl link\trun.sh\nl dir\t.\nl d2\tdir/dir/dir/run.sh",
		"l loop\tloop",
		"f a\nf a/b",
		"f /abs",
		"f a//b\nf ./c",
		"l x\tdeep/../../sentinel",
		"l deep/s\t..\nl t\tdeep/s/deep/s/../sentinel",
		"f back\\slash\nl bs\t..\\x",
	} {
		f.Add(seed)
	}
	store, err := OpenStore(filepath.Join(f.TempDir(), "store"))
	if err != nil {
		f.Fatal(err)
	}
	const content = "content"
	putRawBlob(f, store, content)

	f.Fuzz(func(t *testing.T, spec string) {
		var entries []Entry
		for line := range strings.SplitSeq(spec, "\n") {
			if len(line) < 2 || line[1] != ' ' {
				continue
			}
			rest := line[2:]
			switch line[0] {
			case 'f', 'x':
				mode := ModeFile
				if line[0] == 'x' {
					mode = ModeExec
				}
				entries = append(entries, Entry{Path: rest, Mode: mode, Size: int64(len(content)), Hash: sha(content)})
			case 'l':
				path, target, _ := strings.Cut(rest, "\t")
				putRawBlob(t, store, target)
				entries = append(entries, Entry{Path: path, Mode: ModeSymlink, Size: int64(len(target)), Hash: sha(target)})
			}
		}
		m := NewManifest(entries)
		// Materialize keeps links inside the tree; Checkout writes them
		// as they are. Neither writes outside dst nor through a link.
		for _, checkout := range []bool{false, true} {
			fuzzMaterialize(t, store, m, checkout)
		}
	})
}

func fuzzMaterialize(t *testing.T, store *Store, m *Manifest, checkout bool) {
	base := t.TempDir()
	sentinel := filepath.Join(base, "sentinel")
	dst := filepath.Join(base, "dst")
	if err := os.Mkdir(sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	if checkout {
		err = store.Checkout(m, dst)
	} else {
		err = store.Materialize(m, dst)
	}

	if ents, _ := os.ReadDir(sentinel); len(ents) != 0 {
		t.Fatalf("checkout=%v wrote into the sibling directory: %v", checkout, ents)
	}
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if e.Name() != "sentinel" && e.Name() != "dst" {
			t.Fatalf("checkout=%v wrote %s next to dst", checkout, e.Name())
		}
	}
	if err != nil {
		if _, serr := os.Lstat(dst); serr == nil {
			t.Fatalf("checkout=%v failed (%v) but left %s behind", checkout, err, dst)
		}
		return
	}
	realDst, err := filepath.EvalSymlinks(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !checkout {
		filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.Type()&os.ModeSymlink == 0 {
				return nil
			}
			if r, err := filepath.EvalSymlinks(p); err == nil && r != realDst && !strings.HasPrefix(r, realDst+string(filepath.Separator)) {
				t.Errorf("symlink %s resolves outside dst, to %s", p, r)
			}
			return nil
		})
	}
	for _, e := range m.Entries {
		for elem := range strings.SplitSeq(e.Path, "/") {
			if elem == ".git" || elem == ".trainrun" {
				return // left out by Scan
			}
		}
	}
	got, _, err := Scan(dst, ScanOptions{NoIgnore: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID {
		t.Errorf("checkout=%v: the tree written scans to a different manifest: %s", checkout, Diff(m, got))
	}
}

// putRawBlob writes content into the store as a blob, bypassing Put.
func putRawBlob(t testing.TB, s *Store, content string) {
	t.Helper()
	p := s.BlobPath(sha(content))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o444); err != nil && !os.IsPermission(err) {
		t.Fatal(err)
	}
}

// FuzzIgnore parses arbitrary ignore files and matches arbitrary paths:
// no panic, and the result does not depend on the index's shortcuts.
func FuzzIgnore(f *testing.F) {
	f.Add("*.log\n!keep.log\n/build/\n**/cache/**\n[a-c]?.txt\n\\#x\n", "a/b/keep.log", true)
	f.Add("a/**/b\n[[:alpha:]]\n[!\n\\", "a/x/y/b", false)
	f.Add("**\n!**/\n", "x", true)
	f.Fuzz(func(t *testing.T, content, path string, isDir bool) {
		path = strings.Trim(path, "/")
		if path == "" || strings.Contains(path, "//") {
			return
		}
		file := parseIgnoreFile([]byte(content), "")
		nameStart := strings.LastIndexByte(path, '/') + 1
		got, _ := (&ignoreStack{file: file}).decide(path, nameStart, isDir)

		// The same decision, by trying every pattern from the last.
		want := false
		for i := len(file.patterns) - 1; i >= 0; i-- {
			p := &file.patterns[i]
			if p.dirOnly && !isDir {
				continue
			}
			if p.match(path, path[nameStart:]) {
				want = !p.negate
				break
			}
		}
		if got != want {
			t.Errorf("decide(%q) = %v, patterns one by one say %v", path, got, want)
		}
	})
}
