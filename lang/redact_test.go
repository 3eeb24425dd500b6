package lang

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// hostileSecrets are values that quoting changes, or that are easy to miss.
var hostileSecrets = []string{
	`p"a\ss`,
	`"`,
	`\`,
	`\\"quoted\\"`,
	"line1\nline2\ttab\r",
	"pässwörd-ÿ",
	"密码🔑",
	"a<b>&c",
	"${x}%{y}",
	"nul\x00bell\x07",
	"bad\xffutf8",
	"\u2028sep",
	"z",
}

// quotings writes s as messages and logs quote it.
var quotings = map[string]func(string) string{
	"raw":          func(s string) string { return s },
	"%q":           func(s string) string { return fmt.Sprintf("%q", s) },
	"%+q":          func(s string) string { return fmt.Sprintf("%+q", s) },
	"%#v":          func(s string) string { return fmt.Sprintf("%#v", s) },
	"json":         func(s string) string { b, _ := json.Marshal(s); return string(b) },
	"json no html": func(s string) string { return jsonString(s, false) },
	"hcl":          func(s string) string { return `"` + hclString(s) + `"` },
	"cty GoString": func(s string) string { return cty.StringVal(s).GoString() },
	"%q of json": func(s string) string {
		b, _ := json.Marshal(s)
		return strconv.Quote(string(b))
	},
	"json of %q": func(s string) string {
		b, _ := json.Marshal(strconv.Quote(s))
		return string(b)
	},
	"hcl of %q": func(s string) string { return `"` + hclString(strconv.Quote(s)) + `"` },
}

func TestRedactQuotedForms(t *testing.T) {
	for _, sec := range hostileSecrets {
		for name, quote := range quotings {
			t.Run(fmt.Sprintf("%q/%s", sec, name), func(t *testing.T) {
				in := "before " + quote(sec) + " after"
				got := Redact(in, []string{sec})
				if !strings.Contains(got, Redacted) {
					t.Fatalf("Redact(%q) = %q: nothing redacted", in, got)
				}
				for qn, q := range quotings {
					if f := strings.Trim(q(sec), `"`); f != "" && strings.Contains(got, f) {
						t.Errorf("Redact(%q) = %q: still holds the secret as %s, %q", in, got, qn, f)
					}
				}
				if !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
					t.Errorf("Redact(%q) = %q: the text around the secret changed", in, got)
				}
			})
		}
	}
}

// TestSensitiveInFunctionErrors: functions given a secret fail with
// messages that quote it, escaped; the diagnostics Load returns show none
// of its forms.
func TestSensitiveInFunctionErrors(t *testing.T) {
	for _, sec := range hostileSecrets {
		if strings.ContainsAny(sec, "\x00") {
			continue // not a value an environment variable can hold
		}
		for _, call := range []string{"tonumber(var.secret)", "file(var.secret)", "tobool(var.secret)", "jsondecode(var.secret)", "tonumber(jsonencode(var.secret))"} {
			t.Run(fmt.Sprintf("%q/%s", sec, call), func(t *testing.T) {
				src := base + "variable \"secret\" {\n  type      = string\n  sensitive = true\n}\n" +
					exp("a", okCmd+"\n  env = { X = "+call+" }")
				opts := testOptions()
				opts.Getenv = env(map[string]string{"TRAINRUN_VAR_secret": sec})
				cfg, diags := loadErrors(t, one(src), opts)
				out := renderDiags(cfg, diags) + string(DiagnosticsJSON(diags))
				if !strings.Contains(out, Redacted) {
					t.Errorf("nothing redacted:\n%s", out)
				}
				for name, quote := range quotings {
					f := strings.Trim(quote(sec), `"`)
					if len(f) > 1 && strings.Contains(out, f) {
						t.Errorf("the diagnostics hold the secret as %s, %q:\n%s", name, f, out)
					}
				}
			})
		}
	}
}

func TestRedactOrdinary(t *testing.T) {
	tests := []struct {
		in      string
		secrets []string
		want    string
	}{
		{"no secrets here", nil, "no secrets here"},
		{"token=abc123 and abc123", []string{"abc123"}, "token=(sensitive) and (sensitive)"},
		// The longest secret at a place is replaced whole, and what was
		// replaced is not searched again (no "(sen(sensitive)itive)").
		{"abcdef", []string{"abc", "abcdef", "s"}, "(sensitive)"},
		{`say "x\"y"`, []string{`x"y`}, `say "(sensitive)"`},
		{"", []string{"x"}, ""},
		{"keep", []string{""}, "keep"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in, tt.secrets); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q; want %q", tt.in, tt.secrets, got, tt.want)
		}
	}
}

func TestSecretForms(t *testing.T) {
	if got := SecretForms([]string{"plain-token", "plain-token", ""}); len(got) != 1 || got[0] != "plain-token" {
		t.Errorf("SecretForms of a plain secret = %q; want it alone", got)
	}
	got := SecretForms([]string{`a"b<`})
	for _, want := range []string{
		`a"b<`,       // as it is
		`a\"b<`,      // quoted once: %q, JSON, HCL
		`a\\\"b<`,    // quoted twice
		`a\"b\u003c`, // JSON, escaping HTML
	} {
		if !slices.Contains(got, want) {
			t.Errorf("SecretForms(%q) = %q: lacks %q", `a"b<`, got, want)
		}
	}
	for i := 1; i < len(got); i++ {
		if len(got[i]) > len(got[i-1]) {
			t.Errorf("SecretForms is not longest first: %q", got)
		}
	}
}

func BenchmarkRedactLine(b *testing.B) {
	secrets := []string{"s3cret-token-value", `p"a\ss`, "pässwörd"}
	line := strings.Repeat("step 100 loss 0.25 lr 0.001 ", 4)
	for b.Loop() {
		Redact(line, secrets)
	}
}

// pythonForms prints secret (given as bytes in the environment, and as an
// argument) in the ways a Python run prints what it was given, one per
// line: reprs of str and bytes, sys.argv, JSON, shell quoting, URL
// encoding, and each of these inside the other.
const pythonForms = `
import json, os, shlex, sys, urllib.parse
s, b = sys.argv[1], os.environb[b"SECRET"]
for x in [sys.argv, repr(s), repr(b), [b], {"pw": s}, {"pw": b},
          json.dumps(s), json.dumps(s, ensure_ascii=False), json.dumps({"pw": s}), json.dumps([repr(s)]),
          repr(json.dumps(s)), shlex.quote(s), json.dumps(shlex.quote(s)), repr(shlex.quote(s)),
          urllib.parse.quote(b), urllib.parse.quote_plus(b), urllib.parse.quote(b, safe=""),
          urllib.parse.urlencode({"pw": b}), "%r %a" % (s, s), ascii(s)]:
    print(x)
`

// TestRedactPythonForms has a real python3 print hostile secrets in the
// ways a run prints what it was given, and redacts its output.
func TestRedactPythonForms(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	for _, sec := range []string{
		`It's "Zq9"-quoted`,
		`both ' and " and \ in Zq9`,
		"pässwörd-Zq9-密码🔑",
		"Zq9 tab\tnew\nline\x1b[31m",
		"Zq9\xff\xfe-not-utf8",
		"Zq9 $HOME %s & <b> +plus",
	} {
		t.Run(strconv.Quote(sec), func(t *testing.T) {
			cmd := exec.Command(py, "-c", pythonForms, sec)
			cmd.Env = append(os.Environ(), "SECRET="+sec, "PYTHONIOENCODING=utf-8:surrogateescape", "LC_ALL=C.UTF-8")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("python3: %v\n%s", err, out)
			}
			got := Redact(string(out), []string{sec})
			for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
				if strings.Contains(line, "Zq9") || !strings.Contains(line, Redacted) {
					t.Errorf("form %d still shows the secret: %q (python printed %q)", i, line, strings.Split(string(out), "\n")[i])
				}
			}
		})
	}
}

// TestRedactOnce: redacting redacted text again changes nothing, even for a
// secret found inside "(sensitive)".
func TestRedactOnce(t *testing.T) {
	for _, sec := range []string{"sens", "itive)", "(sensitive", "sitiv"} {
		once := Redact("a "+sec+" b", []string{sec})
		if once != "a (sensitive) b" {
			t.Errorf("Redact(%q) = %q", sec, once)
		}
		if twice := Redact(once, []string{sec}); twice != once {
			t.Errorf("redacted again with %q: %q; want %q", sec, twice, once)
		}
	}
}

func TestRedactable(t *testing.T) {
	got := Redactable([]string{"e", "ab", "abc", "abcd", "äöü", "äöüß", ""})
	if want := []string{"abcd", "äöüß"}; !slices.Equal(got, want) {
		t.Errorf("Redactable = %q; want %q", got, want)
	}
}

// BenchmarkRedactorCopy measures redacting a 16 MB log that holds a secret
// now and then; compare with BenchmarkCopyPlain, the same bytes copied.
func BenchmarkRedactorCopy(b *testing.B) {
	log := benchLog()
	r := NewRedactor([]string{"s3cret-token-value", "hf_Zq9s3cr3tXw7K"})
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		if err := r.Copy(io.Discard, bytes.NewReader(log)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCopyPlain(b *testing.B) {
	log := benchLog()
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, bytes.NewReader(log)); err != nil {
			b.Fatal(err)
		}
	}
}

func benchLog() []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < 16<<20; i++ {
		fmt.Fprintf(&buf, "step %d loss 0.25 lr 0.001 epoch %d\n", i, i/1000)
		if i%5000 == 0 {
			fmt.Fprintf(&buf, "token=%q\n", "s3cret-token-value")
		}
	}
	return buf.Bytes()
}
