package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var baseTree = map[string]string{
	"train.py":        "print('train')",
	"lib/util.py":     "def f(): pass",
	"lib/deep/x.txt":  "x",
	"data/small.csv":  "a,b\n1,2\n",
	".gitignore":      "*.ckpt\noutputs/\n",
	"README.md":       "# readme",
	"scripts/run.sh":  "#!/bin/sh\necho hi\n",
	"link-to-util.py": "@lib/util.py",
}

func scanID(t *testing.T, root string, opts ScanOptions) string {
	t.Helper()
	m, _, err := Scan(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("Scan returned an invalid manifest: %v", err)
	}
	return m.ID
}

func TestManifestID(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(t *testing.T, root string)
		changes bool
	}{
		{"content", func(t *testing.T, root string) { write(t, root, "lib/util.py", "def f(): return 1") }, true},
		{"one byte", func(t *testing.T, root string) { write(t, root, "lib/deep/x.txt", "y") }, true},
		{"exec bit", func(t *testing.T, root string) { chmod(t, root, "train.py", 0o744) }, true},
		{"rename", func(t *testing.T, root string) { rename(t, root, "README.md", "README.txt") }, true},
		{"move to another directory", func(t *testing.T, root string) { rename(t, root, "lib/deep/x.txt", "lib/x.txt") }, true},
		{"added file", func(t *testing.T, root string) { write(t, root, "new.py", "") }, true},
		{"removed file", func(t *testing.T, root string) { remove(t, root, "data/small.csv") }, true},
		{"symlink target", func(t *testing.T, root string) {
			remove(t, root, "link-to-util.py")
			symlink(t, root, "train.py", "link-to-util.py")
		}, true},
		{"symlink replaced by its target's content", func(t *testing.T, root string) {
			remove(t, root, "link-to-util.py")
			write(t, root, "link-to-util.py", "lib/util.py")
		}, true},
		{"ignored file added", func(t *testing.T, root string) { write(t, root, "model.ckpt", "weights") }, false},
		{"ignored directory added", func(t *testing.T, root string) { write(t, root, "outputs/log.txt", "log") }, false},
		{"mtime", func(t *testing.T, root string) {
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(filepath.Join(root, "train.py"), old, old); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"read bit only", func(t *testing.T, root string) { chmod(t, root, "train.py", 0o600) }, false},
		{"empty directory", func(t *testing.T, root string) { mkdir(t, root, "empty/nested") }, false},
		{".git contents", func(t *testing.T, root string) { write(t, root, ".git/HEAD", "ref: refs/heads/main") }, false},
		{".trainrun contents", func(t *testing.T, root string) { write(t, root, ".trainrun/state", "{}") }, false},
		{"fifo", func(t *testing.T, root string) {
			if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, baseTree)
			before := scanID(t, root, ScanOptions{})
			tt.mutate(t, root)
			after := scanID(t, root, ScanOptions{})
			if changed := before != after; changed != tt.changes {
				t.Errorf("ID changed = %v, want %v", changed, tt.changes)
			}
		})
	}
}

func TestManifestIDIsStable(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, baseTree)
	want := scanID(t, root, ScanOptions{})
	cache := NewStatCache()
	for _, opts := range []ScanOptions{
		{Workers: 1},
		{Workers: 8},
		{Cache: cache},
		{Cache: cache}, // now from the cache
	} {
		if got := scanID(t, root, opts); got != want {
			t.Errorf("Scan with %+v: ID %s, want %s", opts, got, want)
		}
	}

	// Independent of the order the entries were collected in.
	m, _, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shuffled := append([]Entry(nil), m.Entries...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got := NewManifest(shuffled).ID; got != want {
		t.Errorf("NewManifest(shuffled entries).ID = %s, want %s", got, want)
	}
}

func TestScanEntries(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"plain":           "plain",
		"exec":            "exec",
		"private":         "private",
		"group-exec":      "group-exec",
		"dir/link":        "@../plain",
		"dirlink":         "@dir",
		"dangling":        "@does/not/exist",
		"a.b":             "x",
		"a/b":             "x",
		"a0":              "x",
		"nested/.git":     "gitdir: elsewhere", // a submodule's .git file
		".trainrunignore": "",
	})
	chmod(t, root, "exec", 0o700)
	chmod(t, root, "private", 0o600)
	chmod(t, root, "group-exec", 0o654)
	mkdir(t, root, "only/empty/dirs")

	m, stats, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Path: ".trainrunignore", Mode: ModeFile, Size: 0, Hash: sha("")},
		{Path: "a.b", Mode: ModeFile, Size: 1, Hash: sha("x")},
		{Path: "a/b", Mode: ModeFile, Size: 1, Hash: sha("x")},
		{Path: "a0", Mode: ModeFile, Size: 1, Hash: sha("x")},
		{Path: "dangling", Mode: ModeSymlink, Size: 14, Hash: sha("does/not/exist")},
		{Path: "dir/link", Mode: ModeSymlink, Size: 8, Hash: sha("../plain")},
		{Path: "dirlink", Mode: ModeSymlink, Size: 3, Hash: sha("dir")},
		{Path: "exec", Mode: ModeExec, Size: 4, Hash: sha("exec")},
		{Path: "group-exec", Mode: ModeExec, Size: 10, Hash: sha("group-exec")},
		{Path: "plain", Mode: ModeFile, Size: 5, Hash: sha("plain")},
		{Path: "private", Mode: ModeFile, Size: 7, Hash: sha("private")},
	}
	if len(m.Entries) != len(want) {
		t.Fatalf("got entries %q, want %d entries", entryPaths(m), len(want))
	}
	for i := range want {
		if m.Entries[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, m.Entries[i], want[i])
		}
	}
	if stats.Files != len(want) || stats.Bytes != 54 {
		t.Errorf("stats = %d files, %d bytes; want %d, 54", stats.Files, stats.Bytes, len(want))
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
}

func TestScanErrors(t *testing.T) {
	root := t.TempDir()
	write(t, root, "file", "x")
	if _, _, err := Scan(filepath.Join(root, "missing"), ScanOptions{}); err == nil {
		t.Error("Scan of a missing directory succeeded")
	}
	if _, _, err := Scan(filepath.Join(root, "file"), ScanOptions{}); err == nil {
		t.Error("Scan of a file succeeded")
	}
	if os.Geteuid() != 0 { // root reads anything
		write(t, root, "locked/secret", "x")
		chmod(t, root, "locked/secret", 0o000)
		if _, _, err := Scan(root, ScanOptions{}); err == nil || !strings.Contains(err.Error(), "secret") {
			t.Errorf("Scan with an unreadable file: err = %v, want an error naming it", err)
		}
	}
}

func TestScanDirStats(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"top.txt":        "12345",
		"data/a":         "1",
		"data/raw/b":     "22",
		"data/raw/c":     "333",
		"src/main.go":    "4444",
		"src/x/y/z/w.go": "55555",
	})
	_, stats, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []DirStats{
		{"data", 3, 6},
		{"data/raw", 2, 5},
		{"src", 2, 9},
		{"src/x", 1, 5},
		{"src/x/y", 1, 5},
		{"src/x/y/z", 1, 5},
	}
	if len(stats.Dirs) != len(want) {
		t.Fatalf("Dirs = %+v, want %+v", stats.Dirs, want)
	}
	for i := range want {
		if stats.Dirs[i] != want[i] {
			t.Errorf("Dirs[%d] = %+v, want %+v", i, stats.Dirs[i], want[i])
		}
	}
	largest := stats.Largest(2, false)
	if len(largest) != 2 || largest[0].Path != "src" || largest[1].Path != "data" {
		t.Errorf("Largest(2) = %+v, want src then data", largest)
	}
}

func TestWarning(t *testing.T) {
	small := &Stats{Files: 2000, Bytes: 300_000_000}
	if w := small.Warning(); w != "" {
		t.Errorf("Warning at the limits = %q, want none", w)
	}

	big := &Stats{
		Files: 3100,
		Bytes: 1_250_000_000,
		Dirs: []DirStats{
			{"data", 2000, 1_200_000_000},
			{"data/raw", 2000, 1_200_000_000}, // all of data: named instead of data
			{"src", 1000, 40_000_000},
			{"src/models", 10, 30_000_000},
			{"notebooks", 90, 9_000_000},
		},
	}
	w := big.Warning()
	for _, want := range []string{"3,100 files", "1.2 GB", "data/raw/", "src/", "notebooks/", "(top-level files)", ".trainrunignore", `"/data/raw/"`} {
		if !strings.Contains(w, want) {
			t.Errorf("Warning() lacks %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "src/models/") {
		t.Errorf("Warning() names a directory inside another:\n%s", w)
	}
	if strings.Index(w, "data/raw/") > strings.Index(w, "src/") {
		t.Errorf("Warning() does not list the largest directory first:\n%s", w)
	}

	// Too many files but few bytes: rank by file count.
	many := &Stats{Files: 5000, Bytes: 5_000_000, Dirs: []DirStats{
		{"big", 10, 4_000_000},
		{"node_modules", 4900, 900_000},
	}}
	w = many.Warning()
	if strings.Index(w, "node_modules/") > strings.Index(w, "big/") {
		t.Errorf("Warning() for many small files does not list node_modules first:\n%s", w)
	}
}

func TestScanWarnsOnManyFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, "train.py", "x")
	for i := range 2001 {
		write(t, root, "cache/"+strings.Repeat("f", 1+i%7)+"/"+strconv.Itoa(i), "")
	}
	_, stats, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := stats.Warning()
	if !strings.Contains(w, "cache/") || !strings.Contains(w, "2,002 files") {
		t.Errorf("Warning() = %q, want it to name cache/ and count 2,002 files", w)
	}
}

func TestStatCacheInScan(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, baseTree)
	write(t, root, "fresh.txt", "fresh")
	cachePath := filepath.Join(t.TempDir(), "statcache")

	scan := func(c *StatCache) (*Manifest, *Stats) {
		t.Helper()
		m, s, err := Scan(root, ScanOptions{Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		return m, s
	}
	const regular = 8 // baseTree's regular files and fresh.txt

	// Just written: every entry is racy, so a second scan rehashes.
	c := NewStatCache()
	m0, s := scan(c)
	if s.Hashed != regular {
		t.Fatalf("cold scan hashed %d files, want %d", s.Hashed, regular)
	}
	if _, s = scan(c); s.Hashed != regular {
		t.Errorf("scan right after writing hashed %d files, want %d (racy entries)", s.Hashed, regular)
	}

	// Once the files are older than the racy window, the cache serves them,
	// also after a save and a load.
	time.Sleep(racyWindow + 100*time.Millisecond)
	if _, s = scan(c); s.Hashed != regular {
		t.Errorf("scan after the racy window hashed %d files, want %d (entries still marked racy)", s.Hashed, regular)
	}
	if err := c.Save(cachePath); err != nil {
		t.Fatal(err)
	}
	c, err := LoadStatCache(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	m1, s := scan(c)
	if s.Hashed != 0 || m1.ID != m0.ID {
		t.Errorf("warm scan hashed %d files (want 0), ID %s (want %s)", s.Hashed, m1.ID, m0.ID)
	}

	// Same size, mtime restored: ctime still betrays the change.
	p := filepath.Join(root, "fresh.txt")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, root, "fresh.txt", "FRESH")
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	m2, s := scan(c)
	if s.Hashed != 1 || m2.ID == m1.ID {
		t.Errorf("after a same-size change with mtime restored: hashed %d (want 1), ID changed = %v (want true)", s.Hashed, m2.ID != m1.ID)
	}

	// A content change with a new mtime.
	write(t, root, "train.py", "print('changed')")
	m3, s := scan(c)
	if s.Hashed == 0 || m3.ID == m2.ID {
		t.Errorf("after a content change: hashed %d (want ≥ 1), ID changed = %v", s.Hashed, m3.ID != m2.ID)
	}
	uncached, _, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if uncached.ID != m3.ID {
		t.Errorf("scan with cache gives ID %s, without %s", m3.ID, uncached.ID)
	}
}

func write(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, root, rel string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(filepath.Join(root, rel), mode); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, root, from, to string) {
	t.Helper()
	if err := os.Rename(filepath.Join(root, from), filepath.Join(root, to)); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, root, rel string) {
	t.Helper()
	if err := os.Remove(filepath.Join(root, rel)); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, root, target, rel string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(root, rel)); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, root, rel string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, rel), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestScanTrainrunignore(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		".gitignore":          "*.csv\ndata/\nnotes.md\n",
		".trainrunignore":     "!keep.csv\n!data/\nwandb/\n",
		"train.py":            "x",
		"x.csv":               "x",
		"keep.csv":            "x",
		"sub/keep.csv":        "x",
		"data/raw.bin":        "x",
		"data/a.csv":          "x",
		"notes.md":            "x",
		"wandb/run.log":       "x",
		"sub/.trainrunignore": "!notes.md\n",
		"sub/notes.md":        "x",
	})
	m, _, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".gitignore", ".trainrunignore", "data/raw.bin", "keep.csv", "sub/.trainrunignore", "sub/keep.csv", "sub/notes.md", "train.py"}
	if got := entryPaths(m); !slices.Equal(got, want) {
		t.Errorf("Scan = %q, want %q", got, want)
	}

	m, _, err = Scan(root, ScanOptions{NoIgnore: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 12 {
		t.Errorf("Scan with NoIgnore = %q, want all 12 files", entryPaths(m))
	}
}
