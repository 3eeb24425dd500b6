package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitInfo: the commit and dirty flag that runs record, from one git
// status, agree with git rev-parse HEAD; a directory no git takes for a
// repository, and a repository without a commit, give none.
func TestGitInfo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git on PATH")
	}
	t.Setenv("GIT_DIR", "")
	os.Unsetenv("GIT_DIR")
	t.Setenv("GIT_CEILING_DIRECTORIES", t.TempDir()+"/..")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}

	plain := t.TempDir()
	if g := gitInfo(plain); g != nil {
		t.Errorf("gitInfo of a plain directory = %+v, want nil", g)
	}

	repo := t.TempDir()
	git(repo, "init", "-q")
	if g := gitInfo(repo); g != nil {
		t.Errorf("gitInfo of a repository without a commit = %+v, want nil", g)
	}
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(repo, "add", "a.txt")
	git(repo, "commit", "-q", "-m", "a")
	head := git(repo, "rev-parse", "HEAD")
	sub := filepath.Join(repo, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name  string
		edit  func()
		dirty bool
	}{
		{"clean", func() {}, false},
		{"untracked file", func() { os.WriteFile(filepath.Join(sub, "new.txt"), []byte("n\n"), 0o644) }, true},
		{"committed", func() {
			git(repo, "add", "-A")
			git(repo, "commit", "-q", "-m", "b")
			head = git(repo, "rev-parse", "HEAD")
		}, false},
		{"modified", func() { os.WriteFile(filepath.Join(repo, "a.txt"), []byte("b\n"), 0o644) }, true},
	} {
		step.edit()
		for _, dir := range []string{repo, sub} {
			g := gitInfo(dir)
			if g == nil {
				t.Fatalf("%s: gitInfo(%s) = nil", step.name, dir)
			}
			if g.Commit != head || g.Dirty != step.dirty {
				t.Errorf("%s: gitInfo(%s) = %+v, want commit %s dirty %v", step.name, dir, g, head, step.dirty)
			}
		}
	}
}
