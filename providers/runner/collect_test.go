package runner

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/trainrun/trainrun/providers/executor"
)

// TestSpecialLocalMatchesScript checks that the walk done on this machine
// finds what specialScript finds elsewhere, on the same tree.
func TestSpecialLocalMatchesScript(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string) string {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, p := range []string{"outputs/pipe", "outputs/a b/deep/pipe", "src/ckpt/fifo", "src/elsewhere/fifo", "src/lone"} {
		if err := syscall.Mkfifo(mk(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(mk("outputs/model.txt"), []byte("m"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A socket; its path must stay short enough for sun_path.
	if l, err := net.Listen("unix", mk("outputs/s")); err == nil {
		defer l.Close()
	} else {
		t.Logf("no socket: %v", err)
	}
	// Links are never followed: not below outputs/, not as a declared path.
	if err := os.Symlink(filepath.Join(dir, "src/elsewhere"), mk("outputs/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("elsewhere", mk("src/declared-link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  string // one record that must be among them
	}{
		{"outputs only", []string{"outputs"}, "FIFO\toutputs/a b/deep/pipe"},
		{"declared directory", []string{"outputs", "src/ckpt"}, "FIFO\tsrc/ckpt/fifo"},
		{"declared FIFO", []string{"outputs", "src/lone"}, "FIFO\tsrc/lone"},
		{"declared link", []string{"outputs", "src/declared-link"}, "FIFO\toutputs/pipe"},
		{"missing", []string{"outputs", "src/none"}, "FIFO\toutputs/pipe"},
		{"no outputs", []string{"src/none"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := executor.Local{}.Run(ctx, append([]string{"sh", "-c", specialScript, "sh", dir}, tt.paths...), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := specialLocal(dir, tt.paths)
			if err != nil {
				t.Fatal(err)
			}
			sorted := func(b []byte) []string {
				s := strings.Split(string(b), "\x00")
				slices.Sort(s)
				return s
			}
			if g, w := sorted(got), sorted(want); !slices.Equal(g, w) {
				t.Errorf("specialLocal = %q, the script found %q", g, w)
			}
			if tt.want != "" && !slices.Contains(sorted(got), tt.want) {
				t.Errorf("specialLocal = %q, want %q among them", sorted(got), tt.want)
			}
		})
	}
}
