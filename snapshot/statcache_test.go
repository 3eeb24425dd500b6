package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// filledCache returns a cache of n entries as a scan would leave it.
func filledCache(n int) *StatCache {
	c := NewStatCache()
	old := time.Now().Add(-time.Hour).UnixNano()
	for i := range n {
		st := fileStat{size: int64(i), mtime: old + int64(i), ctime: old, ino: uint64(i), mode: 0o100644}
		c.store(fmt.Sprintf("dir%d/file%d.py", i%50, i), st, [32]byte{byte(i)}, time.Now().UnixNano())
	}
	return c
}

func TestStatCacheSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	c := filledCache(100)
	c.store("racy", fileStat{size: 1, mtime: time.Now().UnixNano()}, [32]byte{1}, time.Now().UnixNano())
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := LoadStatCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != c.Len() {
		t.Fatalf("loaded %d entries, want %d", got.Len(), c.Len())
	}
	for k, e := range c.entries {
		g := got.entries[k]
		if g == nil || g.st != e.st || g.hash != e.hash || g.racy != e.racy {
			t.Errorf("entry %q: loaded %+v, want %+v", k, g, e)
		}
	}
	if !got.entries["racy"].racy {
		t.Error("the racy entry lost its flag")
	}
}

func TestStatCacheLoadMissingOrCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := filledCache(10).Save(good); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0x40
	cases := map[string][]byte{
		"empty":     {},
		"garbage":   []byte("not a cache at all, not even close"),
		"truncated": data[:len(data)-10],
		"flipped":   flipped,
		"header":    data[:12],
	}
	for name, content := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadStatCache(p)
		if err != nil || c == nil || c.Len() != 0 {
			t.Errorf("%s: LoadStatCache = %v entries, %v; want an empty cache", name, c.Len(), err)
		}
	}
	c, err := LoadStatCache(filepath.Join(dir, "missing"))
	if err != nil || c.Len() != 0 {
		t.Errorf("missing file: LoadStatCache = %v, %v; want an empty cache", c, err)
	}
}

func TestStatCacheSaveSkipsWhenUnchanged(t *testing.T) {
	root := t.TempDir()
	write(t, root, "a.txt", "a")
	path := filepath.Join(t.TempDir(), "cache")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(root, "a.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	time.Sleep(racyWindow + 50*time.Millisecond) // let ctime age too

	c := NewStatCache()
	if _, _, err := Scan(root, ScanOptions{Cache: c}); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err = LoadStatCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, s, err := Scan(root, ScanOptions{Cache: c}); err != nil || s.Hashed != 0 {
		t.Fatalf("warm scan: hashed %d, err %v", s.Hashed, err)
	}
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("Save rewrote a cache that had not changed")
	}

	// A removed file's entry is dropped on the next save.
	remove(t, root, "a.txt")
	write(t, root, "b.txt", "b")
	if _, _, err := Scan(root, ScanOptions{Cache: c}); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	c, err = LoadStatCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 1 || c.entries["b.txt"] == nil {
		t.Errorf("after removing a.txt, cache holds %d entries (b.txt: %v), want only b.txt", c.Len(), c.entries["b.txt"] != nil)
	}
}

func TestStatCacheConcurrentScans(t *testing.T) {
	root := t.TempDir()
	for i := range 200 {
		write(t, root, fmt.Sprintf("d%d/f%d", i%10, i), fmt.Sprint(i))
	}
	c := NewStatCache()
	want := scanID(t, root, ScanOptions{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			m, _, err := Scan(root, ScanOptions{Cache: c, Workers: 4})
			if err == nil && m.ID != want {
				err = fmt.Errorf("ID %s, want %s", m.ID, want)
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
