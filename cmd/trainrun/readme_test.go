package main

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/envtest"
)

// TestReadmeTranscripts runs the transcripts of the READMEs — their
// ```console blocks — as a new user would, in a copy of the example they
// describe, and checks that what each command prints has the lines the
// README shows: the docs say what the tool does.
//
// In a transcript, "$ COMMAND" is run with sh in the example's copy
// (comments after # are sh's). The lines after it, up to the next command,
// must appear in its output in that order, each a whole line: "…" in a
// line stands for any text (run ids, times, values), a line "..." for any
// lines, and blank lines are not checked. A command must exit 0 unless
// the lines shown begin with "Error:".
func TestReadmeTranscripts(t *testing.T) {
	bin := trainrunPath(t)
	root := filepath.Join("..", "..")
	for _, tt := range []struct {
		readme, example string
		needs           string // "" or what must be installed (sklearn, venv, python3), else the README is skipped
	}{
		{"README.md", "examples/quickstart", ""},
		{"examples/quickstart/README.md", "examples/quickstart", ""},
		{"examples/pipeline/README.md", "examples/pipeline", "sklearn"},
		{"examples/dvc-style/README.md", "examples/dvc-style", "python3"},
		{"examples/digits/README.md", "examples/digits", "venv"},
	} {
		t.Run(tt.readme, func(t *testing.T) {
			if tt.needs != "" && testing.Short() {
				t.Skip("runs an example that takes a while")
			}
			if tt.needs == "venv" {
				envtest.RequireVenv(t)
			}
			if tt.needs == "sklearn" || tt.needs == "venv" {
				envtest.RequireSklearn(t)
			}
			if tt.needs == "python3" {
				if _, err := exec.LookPath("python3"); err != nil {
					t.Skip("python3 is not installed")
				}
			}
			steps := transcripts(t, filepath.Join(root, tt.readme))
			if len(steps) == 0 {
				t.Fatalf("%s has no ```console transcript", tt.readme)
			}
			dir := t.TempDir()
			copyDir(t, filepath.Join(root, tt.example), dir)
			env := append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "NO_COLOR=1")
			for _, s := range steps {
				cmd := exec.Command("sh", "-c", s.command)
				cmd.Dir, cmd.Env = dir, env
				timer := time.AfterFunc(5*time.Minute, func() { _ = cmd.Process.Kill() })
				out, err := cmd.CombinedOutput()
				timer.Stop()
				wantsError := len(s.want) > 0 && strings.HasPrefix(s.want[0], "Error:")
				if (err != nil) != wantsError {
					t.Fatalf("%s:%d: $ %s: %v\n%s", tt.readme, s.line, s.command, err, out)
				}
				if missing := matchLines(s.want, string(out)); missing != "" {
					t.Fatalf("%s:%d: $ %s\nprints no line %q where the README shows it; it printed:\n%s", tt.readme, s.line, s.command, missing, out)
				}
			}
		})
	}
}

// step is one command of a transcript and the lines it should print.
type step struct {
	command string
	line    int
	want    []string
}

// transcripts reads the ```console blocks of a Markdown file.
func transcripts(t *testing.T, path string) []step {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []step
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```console":
			in = true
		case in && strings.TrimSpace(line) == "```":
			in = false
		case in && strings.HasPrefix(line, "$ "):
			steps = append(steps, step{command: strings.TrimPrefix(line, "$ "), line: n})
		case in && len(steps) > 0 && strings.TrimSpace(line) != "":
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
		}
	}
	return steps
}

// matchLines checks that the lines of out include want, in order (see
// TestReadmeTranscripts), and returns the first wanted line not found.
func matchLines(want []string, out string) string {
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	i := 0
	gap := true // the first wanted line may come anywhere
	for _, w := range want {
		if strings.TrimSpace(w) == "..." {
			gap = true
			continue
		}
		parts := strings.Split(strings.TrimRight(w, " "), "…")
		for k, p := range parts {
			parts[k] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		found := false
		for ; i < len(lines); i++ {
			if re.MatchString(strings.TrimRight(lines[i], " ")) {
				found = true
				i++
				break
			}
			if !gap && strings.TrimSpace(lines[i]) != "" {
				break // the next non-blank line had to match
			}
		}
		if !found {
			return w
		}
		gap = false
	}
	return ""
}

// copyDir copies the example at src (without its .trainrun) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() && d.Name() == ".trainrun" {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMatchLines(t *testing.T) {
	out := "a\nb 12:00:01 x\n\nc\nd\n"
	for _, tt := range []struct {
		want    []string
		missing string
	}{
		{[]string{"a", "b … x", "c"}, ""},
		{[]string{"b … x"}, ""},
		{[]string{"a", "c"}, "c"}, // lines between must be asked for with ...
		{[]string{"a", "...", "d"}, ""},
		{[]string{"d", "a"}, "a"},
		{[]string{"a", "b"}, "b"}, // a whole line
	} {
		if got := matchLines(tt.want, out); got != tt.missing {
			t.Errorf("matchLines(%q) = %q, want %q", tt.want, got, tt.missing)
		}
	}
}

// TestDocsStandAlone checks the project's docs as a clone has them: no
// link leads out of the repository (to the developers' ../shared), every
// relative link names a file that exists, and every #anchor a heading of
// it.
func TestDocsStandAlone(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	examples, _ := filepath.Glob(filepath.Join(root, "examples", "*", "README.md"))
	files := append(append([]string{filepath.Join(root, "README.md")}, docs...), examples...)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		name, _ := filepath.Rel(root, f)
		for _, bad := range []string{"../shared", "SPEC.md", "ARCHITECTURE.md"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s mentions %s, which a clone of the repository does not have", name, bad)
			}
		}
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := f
			if path != "" {
				file = filepath.Join(filepath.Dir(f), path)
				rel, err := filepath.Rel(root, file)
				if err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("%s links %s, outside the repository", name, target)
					continue
				}
				if _, err := os.Stat(file); err != nil {
					t.Errorf("%s links %s, which does not exist", name, target)
					continue
				}
			}
			if anchor != "" && !hasHeading(t, file, anchor) {
				t.Errorf("%s links %s, but %s has no heading #%s", name, target, filepath.Base(file), anchor)
			}
		}
	}
}

// hasHeading reports whether the Markdown file has a heading whose GitHub
// anchor is anchor.
func hasHeading(t *testing.T, file, anchor string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		h, ok := strings.CutPrefix(line, "#")
		if !ok {
			continue
		}
		h = strings.TrimSpace(strings.TrimLeft(h, "#"))
		var slug strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				slug.WriteRune(r)
			case r == ' ':
				slug.WriteByte('-')
			}
		}
		if slug.String() == anchor {
			return true
		}
	}
	return false
}
