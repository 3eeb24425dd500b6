package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file holds what the end-to-end Go tests share: a project in a
// temporary directory and the trainrun command run in it as a separate
// process, which the tests may kill.

// trainrunPath is the trainrun command: testscript.Main (script_test.go)
// puts this test binary on PATH under that name.
func trainrunPath(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the end-to-end tests signal process groups through /proc: linux only")
	}
	p, err := exec.LookPath("trainrun")
	if err != nil {
		t.Fatalf("trainrun is not on PATH (testscript.Main puts it there): %v", err)
	}
	return p
}

// project is a trainrun working directory.
type project struct {
	t   *testing.T
	dir string
	bin string
	env []string // the commands' whole environment
}

// newProject writes files (slash-separated paths relative to the project)
// into a new temporary directory.
func newProject(t *testing.T, files map[string]string) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir(), bin: trainrunPath(t)}
	p.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.dir, "NO_COLOR=1", "LANG=C"}
	for name, content := range files {
		p.write(name, content)
	}
	return p
}

func (p *project) write(name, content string) {
	p.t.Helper()
	path := filepath.Join(p.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *project) path(name string) string { return filepath.Join(p.dir, filepath.FromSlash(name)) }

// command returns trainrun ARGS… in the project, with extra environment
// variables.
func (p *project) command(extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command(p.bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(append([]string(nil), p.env...), extraEnv...)
	return cmd
}

// result is how one trainrun command ended.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return "trainrun " + strings.Join(r.args, " ") + ": exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "stderr:\n" + r.stderr
}

// run runs trainrun ARGS… to its end (at most five minutes: a backstop
// against a hang, long enough for a venv to build on a busy machine).
func (p *project) run(extraEnv []string, args ...string) result {
	p.t.Helper()
	cmd := p.command(extraEnv, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	timer := time.AfterFunc(5*time.Minute, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		p.t.Fatalf("trainrun %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// must runs trainrun ARGS… and fails the test unless it exits with code.
func (p *project) must(code int, extraEnv []string, args ...string) result {
	p.t.Helper()
	res := p.run(extraEnv, args...)
	if res.code != code {
		p.t.Fatalf("want exit %d from %s", code, res)
	}
	return res
}

// statusJSON is what status -json says of each instance.
type statusJSON struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Status   string `json:"status"`
	ExitCode *int   `json:"exit_code"`
	Attempts int    `json:"attempts"`
}

func (p *project) status(extraEnv []string) []statusJSON {
	p.t.Helper()
	res := p.must(0, extraEnv, "status", "-json")
	var out []statusJSON
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		p.t.Fatalf("status -json: %v\n%s", err, res.stdout)
	}
	return out
}

// syncBuffer is a bytes.Buffer that a running command writes while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineCount counts the lines of a file; a missing file has none.
func lineCount(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// waitFor polls cond every 5 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exampleFiles reads examples/NAME, the files of a project as a user gets
// them, keyed by their slash-separated path within it.
func exampleFiles(t *testing.T, name string) map[string]string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", name)
	files := map[string]string{}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(src, path)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
