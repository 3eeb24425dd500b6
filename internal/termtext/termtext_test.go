package termtext

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, tt := range []struct{ in, want, wantLines string }{
		{"loss", "loss", "loss"},
		{"pässwörd 密码", "pässwörd 密码", "pässwörd 密码"},
		{"\x1b[2J\x1b]0;title\x07", `\x1b[2J\x1b]0;title\a`, `\x1b[2J\x1b]0;title\a`},
		{"a\nb\rc\td", `a\nb\rc\td`, "a\nb\\rc\\td"},
		{"csi\u009b31m", `csi\u009b31m`, `csi\u009b31m`},
		{"bidi\u202eevil", `bidi\u202eevil`, `bidi\u202eevil`},
		{"bad\xffutf8", `bad\xffutf8`, `bad\xffutf8`},
		{"del\x7f", `del\x7f`, `del\x7f`},
	} {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if got := EscapeLines(tt.in); got != tt.wantLines {
			t.Errorf("EscapeLines(%q) = %q; want %q", tt.in, got, tt.wantLines)
		}
	}
}

func TestEscapeCaps(t *testing.T) {
	long := strings.Repeat("é", 100<<10)
	got := Escape(long)
	if !strings.HasPrefix(got, strings.Repeat("é", Max)+"… [") || !strings.Contains(got, "more bytes not shown]") {
		t.Errorf("a 100 K-character string is not cut to %d with a note: %.80q…", Max, got)
	}
	if len(got) > 4*Max+64 {
		t.Errorf("%d bytes left", len(got))
	}
	if s := strings.Repeat("x", Max); Escape(s) != s {
		t.Errorf("a string of exactly Max characters was changed")
	}
}
