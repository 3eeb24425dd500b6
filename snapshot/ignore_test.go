package snapshot

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWildmatch(t *testing.T) {
	tests := []struct {
		pattern, text string
		pathname      bool // the mode used for patterns containing a slash
		want          bool
	}{
		{"foo", "foo", true, true},
		{"foo", "bar", true, false},
		{"???", "foo", true, true},
		{"??", "foo", true, false},
		{"*", "foo", true, true},
		{"f*", "foo", true, true},
		{"*f", "foo", true, false},
		{"*ob*a*r*", "foobar", true, true},
		{"*ab", "aaaaaaabababab", true, true},
		{`foo\*`, "foo*", true, true},
		{`foo\*bar`, "foobar", true, false},
		{`\a\b\c`, "abc", true, true},
		{`foo\`, "foo", true, false}, // a trailing backslash matches nothing
		{"*[al]?", "ball", true, true},
		{"[ten]", "ten", true, false},
		{"t[a-g]n", "ten", true, true},
		{"t[!a-g]n", "ten", true, false},
		{"t[!a-g]n", "ton", true, true},
		{"t[^a-g]n", "ton", true, true},
		{"a[]]b", "a]b", true, true},
		{"a[]-]b", "a-b", true, true},
		{"a[]-]b", "aab", true, false},
		{"[[:digit:]][[:upper:]]", "1A", true, true},
		{"[[:digit:]][[:upper:]]", "1a", true, false},
		{"[[:nope:]]", "n", true, false}, // unknown class: malformed
		{"ab[", "ab[", true, false},      // unterminated bracket: malformed
		{"[!", "ab", true, false},
		{"[a-c[:digit:]x-z]", "5", true, true},
		{"[a-c[:digit:]x-z]", "q", true, false},

		// "*", "?" and "[...]" stop at slashes in pathname mode only.
		{"foo*bar", "foo/baz/bar", true, false},
		{"foo*bar", "foo/baz/bar", false, true},
		{"foo?bar", "foo/bar", true, false},
		{"foo[/]bar", "foo/bar", true, false},
		{"foo/*", "foo/bar", true, true},
		{"foo/*", "foo/bar/baz", true, false},
		{"*/foo", "bar/baz/foo", true, false},

		// "**" between slashes spans directories, including none.
		{"foo/**/bar", "foo/bar", true, true},
		{"foo/**/bar", "foo/baz/bar", true, true},
		{"foo/**/bar", "foo/b/a/z/bar", true, true},
		{"foo/**/**/bar", "foo/bar", true, true},
		{"**/foo", "foo", true, true},
		{"**/foo", "a/b/foo", true, true},
		{"**/foo", "a/b/foox", true, false},
		{"**/bar/*", "deep/foo/bar/baz", true, true},
		{"**/bar/*", "deep/foo/bar", true, false},
		{"foo/**", "foo/bar/baz", true, true},
		{"foo/**", "foo", true, false},
		{"*/bar/**", "foo/bar/baz/x", true, true},
		{"*/bar/**", "deep/foo/bar/baz/x", true, false},
		{"**/*a*b*g*n*t", "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txt", true, true},
		// Elsewhere "**" is an ordinary "*".
		{"foo**bar", "foo/baz/bar", true, false},
		{"foo**bar", "foobazbar", true, true},
		{"**/bar**", "foo/bar/baz", true, false},

		{"XXX/*/*/*/12/*/m/*", "XXX/a/b/c/12/d/m/e", true, true},
		{"XXX/*/*/*/12/*/m/*", "XXX/a/b/c/12/d/X/e", true, false},
		{"-*-*-*-12-*-m-*", "-a-b-c-12-d-m-e", true, true},
		{"*X*i", "ab/cXd/efXg/hi", true, false},
		{"*/*X*/*/*i", "ab/cXd/efXg/hi", true, true},
	}
	for _, tt := range tests {
		if got := wildmatch(tt.pattern, tt.text, tt.pathname); got != tt.want {
			t.Errorf("wildmatch(%q, %q, pathname=%v) = %v, want %v", tt.pattern, tt.text, tt.pathname, got, tt.want)
		}
	}
}

func TestParsePattern(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
		want ignorePattern
	}{
		{"", false, ignorePattern{}},
		{"# comment", false, ignorePattern{}},
		{`\#file`, true, ignorePattern{glob: `\#file`, basename: true, prefix: 0}},
		{"!keep.txt", true, ignorePattern{glob: "keep.txt", negate: true, basename: true, prefix: 8}},
		{`\!keep`, true, ignorePattern{glob: `\!keep`, basename: true}},
		{"build/", true, ignorePattern{glob: "build", dirOnly: true, basename: true, prefix: 5}},
		{"/build", true, ignorePattern{glob: "build", prefix: 5}},
		{"doc/*.txt", true, ignorePattern{glob: "doc/*.txt", prefix: 4}},
		{"trailing   ", true, ignorePattern{glob: "trailing", basename: true, prefix: 8}},
		{`space\ `, true, ignorePattern{glob: `space\ `, basename: true, prefix: 5}},
		{`two\  `, true, ignorePattern{glob: `two\ `, basename: true, prefix: 3}},
		{"   ", false, ignorePattern{}},
		{"/", false, ignorePattern{}},
		{"!", false, ignorePattern{}},
	}
	for _, tt := range tests {
		got, ok := parsePattern(tt.line)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parsePattern(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

// TestIgnoreRules checks the examples of gitignore(5) and the precedence
// rules, path by path.
func TestIgnoreRules(t *testing.T) {
	type check struct {
		path string
		dir  bool
		want bool
	}
	tests := []struct {
		name    string
		files   map[string]string // directory ("" or "a/") → .gitignore content
		trfiles map[string]string // directory → .trainrunignore content
		checks  []check
	}{
		{
			name:  "basename patterns match at any depth",
			files: map[string]string{"": "hello.*\nfoo.txt\n"},
			checks: []check{
				{path: "hello.c", want: true},
				{path: "a/b/hello.py", want: true},
				{path: "hello", want: false},
				{path: "x/foo.txt", want: true},
			},
		},
		{
			name:  "a slash anchors the pattern",
			files: map[string]string{"": "/bar\ndoc/frotz/\nfrotz/\n"},
			checks: []check{
				{path: "bar", want: true},
				{path: "a/bar", want: false},
				{path: "doc/frotz", dir: true, want: true},
				{path: "a/doc/frotz", dir: true, want: true}, // by "frotz/"
				{path: "a/frotz", dir: true, want: true},
				{path: "a/frotz", dir: false, want: false}, // dir-only
			},
		},
		{
			name:  "doc/frotz is anchored, frotz alone is not",
			files: map[string]string{"": "doc/frotz/\n"},
			checks: []check{
				{path: "doc/frotz", dir: true, want: true},
				{path: "a/doc/frotz", dir: true, want: false},
			},
		},
		{
			name:  "double star",
			files: map[string]string{"": "**/foo\n**/x/bar\nabc/**\na/**/b\n"},
			checks: []check{
				{path: "foo", want: true},
				{path: "q/r/foo", dir: true, want: true},
				{path: "x/bar", want: true},
				{path: "p/x/bar", want: true},
				{path: "p/y/bar", want: false},
				{path: "abc", dir: true, want: false},
				{path: "abc/d", want: true},
				{path: "a/b", want: true},
				{path: "a/x/b", want: true},
				{path: "a/x/y/b", want: true},
				{path: "ab", want: false},
			},
		},
		{
			name:  "negation re-includes; the last matching pattern wins",
			files: map[string]string{"": "*.html\n!foo.html\n*.log\n!keep.log\nkeep.log\n"},
			checks: []check{
				{path: "a.html", want: true},
				{path: "foo.html", want: false},
				{path: "d/foo.html", want: false},
				{path: "keep.log", want: true},
			},
		},
		{
			name:  "everything except foo/bar",
			files: map[string]string{"": "/*\n!/foo\n/foo/*\n!/foo/bar\n"},
			checks: []check{
				{path: "x", want: true},
				{path: "foo", dir: true, want: false},
				{path: "foo/baz", want: true},
				{path: "foo/bar", dir: true, want: false},
			},
		},
		{
			name: "deeper files override shallower ones, relative to their directory",
			files: map[string]string{
				"":     "*.csv\n/top.txt\n",
				"sub/": "!keep.csv\n/local.txt\n",
			},
			checks: []check{
				{path: "a.csv", want: true},
				{path: "sub/a.csv", want: true},
				{path: "sub/keep.csv", want: false},
				{path: "sub/deeper/keep.csv", want: false},
				{path: "keep.csv", want: true},
				{path: "sub/local.txt", want: true},
				{path: "local.txt", want: false},
				{path: "sub/top.txt", want: false},
			},
		},
		{
			name:    ".trainrunignore overrides .gitignore",
			files:   map[string]string{"": "*.csv\n"},
			trfiles: map[string]string{"": "!data.csv\nnotes.md\n", "sub/": "!notes.md\n"},
			checks: []check{
				{path: "x.csv", want: true},
				{path: "data.csv", want: false},
				{path: "notes.md", want: true},
				{path: "sub/notes.md", want: false},
				{path: "sub/x.csv", want: true},
			},
		},
		{
			name:  "escapes, spaces, brackets, comments",
			files: map[string]string{"": "\\#hash\n\\!bang\nsp\\ \ntrail   \n# trail2\nfile[0-9].c\nq?.txt\n"},
			checks: []check{
				{path: "#hash", want: true},
				{path: "!bang", want: true},
				{path: "sp ", want: true},
				{path: "sp", want: false},
				{path: "trail", want: true},
				{path: "# trail2", want: false},
				{path: "file7.c", want: true},
				{path: "filex.c", want: false},
				{path: "q1.txt", want: true},
			},
		},
		{
			name:  "CRLF line ends and a byte order mark",
			files: map[string]string{"": "\xef\xbb\xbffirst\r\nsecond\r\n"},
			checks: []check{
				{path: "first", want: true},
				{path: "second", want: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range tt.checks {
				rules := rulesFor(c.path, tt.files, tt.trfiles)
				nameStart := strings.LastIndexByte(c.path, '/') + 1
				if got := rules.excluded(c.path, nameStart, c.dir); got != c.want {
					t.Errorf("excluded(%q, dir=%v) = %v, want %v", c.path, c.dir, got, c.want)
				}
			}
		})
	}
}

// rulesFor builds the ignore rules that apply to path from ignore files
// keyed by directory.
func rulesFor(path string, git, trainrun map[string]string) ignoreRules {
	var r ignoreRules
	dirs := []string{""}
	for i, c := range path {
		if c == '/' {
			dirs = append(dirs, path[:i+1])
		}
	}
	for _, d := range dirs {
		if s, ok := git[d]; ok {
			r.git = r.git.push(parseIgnoreFile([]byte(s), d))
		}
		if s, ok := trainrun[d]; ok {
			r.trainrun = r.trainrun.push(parseIgnoreFile([]byte(s), d))
		}
	}
	return r
}

// gitIgnoreFixture is a tree whose .gitignore files exercise most of the
// syntax. Paths ending in "/" are empty directories; "@" marks symlinks.
var gitIgnoreFixture = map[string]string{
	".gitignore": strings.Join([]string{
		"# comment",
		"*.log",
		"!important.log",
		"/build/",
		"tmp/",
		"**/cache/**",
		"doc/**/*.pdf",
		"a/*/c.txt",
		"\\#literal",
		"trailing.txt   ",
		"sp\\ ace",
		"[Dd]ata?.bin",
		"x/**",
		"!x/keep",
		"/only-root",
		"nested/dir/",
		"*.tmp",
		"!*.tmp/",
		"link-to-dir/",
		"\\!bang",
		"",
	}, "\n"),
	"main.py":                  "print(1)",
	"debug.log":                "x",
	"important.log":            "x",
	"sub/important.log":        "x",
	"sub/other.log":            "x",
	"build/out.o":              "x",
	"sub/build/out.o":          "x",
	"tmp/t":                    "x",
	"sub/tmp/t":                "x",
	"cache/a":                  "x",
	"deep/cache/b/c":           "x",
	"doc/x.pdf":                "x",
	"doc/a/b/y.pdf":            "x",
	"doc/a/b/y.txt":            "x",
	"a/b/c.txt":                "x",
	"a/b/d/c.txt":              "x",
	"#literal":                 "x",
	"trailing.txt":             "x",
	"sp ace":                   "x",
	"Data1.bin":                "x",
	"data22.bin":               "x",
	"x/keep":                   "x",
	"x/drop":                   "x",
	"only-root":                "x",
	"sub/only-root":            "x",
	"nested/dir/f":             "x",
	"nested/file":              "x",
	"a.tmp/inside":             "x",
	"b.tmp":                    "x",
	"!bang":                    "x",
	"real-dir/f":               "x",
	"link-to-dir":              "@real-dir",
	"empty/":                   "",
	"sub/.gitignore":           "!other.log\n/local\n*.csv\n!keep.csv\n",
	"sub/local":                "x",
	"sub/x/local":              "x",
	"sub/a.csv":                "x",
	"sub/keep.csv":             "x",
	"sub/deeper/keep.csv":      "x",
	"sub/deeper/.gitignore":    "keep.csv\n",
	"excl/.gitignore":          "*\n!.gitignore\n!wanted\n",
	"excl/wanted":              "x",
	"excl/unwanted":            "x",
	"excl/wanted-dir/f":        "x",
	"sub2/.gitignore":          "/*\n!/keep/\n/keep/*\n!/keep/this\n",
	"sub2/keep/this":           "x",
	"sub2/keep/that":           "x",
	"sub2/other":               "x",
	"weird name with spaces.t": "x",
	"uni/ünï.txt":              "x",
}

// writeTree creates the files of spec under root.
func writeTree(t testing.TB, root string, spec map[string]string) {
	t.Helper()
	for p, content := range spec {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "@"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// gitFiles lists the files git would track in dir: cached, and untracked
// but not ignored, as paths relative to dir.
func gitFiles(t *testing.T, dir string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--others", "--cached", "--exclude-standard")
	cmd.Dir = dir
	cmd.Env = gitEnv(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	return files
}

// gitEnv isolates git from the user's configuration (global excludes).
func gitEnv(t *testing.T) []string {
	home := t.TempDir()
	return append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
}

func runGit(t testing.TB, env []string, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func entryPaths(m *Manifest) []string {
	var paths []string
	for _, e := range m.Entries {
		paths = append(paths, e.Path)
	}
	return paths
}

// TestScanMatchesGit compares Scan's file list with git's on a tree with
// tricky ignore files, at the root of the work tree and in a subdirectory
// (where the root's .gitignore still applies).
func TestScanMatchesGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root := t.TempDir()
	writeTree(t, root, gitIgnoreFixture)
	runGit(t, gitEnv(t), root, "init", "-q")

	for _, dir := range []string{".", "sub", "doc"} {
		t.Run(dir, func(t *testing.T) {
			want := gitFiles(t, filepath.Join(root, dir))
			m, _, err := Scan(filepath.Join(root, dir), ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := entryPaths(m)
			if strings.Join(got, "\n") != strings.Join(slices.Sorted(slices.Values(want)), "\n") {
				t.Errorf("Scan and git disagree\nonly Scan: %q\nonly git:  %q", minus(got, want), minus(want, got))
			}
		})
	}
}

func minus(a, b []string) []string {
	in := make(map[string]bool)
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// TestScanMatchesGitRandom compares Scan with git on random trees and
// random ignore files built from the pattern syntax's pieces.
func TestScanMatchesGitRandom(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	iterations := 40
	if testing.Short() {
		iterations = 5
	}
	r := rand.New(rand.NewSource(1))
	names := []string{"a", "b", "ab", "a.c", "ba", "[x]", "a b", "c"}
	pieces := []string{"a", "b", "*", "?", "**", "/", "[ab]", "[!a]", ".", "c", "!", "\\", " ", "[", "]", "-"}
	randomPatterns := func(n, parts int) string {
		var lines []string
		for range 1 + r.Intn(n) {
			var b strings.Builder
			if r.Intn(4) == 0 {
				b.WriteString("!")
			}
			for range 1 + r.Intn(parts) {
				b.WriteString(pieces[r.Intn(len(pieces))])
			}
			lines = append(lines, b.String())
		}
		return strings.Join(lines, "\n") + "\n"
	}
	env := gitEnv(t)
	for i := range iterations {
		spec := map[string]string{}
		for range 15 {
			var parts []string
			for range 1 + r.Intn(3) {
				parts = append(parts, names[r.Intn(len(names))])
			}
			spec[strings.Join(parts, "/")] = "x"
		}
		for p := range spec { // a path cannot be both a file and a directory
			for q := range spec {
				if strings.HasPrefix(q, p+"/") {
					delete(spec, p)
				}
			}
		}
		for p := range spec {
			if dir, _, ok := strings.Cut(p, "/"); ok && r.Intn(2) == 0 {
				spec[dir+"/.gitignore"] = randomPatterns(3, 4)
				break
			}
		}
		spec[".gitignore"] = randomPatterns(5, 5)

		root := t.TempDir()
		writeTree(t, root, spec)
		runGit(t, env, root, "init", "-q")
		want := slices.Sorted(slices.Values(gitFiles(t, root)))
		m, _, err := Scan(root, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := entryPaths(m); !slices.Equal(got, want) {
			t.Errorf("tree %d: .gitignore %q\nonly Scan: %q\nonly git:  %q", i, spec[".gitignore"], minus(got, want), minus(want, got))
		}
	}
}
