package lang

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// MinRedactable is the length, in characters, of the shortest secret that
// can be hidden in text a run prints. A shorter one ("e", "pw1") cannot:
// replacing it wherever it stands would turn "epoch 10" into
// "(sensitive)poch 10" and still tell the value. Such secrets are withheld
// where trainrun itself shows them (plans, state, the values of params),
// but not looked for in logs and messages; the loader warns about them.
const MinRedactable = 4

// Redactable returns the secrets long enough to be redacted from free text
// (see MinRedactable).
func Redactable(secrets []string) []string {
	var long []string
	for _, s := range secrets {
		if utf8.RuneCountInString(s) >= MinRedactable {
			long = append(long, s)
		}
	}
	return long
}

// A Redactor replaces secrets, in any of the forms programs print them, by
// "(sensitive)". Besides each secret as it is, it finds it as these write
// it between their quotes, once or quoted again (a message quoting a
// quoted value): Go's %q and %+q, JSON (with or without HTML or non-ASCII
// escapes, Python's json.dumps), HCL, Python's repr() of str and bytes
// (print(sys.argv), a logged list or dict, surrogate escapes of bytes that
// are not UTF-8), shell quoting ('\” and '"'"' for a quote, backslashes,
// $'…' with octal or hex escapes), C-style escapes and URL encoding (%XX,
// + for a space). Each character of a secret may be written in any of
// these ways, independently: the forms are not listed, but matched. Letters
// and digits are matched only as they are: no quoting escapes them (an
// encoder that percent-encodes letters is not caught), and it lets text
// without a secret's longest run of them be passed over quickly.
//
// "(sensitive)" itself is never matched inside: redacting redacted text
// again changes nothing.
type Redactor struct {
	re  *regexp.Regexp // nil: no secrets
	max int            // the longest match, in bytes
	// anchors hold, for each secret, a part every form of it has as it
	// is: its longest run of letters and digits, which no quoting
	// escapes. Text without any is searched no further. Nil when a secret
	// has none: then all text is searched.
	anchors [][]byte
}

// find returns where the secrets are in b, in order: each match holds one
// of the anchors, so only the stretches around them are searched.
func (r *Redactor) find(b []byte) [][]int {
	if r.anchors == nil {
		return r.re.FindAllIndex(b, -1)
	}
	type window struct{ start, end int }
	var ws []window
	for _, a := range r.anchors {
		for i := 0; ; {
			j := bytes.Index(b[i:], a)
			if j < 0 {
				break
			}
			p := i + j
			// Back far enough to see a "(sensitive)" the match may start in.
			ws = append(ws, window{max(0, p-r.max-len(Redacted)), min(len(b), p+len(a)+r.max)})
			i = p + 1
		}
	}
	if len(ws) == 0 {
		return nil
	}
	slices.SortFunc(ws, func(x, y window) int { return x.start - y.start })
	merged := ws[:1]
	for _, w := range ws[1:] {
		if last := &merged[len(merged)-1]; w.start <= last.end {
			last.end = max(last.end, w.end)
		} else {
			merged = append(merged, w)
		}
	}
	var out [][]int
	for _, w := range merged {
		for _, m := range r.re.FindAllIndex(b[w.start:w.end], -1) {
			out = append(out, []int{w.start + m[0], w.start + m[1]})
		}
	}
	return out
}

// anchor is the longest run of ASCII letters and digits in s.
func anchor(s string) string {
	best, start := "", -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isAlnum(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start > len(best) {
			best = s[start:i]
		}
		start = -1
	}
	return best
}

// longSecret is the length beyond which a secret (a key, a certificate) is
// looked for only in its listed SecretForms, not character by character.
const longSecret = 256

// NewRedactor returns the redactor of secrets; empty ones are ignored.
func NewRedactor(secrets []string) *Redactor {
	alts := []string{regexp.QuoteMeta(Redacted)}
	longest := len(Redacted)
	var long []string
	var anchors [][]byte
	anchored := true
	for _, s := range secrets {
		if s != "" {
			a := anchor(s)
			anchored = anchored && a != ""
			anchors = append(anchors, []byte(a))
		}
		switch {
		case s == "":
		case len(s) > longSecret:
			long = append(long, s)
		default:
			alts = append(alts, secretPattern(s))
			longest = max(longest, maxEncoded(s))
		}
	}
	for _, f := range SecretForms(long) {
		alts = append(alts, regexp.QuoteMeta(f))
		longest = max(longest, len(f))
	}
	if len(alts) == 1 {
		return &Redactor{}
	}
	re, err := regexp.Compile(strings.Join(alts, "|"))
	if err != nil {
		// Not expected: the patterns are built from quoted parts. The
		// listed forms are still found.
		alts = alts[:1]
		for _, f := range SecretForms(secrets) {
			alts = append(alts, regexp.QuoteMeta(f))
			longest = max(longest, len(f))
		}
		re = regexp.MustCompile(strings.Join(alts, "|"))
	}
	re.Longest()
	if !anchored {
		anchors = nil
	}
	return &Redactor{re: re, max: longest, anchors: anchors}
}

// Redact returns s with every secret replaced.
func (r *Redactor) Redact(s string) string {
	if r == nil || r.re == nil {
		return s
	}
	matches := r.find([]byte(s))
	if len(matches) == 0 {
		return s
	}
	var b strings.Builder
	i := 0
	for _, m := range matches {
		b.WriteString(s[i:m[0]])
		b.WriteString(Redacted)
		i = m[1]
	}
	b.WriteString(s[i:])
	return b.String()
}

// Copy copies src to dst with every secret replaced, in bounded memory: it
// holds back the last bytes read that a secret may still be starting in,
// so that a secret split across reads is found.
func (r *Redactor) Copy(dst io.Writer, src io.Reader) error {
	if r == nil || r.re == nil {
		_, err := io.Copy(dst, src)
		return err
	}
	const chunkSize = 64 << 10
	buf := make([]byte, 0, chunkSize+r.max)
	chunk := make([]byte, chunkSize)
	for {
		n, rerr := src.Read(chunk)
		buf = append(buf, chunk[:n]...)
		eof := errors.Is(rerr, io.EOF)
		if rerr != nil && !eof {
			return rerr
		}
		// A match must start before limit to be known complete.
		limit := len(buf)
		if !eof {
			limit = max(0, len(buf)-(r.max-1))
		}
		i := 0
		for _, m := range r.find(buf) {
			if m[0] >= limit {
				break
			}
			if _, err := dst.Write(buf[i:m[0]]); err != nil {
				return err
			}
			if _, err := io.WriteString(dst, Redacted); err != nil {
				return err
			}
			i = m[1]
		}
		if i < limit {
			if _, err := dst.Write(buf[i:limit]); err != nil {
				return err
			}
			i = limit
		}
		buf = append(buf[:0], buf[i:]...)
		if eof {
			return nil
		}
	}
}

// bs is one backslash, or the several a quoting quoted again writes.
const bs = `\\{1,4}`

// maxEncoded bounds the length of the longest form secretPattern matches.
func maxEncoded(s string) int { return 32*len(s) + 16 }

// secretPattern is the regular expression of s in every form: the
// alternatives of each of its characters, one after the other.
func secretPattern(s string) string {
	var b strings.Builder
	b.WriteString("(?:")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var alts []string
		switch {
		case r == utf8.RuneError && size == 1:
			alts = invalidByte(s[i])
		case r < utf8.RuneSelf:
			alts = asciiChar(byte(r))
		default:
			alts = nonASCII(r, s[i:i+size])
		}
		b.WriteString("(?:" + strings.Join(alts, "|") + ")")
		i += size
	}
	b.WriteString(")")
	return b.String()
}

// hexPat is v in width hexadecimal digits, of either case.
func hexPat(v rune, width int) string {
	var b strings.Builder
	for _, c := range fmt.Sprintf("%0*x", width, v) {
		if c >= 'a' && c <= 'f' {
			fmt.Fprintf(&b, "[%c%c]", c, c-'a'+'A')
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// byteEscapes are the escapes of one byte: C and Python \xhh, octal \ooo
// (bash's $'…', git), URL %hh.
func byteEscapes(c byte) []string {
	return []string{bs + "x" + hexPat(rune(c), 2), bs + fmt.Sprintf("%03o", c), "%" + hexPat(rune(c), 2)}
}

// named are the one-letter escapes of control characters.
var named = map[byte]string{0: "0", '\a': "a", '\b': "b", '\t': "t", '\n': "n", '\v': "v", '\f': "f", '\r': "r", 0x1b: "e"}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func asciiChar(c byte) []string {
	raw := regexp.QuoteMeta(string(rune(c)))
	if c < 0x20 || c == 0x7f {
		raw = fmt.Sprintf(`\x{%02x}`, c)
	}
	if isAlnum(c) {
		return []string{raw} // as it is in every form: see Redactor.anchors
	}
	alts := []string{raw, "%" + hexPat(rune(c), 2)}
	alts = append(alts, byteEscapes(c)...)
	alts = append(alts, bs+"u00"+hexPat(rune(c), 2), bs+`u\{`+hexPat(rune(c), 2)+`\}`)
	if n, ok := named[c]; ok {
		alts = append(alts, bs+n)
	}
	if c >= 0x20 && c < 0x7f {
		alts = append(alts, bs+raw) // \" \\ \' \$, shell's backslashes
	}
	switch c {
	case '\'':
		// Shell quoting ends the quotes around it: '\'' and '"'"' (as
		// Python's shlex.quote writes it), perhaps in JSON.
		// Each quote of these may be escaped in turn (repr of shlex.quote).
		const q, dq = `\\{0,4}'`, `\\{0,4}"`
		alts = append(alts, q+bs+`'`+q, q+dq+q+dq+q)
	case ' ':
		alts = append(alts, `\+`)
	case '$':
		alts = append(alts, `\$\$`) // HCL's $${
	case '%':
		alts = append(alts, `%%`) // HCL's %%{
	}
	return alts
}

func nonASCII(r rune, enc string) []string {
	alts := []string{regexp.QuoteMeta(enc), bs + `u\{0{0,3}` + hexPat(r, 0) + `\}`, bs + "U" + hexPat(r, 8)}
	if r <= 0xff {
		alts = append(alts, bs+"x"+hexPat(r, 2)) // Python's ascii(), %a
	}
	if r <= 0xffff {
		alts = append(alts, bs+"u"+hexPat(r, 4))
	} else {
		r1, r2 := surrogates(r)
		alts = append(alts, bs+"u"+hexPat(r1, 4)+bs+"u"+hexPat(r2, 4))
	}
	// Byte by byte: Python's bytes repr, $'…', URL encoding.
	var seq strings.Builder
	for i := 0; i < len(enc); i++ {
		seq.WriteString("(?:" + strings.Join(byteEscapes(enc[i]), "|") + ")")
	}
	return append(alts, seq.String())
}

// invalidByte is a byte that is not UTF-8: as it is (which a regular
// expression sees as U+FFFD), escaped, or as Python's surrogate escape
// (sys.argv holds such a byte as U+DC80+byte).
func invalidByte(c byte) []string {
	return append(byteEscapes(c), `\x{fffd}`, bs+"u"+hexPat(0xfffd, 4), bs+"[uU][dD][cC]"+hexPat(rune(c), 2))
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
