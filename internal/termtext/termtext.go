// Package termtext makes text that trainrun did not write itself (what a
// run reports: metric names, params, log lines, reasons) safe to print on
// a terminal: control characters are shown escaped rather than obeyed, and
// lengths are capped.
//
// A run could otherwise move the cursor, rewrite earlier lines, retitle
// the window or hide text from `status`, `show` or `apply` by writing
// escape sequences into a metric's name, and flood them with a 100 KB one.
package termtext

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Max is the most characters of one string shown; the rest is cut, with a
// note saying how much.
const Max = 512

// Escape returns s for one line of a terminal: each control character
// (C0 and C1, DEL, a newline, a tab, Unicode's bidirectional overrides)
// and each byte that is not UTF-8 is written as Go escapes it
// (\x1b, \n, \u202e, \xff), and s is cut to Max characters.
func Escape(s string) string { return escape(s, false) }

// EscapeLines is Escape that keeps newlines: for text shown as several
// lines (a reason joining several errors).
func EscapeLines(s string) string { return escape(s, true) }

func escape(s string, keepNewlines bool) string {
	if clean(s, keepNewlines) {
		return s
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); {
		if n == Max {
			fmt.Fprintf(&b, "… [%d more bytes not shown]", len(s)-i)
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNewlines:
			b.WriteByte('\n')
		case unsafe(r):
			q := strconv.QuoteRuneToASCII(r) // '\x1b'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
		n++
	}
	return b.String()
}

// clean reports whether s needs no change: short, printable ASCII.
func clean(s string, keepNewlines bool) bool {
	if len(s) > Max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == 0x7f || c < 0x20 && !(c == '\n' && keepNewlines) {
			return false
		}
	}
	return true
}

// unsafe reports whether a terminal may act on r rather than show it.
func unsafe(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
		return true // bidirectional controls reorder what is shown
	}
	return !unicode.IsPrint(r) && r != ' '
}
