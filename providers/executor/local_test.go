package executor

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
)

var ctx = context.Background()

func TestLocalRun(t *testing.T) {
	out, err := Local{}.Run(ctx, []string{"sh", "-c", "cat; echo err >&2"}, strings.NewReader("in"))
	if err != nil || string(out) != "in" {
		t.Errorf("Run = %q, %v", out, err)
	}
	_, err = Local{}.Run(ctx, []string{"sh", "-c", "echo why >&2; exit 4"}, nil)
	var ee interface{ ExitCode() int }
	if err == nil || !strings.Contains(err.Error(), "why") || !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Errorf("Run of a failing command: %v", err)
	}
	if _, err := (Local{}).Run(ctx, nil, nil); err == nil {
		t.Error("Run of no command succeeded")
	}
}

func TestLocalStartEnvironmentIsExactlyEnv(t *testing.T) {
	t.Setenv("TRAINRUN_LEAK", "x")
	dir := t.TempDir()
	for _, env := range [][]string{nil, {"A=1", "B=two words"}} {
		p, err := Local{}.Start(ctx, dir, []string{"/bin/sh", "-c", `env > "$0"`, filepath.Join(dir, "env")}, env)
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, p, 5*time.Second)
		data, _ := os.ReadFile(filepath.Join(dir, "env"))
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			// sh adds PWD (and dash OLDPWD): everything else must be env.
			if l != "" && !strings.HasPrefix(l, "PWD=") && !strings.HasPrefix(l, "OLDPWD=") {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, env) && !(len(got) == 0 && len(env) == 0) {
			t.Errorf("env %q: the process saw %q", env, got)
		}
	}
}

func TestLocalGroupAlive(t *testing.T) {
	// The grandchild is orphaned when the group dies; where init reaps
	// late it lingers as a zombie, which must not count.
	p, err := Local{}.Start(ctx, t.TempDir(), []string{"sh", "-c", "sleep 100 & sleep 100"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-p.PID, syscall.SIGKILL)
	if alive, err := (Local{}).Alive(ctx, -p.PID, ""); !alive || err != nil {
		t.Errorf("Alive(group) = %v, %v", alive, err)
	}
	syscall.Kill(-p.PID, syscall.SIGKILL)
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		alive, err := Local{}.Alive(ctx, -p.PID, "")
		if err != nil {
			t.Fatal(err)
		}
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed group still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLocalStartDetaches(t *testing.T) {
	p, err := Local{}.Start(ctx, t.TempDir(), []string{"sleep", "100"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(p.PID, syscall.SIGKILL)
	sid, err := syscall.Getpgid(p.PID)
	if err != nil || sid != p.PID {
		t.Errorf("process group %d, %v; want its own (%d)", sid, err, p.PID)
	}
	if alive, err := (Local{}).Alive(ctx, p.PID, p.StartTicks); !alive || err != nil {
		t.Errorf("Alive = %v, %v", alive, err)
	}
	if p.StartTicks == "" {
		t.Fatal("no start ticks")
	}
	if alive, _ := (Local{}).Alive(ctx, p.PID, p.StartTicks+"1"); alive {
		t.Error("Alive with other start ticks: a reused pid would pass for the run")
	}
	if err := (Local{}).Signal(ctx, -p.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, 5*time.Second)
	if alive, _ := (Local{}).Alive(ctx, p.PID, p.StartTicks); alive {
		t.Error("Alive after the process ended")
	}
	if err := (Local{}).Signal(ctx, p.PID, 0); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Signal to a gone process = %v", err)
	}
	for _, pid := range []int{0, -1} {
		if err := (Local{}).Signal(ctx, pid, 0); err == nil {
			t.Errorf("Signal(%d) accepted", pid)
		}
	}
}

func TestParseStat(t *testing.T) {
	line := "123 (a) b) (c) S 1 123 123 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 18446744073709551615\n"
	st, err := parseStat([]byte(line))
	if err != nil || st.state != 'S' || st.ticks != "98765" {
		t.Errorf("parseStat = %+v, %v", st, err)
	}
	for _, bad := range []string{"", "123 (x", "123 (x) S 1 2"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestLocalFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b")
	l := Local{}
	if err := l.Mkdir(ctx, p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := l.Mkdir(ctx, p, 0o700); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Mkdir = %v, want ErrExist", err)
	}
	f := filepath.Join(p, "f")
	if err := l.WriteFile(ctx, f, []byte("hello world"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := l.ReadFile(ctx, f); string(data) != "hello world" || err != nil {
		t.Errorf("ReadFile = %q, %v", data, err)
	}
	rc, err := l.Open(ctx, f, 6)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "world" {
		t.Errorf("Open at 6 read %q", data)
	}
	// WriteFile never writes through a symlink.
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep"), 0o600)
	os.Symlink(target, filepath.Join(p, "link"))
	if err := l.WriteFile(ctx, filepath.Join(p, "link"), []byte("x"), 0o600); err == nil {
		t.Error("WriteFile wrote through a symlink")
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Errorf("target now holds %q", data)
	}
	os.Chmod(p, 0o500)
	if err := l.RemoveAll(ctx, filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("RemoveAll left %v", err)
	}
	if err := l.RemoveAll(ctx, filepath.Join(dir, "missing")); err != nil {
		t.Errorf("RemoveAll of a missing path: %v", err)
	}
}

// blobs writes contents to files and returns File entries for them.
func blobs(t *testing.T, entries ...any) []providers.File {
	t.Helper()
	dir := t.TempDir()
	var files []providers.File
	for i := 0; i+2 < len(entries); i += 3 {
		blob := filepath.Join(dir, "blob"+string(rune('a'+i/3)))
		if err := os.WriteFile(blob, []byte(entries[i+2].(string)), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, providers.File{Path: entries[i].(string), Mode: uint32(entries[i+1].(int)), Blob: blob})
	}
	return files
}

func TestPut(t *testing.T) {
	dir := t.TempDir()
	files := blobs(t,
		"train.py", 0o100644, "print(1)\n",
		"bin/run.sh", 0o100755, "#!/bin/sh\n",
		"a/b/c/deep.txt", 0o644, "deep",
		"link", 0o120000, "a/b",
		"abs", 0o120000, "/etc/hostname",
	)
	if err := (Local{}).Put(ctx, dir, files); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, content string
		mode          os.FileMode
	}{
		{"train.py", "print(1)\n", 0o644},
		{"bin/run.sh", "#!/bin/sh\n", 0o755},
		{"a/b/c/deep.txt", "deep", 0o644},
	} {
		p := filepath.Join(dir, c.path)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
		data, _ := os.ReadFile(p)
		if string(data) != c.content {
			t.Errorf("%s = %q", c.path, data)
		}
	}
	// A copy, not a link: writing the materialized file leaves the blob.
	os.WriteFile(filepath.Join(dir, "train.py"), []byte("changed"), 0o644)
	if data, _ := os.ReadFile(files[0].Blob); string(data) != "print(1)\n" {
		t.Errorf("the blob changed with the run's copy: %q", data)
	}
	for name, want := range map[string]string{"link": "a/b", "abs": "/etc/hostname"} {
		if got, err := os.Readlink(filepath.Join(dir, name)); got != want || err != nil {
			t.Errorf("%s -> %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestPutRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files []any
	}{
		{"absolute", []any{"/etc/passwd", 0o644, "x"}},
		{"dotdot", []any{"../x", 0o644, "x"}},
		{"dotdot inside", []any{"a/../../x", 0o644, "x"}},
		{"not clean", []any{"a//b", 0o644, "x"}},
		{"dot", []any{"./a", 0o644, "x"}},
		{"empty", []any{"", 0o644, "x"}},
		{"nul", []any{"a\x00b", 0o644, "x"}},
		{"twice", []any{"a", 0o644, "x", "a", 0o644, "y"}},
		{"below a file", []any{"a", 0o644, "x", "a/b", 0o644, "y"}},
		// A symlink to / then a file below it would write outside.
		{"below a symlink", []any{"a", 0o120000, "/", "a/tmp/escaped", 0o644, "y"}},
		{"below a symlink, listed first", []any{"a/tmp/escaped", 0o644, "y", "a", 0o120000, "/"}},
		{"device", []any{"dev", 0o020644, "x"}},
		{"empty link", []any{"l", 0o120000, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			os.Mkdir(dir, 0o700)
			if err := (Local{}).Put(ctx, dir, blobs(t, tt.files...)); err == nil {
				t.Error("accepted")
			}
			if _, err := os.Stat("/tmp/escaped"); err == nil {
				t.Error("wrote outside the directory")
			}
		})
	}
}

// tree is a run directory for CopyOut tests:
//
//	root/outputs/model/w.bin
//	root/outputs/model/latest -> w.bin      (relative, stays in the tree)
//	root/outputs/code -> ../src/code.py     (in root, outside the tree)
//	root/outputs/srcdir -> ../src           (a directory in root)
//	root/outputs/etc -> /etc/hostname       (outside root)
//	root/outputs/loop -> ..                 (an ancestor: a cycle)
//	root/outputs/dangling -> nowhere
//	root/src/code.py, root/src/escape -> /etc, root/log
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mk := func(p, content string) {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	ln := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("outputs/model/w.bin", "weights")
	mk("src/code.py", "code")
	mk("log", "the log")
	ln("w.bin", "outputs/model/latest")
	ln("../src/code.py", "outputs/code")
	ln("../src", "outputs/srcdir")
	ln("/etc/hostname", "outputs/etc")
	ln("..", "outputs/loop")
	ln("nowhere", "outputs/dangling")
	ln("/etc", "src/escape")
	ln("/etc/hostname", "hostlink")
	return root
}

func TestCopyOut(t *testing.T) {
	root := tree(t)
	dst := t.TempDir()
	l := Local{}
	if err := l.CopyOut(ctx, root, "outputs/", filepath.Join(dst, "outputs")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dst, "outputs")
	files := map[string]string{
		"model/w.bin":      "weights",
		"model/latest":     "weights", // through the recreated link
		"code":             "code",    // a copy of the target
		"srcdir/code.py":   "code",
		"srcdir/escape":    "", // a link, kept as such
		"etc":              "",
		"loop":             "",
		"dangling":         "",
		"model/w.bin/none": "-",
	}
	links := map[string]string{"model/latest": "w.bin", "etc": "/etc/hostname", "loop": "..", "dangling": "nowhere", "srcdir/escape": "/etc"}
	for p, content := range files {
		full := filepath.Join(out, p)
		if target, ok := links[p]; ok {
			if got, err := os.Readlink(full); got != target || err != nil {
				t.Errorf("%s -> %q, %v; want a link to %q", p, got, err, target)
			}
			if p != "model/latest" {
				continue
			}
		}
		data, err := os.ReadFile(full)
		if content == "-" {
			if err == nil {
				t.Errorf("%s exists", p)
			}
			continue
		}
		if string(data) != content || err != nil {
			t.Errorf("%s = %q, %v; want %q", p, data, err, content)
		}
	}
	if fi, err := os.Lstat(filepath.Join(out, "code")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
		t.Errorf("code: %v, %v; want a regular 0640 file", fi.Mode(), err)
	}

	// A single file, replacing what is at dst, never writing through it.
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	os.Symlink(victim, filepath.Join(dst, "log"))
	if err := l.CopyOut(ctx, root, "log", filepath.Join(dst, "log")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "log")); string(data) != "the log" {
		t.Errorf("log = %q", data)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep" {
		t.Errorf("CopyOut wrote through a symlink at dst")
	}

	for _, tt := range []struct {
		rel     string
		missing bool
	}{
		{"nothing", true},
		{"src/code.py/", false}, // must be a directory
		{"hostlink", false},     // resolves outside root
		{"src/escape/hostname", false},
		{"../x", false},
		{"/etc", false},
	} {
		err := l.CopyOut(ctx, root, tt.rel, filepath.Join(dst, "x"))
		if err == nil {
			t.Errorf("CopyOut %q succeeded", tt.rel)
		} else if tt.missing != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CopyOut %q: %v (ErrNotExist: %v)", tt.rel, err, errors.Is(err, fs.ErrNotExist))
		}
	}
}

// TestPutNeverLinksBlobs: a run writing its working directory must never
// write into the content store, even where a blob's mode would allow a
// link.
func TestPutNeverLinksBlobs(t *testing.T) {
	store, dir := t.TempDir(), t.TempDir()
	blob := filepath.Join(store, "blob")
	if err := os.WriteFile(blob, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Local{}).Put(ctx, dir, []providers.File{{Path: "a.txt", Mode: 0o100644, Blob: blob}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("run wrote this"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(blob); string(b) != "v1" {
		t.Fatalf("the blob became %q", b)
	}
}

func TestMakeDir(t *testing.T) {
	for _, tc := range []struct {
		name           string
		subdirs, files []string
		ok             bool
	}{
		{"layout", []string{"src", "outputs"}, []string{"log"}, true},
		{"hostile names", []string{"-d", "a b", "$(x)"}, []string{"-f", "it's"}, true},
		{"nothing below", nil, nil, true},
		{"slash", []string{"a/b"}, nil, false},
		{"dot dot", nil, []string{".."}, false},
		{"empty", []string{""}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "parent", "run")
			err := MakeDir(ctx, Local{}, dir, 0o700, tc.subdirs, tc.files)
			if !tc.ok {
				if err == nil {
					t.Fatal("MakeDir accepted a name that is not one path element")
				}
				if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("refused, but made %s: %v", dir, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkMode(t, dir, fs.ModeDir|0o700)
			for _, d := range tc.subdirs {
				checkMode(t, filepath.Join(dir, d), fs.ModeDir|0o755)
			}
			for _, f := range tc.files {
				checkMode(t, filepath.Join(dir, f), 0o644)
			}
			if err := MakeDir(ctx, Local{}, dir, 0o700, tc.subdirs, tc.files); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("second MakeDir: %v, want fs.ErrExist", err)
			}
		})
	}
}

func checkMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want || (fi.Mode().IsRegular() && fi.Size() != 0) {
		t.Fatalf("%s: mode %v size %d, want %v and empty", p, fi.Mode(), fi.Size(), want)
	}
}
