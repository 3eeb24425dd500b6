package ssh

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/sshtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// hostile are values that a shell would do something with if they were
// not quoted.
var hostile = []string{
	`it's`, `"double"`, `$(touch /tmp/trainrun-pwned)`, "`touch /tmp/trainrun-pwned`", "a\nb\n",
	`$HOME`, `*`, `-n`, `\`, "tab\there", "ünïcödé ✓", `;rm -rf ~;`, `'`, "", " ", `{a,b}`, `~`, "x=1",
}

func TestFilesRoundTrip(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx := ctxT(t)
	sub := path.Join(dir, "a", "b")
	if err := e.Mkdir(ctx, sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.Mkdir(ctx, sub, 0o755); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Mkdir: %v, want ErrExist", err)
	}
	// Parents are 0700, the directory as asked.
	out, err := e.Run(ctx, []string{"stat", "-c", "%a", dir, path.Join(dir, "a"), sub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "700\n700\n755\n" {
		t.Fatalf("modes %q", got)
	}
	data := []byte("line one\nbinary \x00\xff\x01 and ünïcödé\n")
	f := path.Join(sub, "it's $(x)")
	if err := e.WriteFile(ctx, f, data, 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := e.ReadFile(ctx, f)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	// CreateFile takes a file exclusively: a second create, or one over
	// a link, fails with ErrExist and changes nothing.
	claim := path.Join(sub, "claim")
	if err := e.CreateFile(ctx, claim, []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateFile(ctx, claim, []byte("second\n"), 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second CreateFile: %v, want ErrExist", err)
	}
	if _, err := e.Run(ctx, []string{"ln", "-s", "nowhere", path.Join(sub, "link")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateFile(ctx, path.Join(sub, "link"), []byte("x"), 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("CreateFile over a dangling link: %v, want ErrExist", err)
	}
	if got, _ := e.ReadFile(ctx, claim); string(got) != "first\n" {
		t.Fatalf("claim holds %q", got)
	}
	rc, err := e.Open(ctx, f, 5)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(tail, data[5:]) {
		t.Fatalf("Open at 5 = %q, %v", tail, err)
	}
	if _, err := e.ReadFile(ctx, path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile missing: %v", err)
	}
	if _, err := e.Open(ctx, path.Join(dir, "missing"), 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open missing: %v", err)
	}
	// Never through a symlink.
	link := path.Join(dir, "link")
	if _, err := e.Run(ctx, []string{"ln", "-s", f, link}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteFile(ctx, link, []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile wrote through a symlink")
	}
	if got, _ := e.ReadFile(ctx, f); !bytes.Equal(got, data) {
		t.Fatal("the link's target changed")
	}
	// RemoveAll also removes read-only directories.
	if _, err := e.Run(ctx, []string{"chmod", "0500", sub}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveAll(ctx, path.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ReadFile(ctx, f); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after RemoveAll: %v", err)
	}
	if err := e.RemoveAll(ctx, path.Join(dir, "a")); err != nil {
		t.Fatalf("RemoveAll of a missing path: %v", err)
	}
	for _, p := range []string{"relative", "", "/"} {
		if err := e.RemoveAll(ctx, p); err == nil {
			t.Errorf("RemoveAll(%q) succeeded", p)
		}
	}
}

func TestRunArgumentsArriveByteExact(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, _ := testExecutor(t, s)
	ctx := ctxT(t)
	_ = os.Remove("/tmp/trainrun-pwned")
	argv := append([]string{"sh", "-c", `printf '%s\0' "$@"`, "sh"}, hostile...)
	out, err := e.Run(ctx, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if strings.Join(got, "|") != strings.Join(hostile, "|") || len(got) != len(hostile) {
		t.Fatalf("arguments arrived as %q\nwant %q", got, hostile)
	}
	if _, err := os.Stat("/tmp/trainrun-pwned"); err == nil {
		t.Fatal("an argument was run as a command")
	}
	if _, err := e.Run(ctx, []string{"sh", "-c", "echo oops >&2; exit 3"}, nil); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("failing command: %v", err)
	}
	if _, err := e.Run(ctx, []string{"echo", "a\x00b"}, nil); err == nil {
		t.Fatal("a NUL byte was accepted")
	}
}

func TestStartDetachedWithExactEnvironment(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx := ctxT(t)
	if err := e.Mkdir(ctx, dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"SECRET=s3cr3t value", "PATH=/usr/bin:/bin"}
	for i, v := range hostile {
		env = append(env, "H"+string(rune('A'+i))+"="+v)
	}
	script := `env >env.out; printf '%s' "$H" >h.out; sleep 30`
	p, err := e.Start(ctx, dir, []string{"sh", "-c", script}, env)
	if err != nil {
		t.Fatal(err)
	}
	if p.PID <= 0 || p.StartTicks == "" {
		t.Fatalf("process %+v", p)
	}
	waitFor(t, func() bool { _, err := e.ReadFile(ctx, path.Join(dir, "h.out")); return err == nil })
	alive, err := e.Alive(ctx, p.PID, p.StartTicks)
	if err != nil || !alive {
		t.Fatalf("Alive = %v, %v", alive, err)
	}
	if alive, _ := e.Alive(ctx, p.PID, "1"); alive {
		t.Fatal("alive with other start ticks")
	}
	if alive, _ := e.Alive(ctx, -p.PID, ""); !alive {
		t.Fatal("its process group is not alive: not started in a session of its own")
	}
	got, err := e.ReadFile(ctx, path.Join(dir, "env.out"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, line := range strings.Split(string(got), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && envName.MatchString(k) {
			vars[k] = true
		}
	}
	for _, k := range []string{"SSH_CONNECTION", "SSH_CLIENT", "MAIL"} {
		if vars[k] {
			t.Errorf("%s leaked from the login environment", k)
		}
	}
	for _, k := range []string{"HOME", "USER", "SECRET", "HA"} {
		if !vars[k] {
			t.Errorf("%s missing from the run's environment:\n%s", k, got)
		}
	}
	if !strings.Contains(string(got), "SECRET=s3cr3t value\n") || !strings.Contains(string(got), "PATH=/usr/bin:/bin\n") {
		t.Errorf("values changed:\n%s", got)
	}
	// The secret is in no file of the workdir but the run's own output,
	// and on no command line.
	out, _ := e.Run(ctx, []string{"sh", "-c", `grep -rl "s3[c]r3t" "$1" || true; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' | grep -c 's3[c]r3t' || true`, "sh", dir}, nil)
	if lines := strings.Fields(string(out)); len(lines) != 2 || lines[0] != path.Join(dir, "env.out") || lines[1] != "0" {
		t.Errorf("the secret is elsewhere: %q", out)
	}
	if err := e.Signal(ctx, -p.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { a, _ := e.Alive(ctx, p.PID, p.StartTicks); return !a })
	if err := e.Signal(ctx, 999999999, syscall.SIGTERM); !errors.Is(err, executor.ErrNoProcess) {
		t.Fatalf("signal to an ended process: %v", err)
	}
	if err := e.Signal(ctx, -1, syscall.SIGTERM); err == nil {
		t.Fatal("signal to -1 was sent")
	}
	if _, err := e.Start(ctx, dir, []string{"true"}, []string{"BAD-NAME=x"}); err == nil {
		t.Fatal("a variable name the shell cannot export was accepted")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tree writes files (path → content; a "->" prefix makes a symlink) to a
// local directory as a content store would and returns them as a snapshot.
func tree(t *testing.T, files map[string]string) []providers.File {
	t.Helper()
	store := t.TempDir()
	var out []providers.File
	for p, content := range files {
		blob := filepath.Join(store, strings.ReplaceAll(p, "/", "_"))
		f := providers.File{Path: p, Mode: 0o100644, Blob: blob}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			f.Mode = 0o120000
			content = target
		} else if strings.HasSuffix(p, ".sh") {
			f.Mode = 0o100755
		}
		if err := os.WriteFile(blob, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func TestPutSendsOnlyMissingBlobs(t *testing.T) {
	for _, perl := range []bool{true, false} {
		t.Run(map[bool]string{true: "perl", false: "sh"}[perl], func(t *testing.T) {
			s := server(t, sshtest.Options{})
			e, dir := testExecutor(t, s)
			e.toolsOnce.Do(func() { e.perl = perl })
			ctx := ctxT(t)
			files := map[string]string{
				"train.py":             "print('hi')\n",
				"run.sh":               "#!/bin/sh\necho run\n",
				"data/a.csv":           "1,2\n",
				"data/b.csv":           "1,2\n", // same content: one blob
				"deep/er/x y $(z).txt": "spaces and $(z)\n",
				"link":                 "->data/a.csv",
			}
			put := func(name string, files map[string]string) {
				t.Helper()
				d := path.Join(dir, name)
				if err := e.Mkdir(ctx, d, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := e.Put(ctx, d, tree(t, files)); err != nil {
					t.Fatal(err)
				}
				for p, content := range files {
					got, err := e.ReadFile(ctx, path.Join(d, p))
					if target, ok := strings.CutPrefix(content, "->"); ok {
						content = files[target]
					}
					if err != nil || string(got) != content {
						t.Fatalf("%s/%s = %q, %v; want %q", name, p, got, err, content)
					}
				}
				out, err := e.Run(ctx, []string{"sh", "-c", `cd "$1" && stat -c '%a %F %n' run.sh train.py link data`, "sh", d}, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := "755 regular file run.sh\n644 regular file train.py\n777 symbolic link link\n755 directory data\n"
				if string(out) != want {
					t.Fatalf("modes:\n%s\nwant\n%s", out, want)
				}
			}
			put("one", files)
			st := e.Stats()
			if st.Blobs != 4 {
				t.Fatalf("first Put sent %d blobs, want 4 (a.csv and b.csv are one)", st.Blobs)
			}
			files["train.py"] = "print('changed')\n"
			put("two", files)
			st2 := e.Stats()
			if n := st2.Blobs - st.Blobs; n != 1 {
				t.Fatalf("second Put sent %d blobs, want 1", n)
			}
			if n := st2.BlobBytes - st.BlobBytes; n != int64(len(files["train.py"])) {
				t.Fatalf("second Put sent %d content bytes", n)
			}
			// The cache is the user's alone.
			out, _ := e.Run(ctx, []string{"stat", "-c", "%a", path.Join(dir, "blobs")}, nil)
			if strings.TrimSpace(string(out)) != "700" {
				t.Fatalf("blob cache mode %s", out)
			}
		})
	}
}

func TestPutRefusesPathsThatEscape(t *testing.T) {
	for _, files := range [][]providers.File{
		{{Path: "../x", Mode: 0o100644}},
		{{Path: "/etc/x", Mode: 0o100644}},
		{{Path: "a/../../x", Mode: 0o100644}},
		{{Path: "a", Mode: 0o100644}, {Path: "a/b", Mode: 0o100644}},
		{{Path: "l", Mode: 0o120000}, {Path: "l/b", Mode: 0o100644}},
		{{Path: "a", Mode: 0o100644}, {Path: "a", Mode: 0o100644}},
		{{Path: "dev", Mode: 0o020644}},
	} {
		if _, err := checkFiles(files); err == nil {
			t.Errorf("%v accepted", files)
		}
	}
}

// TestCopyOut runs both ways of copying: a tar of everything, and
// copyHeldPerl's (with no file held locally, everything is sent too).
func TestCopyOut(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "tar", true: "held"}[held], func(t *testing.T) {
			testCopyOut(t, held)
		})
	}
}

func testCopyOut(t *testing.T, held bool) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	if held {
		e.localBlob = func(string) string { return "" }
	}
	ctx := ctxT(t)
	if err := e.Mkdir(ctx, dir, 0o700); err != nil {
		t.Fatal(err)
	}
	setup := `cd "$1" && mkdir -p out/sub secret && printf model >out/model.bin && printf deep >out/sub/x &&
chmod 755 out/model.bin && ln -s model.bin out/alias && ln -s /etc/passwd out/abs && ln -s ../secret out/escape &&
printf hidden >secret/s && ln -s secret outlink && printf m >metrics && ln -s /etc metricslink`
	if _, err := e.Run(ctx, []string{"sh", "-c", setup, "sh", dir}, nil); err != nil {
		t.Fatal(err)
	}
	local := t.TempDir()
	dst := filepath.Join(local, "outputs")
	if err := os.WriteFile(dst, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.CopyOut(ctx, dir, "out/", dst); err != nil {
		t.Fatal(err)
	}
	check := func(p, want string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	check("model.bin", "model")
	check("sub/x", "deep")
	check("alias", "model")
	if fi, err := os.Stat(filepath.Join(dst, "model.bin")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("model.bin mode: %v %v", fi, err)
	}
	for _, l := range []string{"abs", "escape"} {
		if target, err := os.Readlink(filepath.Join(dst, l)); err != nil {
			t.Errorf("%s is not kept as a link: %v", l, err)
		} else if l == "abs" && target != "/etc/passwd" {
			t.Errorf("abs -> %s", target)
		}
	}
	// A single file, replacing what is there.
	if err := e.CopyOut(ctx, dir, "metrics", filepath.Join(local, "m")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(local, "m")); string(b) != "m" {
		t.Fatalf("metrics = %q", b)
	}
	for _, tc := range []struct{ rel, want string }{
		{"missing", "not exist"},
		{"metrics/", "not a directory"},
		{"metricslink", "outside"},
		{"../x", "escapes"},
	} {
		err := e.CopyOut(ctx, dir, tc.rel, filepath.Join(local, "x"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CopyOut(%s): %v, want %q", tc.rel, err, tc.want)
		}
		if tc.rel == "missing" && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CopyOut(missing) does not match ErrNotExist: %v", err)
		}
	}
	// outlink resolves into root: it may be copied; a root that is a link
	// to elsewhere is not followed out.
	if err := e.CopyOut(ctx, dir, "outlink/", filepath.Join(local, "ol")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(local, "ol", "s")); string(b) != "hidden" {
		t.Fatalf("outlink/s = %q", b)
	}
	if got := e.Stats().Reused; got != 0 {
		t.Fatalf("%d files reused with nothing held", got)
	}
}

// TestCopyOutSkipsHeldContent: a file whose content is held locally is not
// sent, whatever its name; the rest of the tree is.
func TestCopyOutSkipsHeldContent(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx := ctxT(t)
	big := make([]byte, 1<<20)
	rand.Read(big)
	store := t.TempDir()
	blob := writeBlob(t, store, "x", 0)
	if err := os.WriteFile(blob.Blob, big, 0o444); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(big)
	bigHash := hex.EncodeToString(sum[:])
	e.localBlob = func(h string) string {
		if h == bigHash {
			return blob.Blob
		}
		return ""
	}
	if err := e.Mkdir(ctx, dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteFile(ctx, path.Join(dir, "seed"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	name := "ckpt \n $(x) 'q'.bin"
	setup := `cd "$1" && mkdir -p out/sub && cp seed "out/sub/$2" && chmod 600 "out/sub/$2" && printf small >out/small.txt && ln -s "sub/$2" out/link && cp seed single`
	if out, err := e.Run(ctx, []string{"sh", "-c", setup, "sh", dir, name}, nil); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	dst := filepath.Join(t.TempDir(), "outputs")
	if err := e.CopyOut(ctx, dir, "out/", dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "sub", name))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("held file: %d bytes, %v", len(got), err)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "sub", name)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("held file mode %v", fi.Mode())
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "small.txt")); string(b) != "small" {
		t.Fatalf("small.txt = %q", b)
	}
	if target, _ := os.Readlink(filepath.Join(dst, "link")); target != "sub/"+name {
		t.Fatalf("link -> %q", target)
	}
	st := e.Stats()
	if st.Reused != 1 || st.Fetched >= 1<<20 {
		t.Fatalf("fetched %d bytes, reused %d files; want the big file reused, not sent", st.Fetched, st.Reused)
	}
	// A single held file: nothing is sent.
	single := filepath.Join(t.TempDir(), "single")
	if err := e.CopyOut(ctx, dir, "single", single); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(single); !bytes.Equal(got, big) {
		t.Fatal("single held file differs")
	}
	if st2 := e.Stats(); st2.Reused != 2 || st2.Fetched-st.Fetched >= 1<<20 {
		t.Fatalf("single file: fetched %d more bytes, reused %d", st2.Fetched-st.Fetched, st2.Reused)
	}
}

func TestConnectionDropIsRepaired(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx := ctxT(t)
	if err := e.Mkdir(ctx, dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f := path.Join(dir, "f")
	if err := e.WriteFile(ctx, f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		waitFor(t, func() bool { return len(s.Sessions()) > 0 })
		if n := s.KillSessions(); n == 0 {
			t.Fatalf("drop %d: no session to kill", i)
		}
		got, err := e.ReadFile(ctx, f)
		if err != nil || string(got) != "x" {
			t.Fatalf("after drop %d: %q, %v", i, got, err)
		}
	}
}

// TestMakeDirInOneSession: a run directory's layout is one session, with
// hostile names arriving as they are.
func TestMakeDirInOneSession(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx := ctxT(t)
	run := path.Join(dir, "runs", "r1")
	subdirs, files := []string{"src", "-d", "a b $(x)"}, []string{"log", "it's `f`"}
	if err := executor.MakeDir(ctx, e, run, 0o700, subdirs, files); err != nil {
		t.Fatal(err)
	}
	out, err := e.Run(ctx, []string{"sh", "-c", `cd "$1" && shift && stat -c '%a %F %s %n' -- "$@"`, "sh", run, ".", "-d", "a b $(x)", "src", "log", "it's `f`"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "700 directory 4096 .\n755 directory 4096 -d\n755 directory 4096 a b $(x)\n755 directory 4096 src\n644 regular empty file 0 log\n644 regular empty file 0 it's `f`\n"
	if string(out) != want {
		t.Fatalf("layout:\n%s\nwant:\n%s", out, want)
	}
	if err := executor.MakeDir(ctx, e, run, 0o700, subdirs, files); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second MakeDir: %v, want fs.ErrExist", err)
	}
}

// ModTime says when a file was written, as the machine's clock has it
// (the test's machine is this one); a missing file is fs.ErrNotExist.
func TestModTime(t *testing.T) {
	s := server(t, sshtest.Options{})
	e, dir := testExecutor(t, s)
	ctx := ctxT(t)
	sub := path.Join(dir, "run")
	if err := e.Mkdir(ctx, sub, 0o755); err != nil {
		t.Fatal(err)
	}
	f := path.Join(sub, "exit")
	before := time.Now()
	if err := e.WriteFile(ctx, f, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	got, err := e.ModTime(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	// File times come from the kernel's coarse clock: a tick of slack.
	if got.Before(before.Add(-50*time.Millisecond)) || got.After(after.Add(50*time.Millisecond)) {
		t.Fatalf("ModTime = %v, want between %v and %v", got, before, after)
	}
	if _, err := e.ModTime(ctx, path.Join(sub, "nothing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
}
