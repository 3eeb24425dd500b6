package ssh

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/trainrun/trainrun/internal/sshtest"
)

// remoteTree lists dir on e as "PATH TYPE CONTENT-OR-TARGET" lines, sorted,
// and the identity of each file (inode and ctime: a copy, even one that
// reuses the inode number, has a new ctime).
func remoteTree(t *testing.T, e *Executor, dir string) (listing string, inodes map[string]string) {
	t.Helper()
	out, err := e.Run(ctxT(t), []string{"sh", "-c", `cd "$1" || exit 1
find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
	id=$(stat -c %i@%z "$p" | tr ' ' _)
	if [ -L "$p" ]; then echo "$p link $(readlink "$p") $id"
	elif [ -d "$p" ]; then echo "$p dir $(stat -c %a "$p") 0"
	else echo "$p file $(cat "$p")/$(stat -c %a "$p") $id"; fi
done`, "sh", dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inodes = make(map[string]string)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		i := strings.LastIndexByte(l, ' ')
		lines = append(lines, l[:i])
		inodes[strings.Fields(l)[0]] = l[i+1:]
	}
	return strings.Join(lines, "\n"), inodes
}

// wantTree is remoteTree's listing of files as a fresh Put makes it.
func wantTree(files map[string]string) string {
	seen := map[string]bool{}
	var lines []string
	for p, content := range files {
		for d := path.Dir(p); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			lines = append(lines, "./"+d+" dir 755")
		}
		switch target, link := strings.CutPrefix(content, "->"); {
		case link:
			lines = append(lines, "./"+p+" link "+target)
		case strings.HasSuffix(p, ".sh"):
			lines = append(lines, "./"+p+" file "+content+"/755")
		default:
			lines = append(lines, "./"+p+" file "+content+"/644")
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestRecycledTreeIsTakenOver: a tree handed back after a run is taken over
// by the next Put, keeping exactly the files that are still as they were
// put and wanted, whatever the run did to the rest, and never touching
// anything outside it.
func TestRecycledTreeIsTakenOver(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx := ctxT(t)
	files := map[string]string{
		"train.py":      "print(1)",
		"run.sh":        "echo run",
		"same.txt":      "same size A",
		"mode.txt":      "mode",
		"data/a.csv":    "1,2",
		"data/b.csv":    "3,4",
		"keep/deep.txt": "deep",
		"dir/x.txt":     "x",
		"link":          "->data/a.csv",
		"badlink":       "->train.py",
		"gone.txt":      "removed by the next snapshot",
	}
	sh := func(script string, args ...string) {
		t.Helper()
		if out, err := e.Run(ctx, append([]string{"sh", "-c", script, "sh"}, args...), nil); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	put := func(name string, files map[string]string) string {
		t.Helper()
		d := path.Join(dir, "runs", name, "src")
		if err := e.Mkdir(ctx, d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := e.Put(ctx, d, tree(t, files)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := put("one", files)
	_, before := remoteTree(t, e, first)
	outside := path.Join(dir, "outside")
	// What a run might do to its tree: change a file in place keeping its
	// size and mtime, chmod one, add files and a read-only directory,
	// swap a directory for a link to elsewhere, retarget a link.
	sh(`cd "$1" && m=$(stat -c %y same.txt) && printf 'same size B' > same.txt && touch -d "$m" same.txt &&
chmod 600 mode.txt && echo new > new.txt && mkdir -p __pycache__/ro && echo c > __pycache__/ro/x.pyc && chmod 500 __pycache__/ro &&
mkdir -p "$2" && echo precious > "$2/x.txt" && rm -r dir && ln -s "$2" dir && ln -sfn run.sh badlink`, first, outside)
	if err := e.RecycleTree(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ReadFile(ctx, first+"/train.py"); err == nil {
		t.Fatal("the recycled tree is still in the run directory")
	}

	delete(files, "gone.txt")
	files["data/b.csv"] = "changed"
	files["added.txt"] = "added"
	files["mode.txt"] = "mode"
	second := put("two", files)
	got, after := remoteTree(t, e, second)
	if want := wantTree(files); got != want {
		t.Fatalf("taken-over tree:\n%s\nwant:\n%s", got, want)
	}
	for _, p := range []string{"./train.py", "./run.sh", "./data/a.csv", "./keep/deep.txt"} {
		if after[p] != before[p] {
			t.Errorf("%s was copied again (%s → %s): the tree was not reused", p, before[p], after[p])
		}
	}
	for _, p := range []string{"./same.txt", "./mode.txt", "./data/b.csv"} {
		if after[p] == before[p] {
			t.Errorf("%s was kept though the run changed it or the snapshot did", p)
		}
	}
	if b, err := e.ReadFile(ctx, outside+"/x.txt"); err != nil || string(b) != "precious\n" {
		t.Fatalf("a file outside the tree was touched: %q, %v", b, err)
	}
	out, err := e.Run(ctx, []string{"sh", "-c", `ls -A "$1"`, "sh", path.Join(dir, "trees")}, nil)
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("trees after the take-over: %q, %v", out, err)
	}
	// The taken-over tree is recorded for the next time.
	if _, err := e.ReadFile(ctx, second+".tree"); err != nil {
		t.Fatalf("no record of the taken-over tree: %v", err)
	}
	if err := e.RecycleTree(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := e.ClearTrees(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := e.Run(ctx, []string{"sh", "-c", `[ ! -e "$1" ]`, "sh", path.Join(dir, "trees")}, nil); err != nil {
		t.Fatalf("ClearTrees left the trees: %v %s", err, out)
	}
}

// TestRecycledTreeClaimedOnce: Puts racing for one recycled tree each get
// a whole, correct tree.
func TestRecycledTreeClaimedOnce(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx := ctxT(t)
	files := map[string]string{"a.txt": "a", "b/c.txt": "c", "d.sh": "echo d"}
	snap := tree(t, files)
	mk := func(name string) string {
		d := path.Join(dir, "runs", name, "src")
		if err := e.Mkdir(ctx, d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := mk("first")
	if err := e.Put(ctx, d, snap); err != nil {
		t.Fatal(err)
	}
	if err := e.RecycleTree(ctx, d); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	errs := make([]error, len(dirs))
	for i := range dirs {
		dirs[i] = mk(fmt.Sprint("r", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.Put(ctx, dirs[i], snap)
		}()
	}
	wg.Wait()
	for i, d := range dirs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got, _ := remoteTree(t, e, d); got != wantTree(files) {
			t.Fatalf("%s:\n%s\nwant:\n%s", d, got, wantTree(files))
		}
	}
}

// TestRecycleKeepsAFewTrees: the machine keeps at most keepTrees trees.
func TestRecycleKeepsAFewTrees(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	snap := tree(t, map[string]string{"a.txt": "a"})
	for i := 0; i < keepTrees+3; i++ {
		d := path.Join(dir, "runs", fmt.Sprint(i), "src")
		if err := e.Mkdir(ctx, d, 0o755); err != nil {
			t.Fatal(err)
		}
		// All are put before any is recycled: none is taken over.
		if err := e.Put(ctx, d, snap); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < keepTrees+3; i++ {
		if err := e.RecycleTree(ctx, path.Join(dir, "runs", fmt.Sprint(i), "src")); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.Run(ctx, []string{"sh", "-c", `cd "$1" && ls -A`, "sh", path.Join(dir, "trees")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The newest keepTrees trees, each with its record.
	var want []string
	for i := 3; i < keepTrees+3; i++ {
		want = append(want, fmt.Sprint(i), fmt.Sprint(i)+".tree")
	}
	sort.Strings(want)
	got := strings.Fields(string(out))
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("trees kept: %q; want %q", got, want)
	}
}
