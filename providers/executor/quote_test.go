package executor

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"abc", "abc"},
		{"/usr/bin/python3", "/usr/bin/python3"},
		{"--lr=0.1", "'--lr=0.1'"},
		{"-n", "-n"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$(touch pwned)", "'$(touch pwned)'"},
		{"`id`", "'`id`'"},
		{"a\nb", "'a\nb'"},
		{"*.py", "'*.py'"},
		{"~", "'~'"},
		{"#x", "'#x'"},
		{"FOO=bar", "'FOO=bar'"},
		{"{a,b}", "'{a,b}'"},
		{"100%", "100%"},
		{"é", "'é'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got, err := unquote(Quote(tt.in)); err != nil || got != tt.in {
			t.Errorf("unquote(Quote(%q)) = %q, %v", tt.in, got, err)
		}
	}
}

func TestCommandLineThroughShell(t *testing.T) {
	argv := []string{"", "plain", "a b", "it's", "$(touch pwned)", "`id`", "a\nb", "-n", "*", "~", "#", "x=y", `\`, `"`, "é\x01"}
	got := shellWords(t, CommandLine(argv))
	if strings.Join(got, "\x00") != strings.Join(argv, "\x00") {
		t.Errorf("through sh:\n got %q\nwant %q", got, argv)
	}
	if got := CommandLine([]string{"echo", "a b"}); got != "echo 'a b'" {
		t.Errorf("CommandLine = %q", got)
	}
}

// shellWords has sh parse line as the arguments of printf and returns the
// words it got.
func shellWords(t testing.TB, line string) []string {
	t.Helper()
	out, err := exec.Command("sh", "-c", `printf '%s\0' `+line).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", line, err)
	}
	words := strings.Split(string(out), "\x00")
	return words[:len(words)-1]
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a", "'", "''", `'\''`, "a b", "$x", "\n", "-", "=", "\xff", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		got, err := unquote(q)
		if err != nil || got != s {
			t.Fatalf("unquote(Quote(%q)) = %q, %v (quoted %q)", s, got, err, q)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return // no argument can hold a NUL
		}
		words := shellWords(t, q)
		if len(words) != 1 || words[0] != s {
			t.Fatalf("sh parsed Quote(%q) = %q as %q", s, q, words)
		}
	})
}

// unquote parses one word as a POSIX shell would, accepting only what
// Quote produces: plain characters, '…' and \'. Anything a shell would
// expand, split or treat specially unquoted is an error.
func unquote(q string) (string, error) {
	var b bytes.Buffer
	for i := 0; i < len(q); {
		switch c := q[i]; {
		case c == '\'':
			j := strings.IndexByte(q[i+1:], '\'')
			if j < 0 {
				return "", errors.New("unterminated quote")
			}
			b.WriteString(q[i+1 : i+1+j])
			i += j + 2
		case c == '\\' && i+1 < len(q) && q[i+1] == '\'':
			b.WriteByte('\'')
			i += 2
		case isPlain(string(c)):
			b.WriteByte(c)
			i++
		default:
			return "", errors.New("unquoted special character " + string(c))
		}
	}
	if q == "" {
		return "", errors.New("empty word vanishes")
	}
	return b.String(), nil
}
