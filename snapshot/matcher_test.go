package snapshot

import (
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// checkMatcherAgreesWithScan asks the Matcher about every file under root
// and compares with what Scan took.
func checkMatcherAgreesWithScan(t *testing.T, root string) {
	t.Helper()
	m, _, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scanned := make(map[string]bool)
	for _, e := range m.Entries {
		scanned[e.Path] = true
	}
	mt, err := NewMatcher(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		n++
		if got, want := mt.Excluded(rel, false), !scanned[rel]; got != want {
			t.Errorf("Excluded(%q) = %v; Scan took it: %v", rel, got, scanned[rel])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no files walked")
	}
}

func TestMatcherAgreesWithScan(t *testing.T) {
	root := t.TempDir()
	spec := map[string]string{}
	for k, v := range gitIgnoreFixture {
		spec[k] = v
	}
	spec[".git/HEAD"] = "ref"
	spec["sub/.git"] = "gitdir: elsewhere"
	spec[".trainrun/state.json"] = "{}"
	spec["sub/.trainrun/x"] = "x"
	spec["sub/deeper/.trainrun"] = "a file, not the data directory"
	writeTree(t, root, spec)
	if _, err := exec.LookPath("git"); err == nil {
		// Below the top of a work tree, the enclosing .gitignore applies.
		os.RemoveAll(filepath.Join(root, ".git"))
		runGit(t, gitEnv(t), root, "init", "-q")
	}
	for _, dir := range []string{".", "sub", "doc", "excl", "sub2"} {
		t.Run(dir, func(t *testing.T) {
			checkMatcherAgreesWithScan(t, filepath.Join(root, dir))
		})
	}
}

func TestMatcherTrainrunignore(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		".gitignore":          "*.csv\ndata/\nnotes.md\n__pycache__/\noutputs/\n",
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
		"__pycache__/m.pyc":   "x",
		"outputs/model.pt":    "x",
	})
	checkMatcherAgreesWithScan(t, root)

	mt, err := NewMatcher(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"", true, false},
		{".", true, false},
		{"__pycache__", true, true},
		{"__pycache__/new.pyc", false, true}, // not there yet: decided by its directory
		{"outputs", true, true},
		{"outputs", false, false}, // "outputs/" matches directories only
		{"wandb/later/x", false, true},
		{".git", true, true},
		{".git/index", false, true},
		{"a/.git/index", false, true},
		{".trainrun/lock", false, true},
		{".trainrun", false, false}, // only the directory is left out
		{"new/dir/train.py", false, false},
		{"new/x.csv", false, true},
		{"/train.py/", false, false}, // slashes at the ends do not matter
	} {
		if got := mt.Excluded(c.rel, c.isDir); got != c.want {
			t.Errorf("Excluded(%q, dir=%v) = %v, want %v", c.rel, c.isDir, got, c.want)
		}
	}
}

// TestMatcherAgreesWithScanRandom compares the Matcher with Scan on random
// trees and ignore files.
func TestMatcherAgreesWithScanRandom(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	names := []string{"a", "b", "ab", "a.c", "ba", "[x]", "c"}
	pieces := []string{"a", "b", "*", "?", "**", "/", "[ab]", "[!a]", ".", "c", "!"}
	patterns := func(n int) string {
		var lines []string
		for range 1 + r.Intn(n) {
			var b strings.Builder
			for range 1 + r.Intn(4) {
				b.WriteString(pieces[r.Intn(len(pieces))])
			}
			lines = append(lines, b.String())
		}
		return strings.Join(lines, "\n") + "\n"
	}
	for i := range 30 {
		spec := map[string]string{}
		for range 15 {
			var parts []string
			for range 1 + r.Intn(3) {
				parts = append(parts, names[r.Intn(len(names))])
			}
			spec[strings.Join(parts, "/")] = "x"
		}
		for p := range spec {
			for q := range spec {
				if strings.HasPrefix(q, p+"/") {
					delete(spec, p)
				}
			}
		}
		for p := range spec {
			if dir, _, ok := strings.Cut(p, "/"); ok {
				if r.Intn(2) == 0 {
					spec[dir+"/.gitignore"] = patterns(3)
				} else {
					spec[dir+"/.trainrunignore"] = patterns(3)
				}
				break
			}
		}
		spec[".gitignore"] = patterns(5)
		root := t.TempDir()
		writeTree(t, root, spec)
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			checkMatcherAgreesWithScan(t, root)
		})
	}
}
