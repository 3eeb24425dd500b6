package fswatch

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const debounce = 50 * time.Millisecond

func newWatcher(t *testing.T, opts Options) *Watcher {
	t.Helper()
	if opts.Debounce == 0 {
		opts.Debounce = debounce
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, w *Watcher) Batch {
	t.Helper()
	select {
	case b := <-w.Changes():
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no batch within 5s")
		return Batch{}
	}
}

func none(t *testing.T, w *Watcher, d time.Duration) {
	t.Helper()
	select {
	case b := <-w.Changes():
		t.Fatalf("unexpected batch %q", b.Paths)
	case <-time.After(d):
	}
}

// tree writes a project: a configuration directory that is also the
// source tree, with ignore rules.
func tree(t *testing.T) string {
	root := t.TempDir()
	for p, c := range map[string]string{
		"trainrun.hcl":          "x",
		".gitignore":            "*.log\n__pycache__/\noutputs/\n",
		"train.py":              "x",
		"pkg/model.py":          "x",
		"__pycache__/train.pyc": "x",
		"outputs/model.pt":      "x",
		".git/HEAD":             "x",
		".trainrun/state.json":  "x",
	} {
		write(t, filepath.Join(root, p), c)
	}
	return root
}

func TestRelevantChanges(t *testing.T) {
	root := tree(t)
	other := t.TempDir()
	varFile := filepath.Join(other, "prod.tfvars")
	w := newWatcher(t, Options{})
	err := w.Set(Targets{
		Dirs:  []Dir{{Path: root, Match: func(n string) bool { return n == "trainrun.hcl" }}},
		Files: []string{varFile},
		Trees: []string{filepath.Join(root, "pkg")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Watched(); got != 3 { // root, pkg, other
		t.Errorf("Watched() = %d, want 3", got)
	}
	tests := []struct {
		name  string
		write string // relative to root, or absolute
		want  bool
	}{
		{"config file", "trainrun.hcl", true},
		{"hidden editor file beside it", ".trainrun.hcl.swp", false},
		{"file in the tree", "pkg/model.py", true},
		{"file outside every tree", "train.py", false},
		{"var file", varFile, true},
		{"sibling of the var file", filepath.Join(other, "dev.tfvars"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.write
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			write(t, p, "changed "+tt.name)
			if !tt.want {
				none(t, w, 4*debounce)
				return
			}
			b := next(t, w)
			if !slices.Equal(b.Paths, []string{p}) {
				t.Errorf("batch = %q, want [%q]", b.Paths, p)
			}
		})
	}
}

func TestIgnoredChangesCountForNothing(t *testing.T) {
	root := tree(t)
	w := newWatcher(t, Options{})
	if err := w.Set(Targets{Trees: []string{root}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"debug.log", "pkg/run.log", "__pycache__/train.pyc", "__pycache__/new.pyc",
		"outputs/model.pt", ".git/HEAD", ".git/objects/ab/cd", ".trainrun/state.json",
		".trainrun/runs/x/log", "pkg/__pycache__/model.pyc",
	} {
		write(t, filepath.Join(root, p), "changed")
	}
	none(t, w, 4*debounce)
	// The ignored writes were not kept waiting either: the next batch
	// holds the real change only.
	write(t, filepath.Join(root, "train.py"), "changed")
	b := next(t, w)
	if want := []string{filepath.Join(root, "train.py")}; !slices.Equal(b.Paths, want) {
		t.Errorf("batch = %q, want %q", b.Paths, want)
	}
}

func TestBurstIsOneBatch(t *testing.T) {
	root := tree(t)
	w := newWatcher(t, Options{})
	if err := w.Set(Targets{Trees: []string{root}}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "train.py")
	start := time.Now()
	for i := range 20 {
		// As an editor saves: to a temporary file, then renamed over.
		tmp := filepath.Join(root, ".train.py.tmp")
		write(t, tmp, strings.Repeat("x", i))
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	b := next(t, w)
	if b.First.Before(start) || b.Last.Before(b.First) {
		t.Errorf("batch times %v..%v, burst started %v", b.First, b.Last, start)
	}
	if !slices.Contains(b.Paths, p) {
		t.Errorf("batch = %q, want it to hold %s", b.Paths, p)
	}
	none(t, w, 4*debounce)
}

func TestNewDirectoriesAreWatched(t *testing.T) {
	root := tree(t)
	w := newWatcher(t, Options{})
	if err := w.Set(Targets{Trees: []string{root}}); err != nil {
		t.Fatal(err)
	}
	before := w.Watched()
	if err := os.MkdirAll(filepath.Join(root, "a", "b", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	next(t, w) // the new directory itself
	if got := w.Watched(); got != before+3 {
		t.Errorf("Watched() = %d after mkdir -p a/b/c, want %d", got, before+3)
	}
	p := filepath.Join(root, "a", "b", "c", "new.py")
	write(t, p, "x")
	if b := next(t, w); !slices.Equal(b.Paths, []string{p}) {
		t.Errorf("batch = %q, want [%q]", b.Paths, p)
	}

	// A new ignored directory is not watched.
	if err := os.MkdirAll(filepath.Join(root, "a", "__pycache__"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "a", "__pycache__", "x.pyc"), "x")
	none(t, w, 4*debounce)
	if got := w.Watched(); got != before+3 {
		t.Errorf("Watched() = %d after an ignored mkdir, want %d", got, before+3)
	}

	// A renamed directory is watched under its new name.
	if err := os.Rename(filepath.Join(root, "a"), filepath.Join(root, "z")); err != nil {
		t.Fatal(err)
	}
	next(t, w)
	p = filepath.Join(root, "z", "b", "c", "new.py")
	write(t, p, "y")
	if b := next(t, w); !slices.Equal(b.Paths, []string{p}) {
		t.Errorf("batch = %q, want [%q]", b.Paths, p)
	}
	if got := w.Watched(); got != before+3 {
		t.Errorf("Watched() = %d after the rename, want %d", got, before+3)
	}
}

func TestIgnoreFileChangesTheRules(t *testing.T) {
	root := tree(t)
	w := newWatcher(t, Options{})
	if err := w.Set(Targets{Trees: []string{root}}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "outputs", "model.pt"), "ignored")
	none(t, w, 4*debounce)
	write(t, filepath.Join(root, ".gitignore"), "*.log\n")
	if b := next(t, w); !slices.Equal(b.Paths, []string{filepath.Join(root, ".gitignore")}) {
		t.Errorf("batch = %q, want the .gitignore", b.Paths)
	}
	// outputs/ is part of the source now, and watched.
	p := filepath.Join(root, "outputs", "model.pt")
	write(t, p, "counts now")
	if b := next(t, w); !slices.Equal(b.Paths, []string{p}) {
		t.Errorf("batch = %q, want [%q]", b.Paths, p)
	}
}

func TestSetRemovesWatches(t *testing.T) {
	root := tree(t)
	w := newWatcher(t, Options{})
	if err := w.Set(Targets{Trees: []string{root}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Set(Targets{Trees: []string{filepath.Join(root, "pkg")}}); err != nil {
		t.Fatal(err)
	}
	if got := w.Watched(); got != 1 {
		t.Errorf("Watched() = %d, want 1", got)
	}
	write(t, filepath.Join(root, "train.py"), "not watched any more")
	none(t, w, 4*debounce)
}

func TestMaxDelay(t *testing.T) {
	root := tree(t)
	w := newWatcher(t, Options{Debounce: 200 * time.Millisecond, MaxDelay: 300 * time.Millisecond})
	if err := w.Set(Targets{Trees: []string{root}}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				os.WriteFile(filepath.Join(root, "busy.txt"), []byte{byte(i)}, 0o644)
			}
		}
	}()
	start := time.Now()
	next(t, w)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("first batch after %v although writes never stop; MaxDelay is 300ms", d)
	}
}

func TestOutOfWatches(t *testing.T) {
	root := tree(t)
	w := newWatcher(t, Options{})
	n := 0
	w.add = func(dir string) error {
		if n++; n > 1 {
			return syscall.ENOSPC
		}
		return nil
	}
	err := w.Set(Targets{Trees: []string{root}})
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("Set = %v, want a *LimitError", err)
	}
	if !strings.HasPrefix(le.Dir, root+string(filepath.Separator)) {
		t.Errorf("LimitError.Dir = %q, want a directory below %s", le.Dir, root)
	}
	for _, want := range []string{"fs.inotify.max_user_watches", le.Dir, "sysctl", ".trainrunignore"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("error %v does not wrap ENOSPC", err)
	}
	if n != 2 {
		t.Errorf("%d directories tried; want to stop at the first that failed", n)
	}
}

func TestCloseClosesChanges(t *testing.T) {
	w, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.Changes(); ok {
		t.Error("Changes still open after Close")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
