package lang

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics writes diags for a person, in the layout of hcl's
// diagnostic text writer (hcl.NewDiagnosticTextWriter) with two additions
// SPEC §7 asks for: the position is file:line,column, and the range is
// marked even without color (a ^^^ line under it). files are the sources to
// quote (Config.Files). Nothing is wrapped, so each sentence stays on one
// line for terminals, logs and scripts alike.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) error {
	var b bytes.Buffer
	for _, d := range diags {
		if d == nil {
			continue
		}
		writeDiagnostic(&b, files, d, color)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write diagnostics: %w", err)
	}
	return nil
}

func writeDiagnostic(b *bytes.Buffer, files map[string]*hcl.File, d *hcl.Diagnostic, color bool) {
	sev, code := "Error", "\x1b[1;31m"
	if d.Severity == hcl.DiagWarning {
		sev, code = "Warning", "\x1b[1;33m"
	}
	if color {
		fmt.Fprintf(b, "%s%s\x1b[0m: %s\n\n", code, sev, d.Summary)
	} else {
		fmt.Fprintf(b, "%s: %s\n\n", sev, d.Summary)
	}
	if r := d.Subject; r != nil {
		f := files[r.Filename]
		if f == nil || f.Bytes == nil {
			fmt.Fprintf(b, "  on %s:%d,%d:\n  (source code not available)\n\n", r.Filename, r.Start.Line, r.Start.Column)
		} else {
			writeSnippet(b, f, d, color)
		}
	}
	if d.Detail != "" {
		fmt.Fprintf(b, "%s\n\n", d.Detail)
	}
}

// writeSnippet writes the "on" line and the source lines of the subject
// (and context), with the subject highlighted.
func writeSnippet(b *bytes.Buffer, f *hcl.File, d *hcl.Diagnostic, color bool) {
	r := *d.Subject
	in := ""
	if cs, ok := f.Nav.(interface{ ContextString(offset int) string }); ok {
		if c := cs.ContextString(r.Start.Byte); c != "" {
			in = " in " + c
		}
	}
	fmt.Fprintf(b, "  on %s:%d,%d%s:\n", r.Filename, r.Start.Line, r.Start.Column, in)

	snip, mark := r, r
	if d.Context != nil {
		snip = hcl.RangeOver(snip, *d.Context)
	}
	// An empty range cannot be shown; widen it to one character.
	if snip.Empty() {
		snip.End.Byte++
		snip.End.Column++
	}
	if mark.Empty() {
		mark.End.Byte++
		mark.End.Column++
	}
	src, masks := f.Bytes, spansOf(f)
	sc := hcl.NewRangeScanner(src, r.Filename, bufio.ScanLines)
	marked := false
	for sc.Scan() {
		line := sc.Range()
		if !line.Overlaps(snip) {
			continue
		}
		// The line as shown: a masked value is "(sensitive)".
		v := newView(src, line.Start.Byte, line.Start.Byte+len(sc.Bytes()), masks)
		_, hl, _ := line.PartitionAround(mark)
		if hl.Empty() {
			fmt.Fprintf(b, "%4d: %s\n", line.Start.Line, clipRight(v.text, snippetRunes))
			// A range that starts where the line's text ends (on its
			// newline: "command = " followed by nothing) has no text to
			// underline; mark the place where something is missing.
			if !marked && mark.Start.Byte == line.End.Byte {
				writeMarks(b, []byte(v.text), 1)
				marked = true
			}
			continue
		}
		marked = true
		hs, he := v.pos(hl.Start.Byte, false), v.pos(hl.End.Byte, true)
		// A line of a generated file may be megabytes long: around the
		// mark, enough to recognize it.
		pre := []byte(clipLeft(v.text[:hs], snippetRunes/4))
		text := []byte(clipRight(v.text[hs:he], snippetRunes/2))
		post := []byte(clipRight(v.text[he:], snippetRunes/4))
		if color {
			fmt.Fprintf(b, "%4d: %s\x1b[1;4m%s\x1b[0m%s\n", line.Start.Line, pre, text, post)
			continue
		}
		fmt.Fprintf(b, "%4d: %s%s%s\n", line.Start.Line, pre, text, post)
		writeMarks(b, pre, utf8.RuneCount(text))
	}
	if !marked && mark.Start.Byte >= len(src) && len(src) > 0 && src[len(src)-1] == '\n' {
		// The range is at the end of a file that ends with a newline:
		// on the empty last line, which the scanner does not return.
		fmt.Fprintf(b, "%4d:\n", mark.Start.Line)
		writeMarks(b, nil, 1)
	}
	b.WriteByte('\n')
}

// snippetRunes is about how much of one source line a snippet shows.
const snippetRunes = 240

// clipRight keeps the first n runes of s, "…" standing for the rest.
func clipRight(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// clipLeft keeps the last n runes of s, "…" standing for the rest.
func clipLeft(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := len(s)
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return "…" + s[i:]
}

// writeMarks writes the ^^^ line under n characters that follow pre on
// their line, keeping pre's tabs so that the marks line up under the text.
func writeMarks(b *bytes.Buffer, pre []byte, n int) {
	b.WriteString("      ")
	for _, c := range string(pre) {
		if c == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString(strings.Repeat("^", max(n, 1)))
	b.WriteByte('\n')
}

// snippet is what DiagnosticsJSON shows of the source; Load attaches it to
// each diagnostic (in Extra) while it still has the files.
type snippet struct {
	Context              *string `json:"context"`
	Code                 string  `json:"code"`
	StartLine            int     `json:"start_line"`
	HighlightStartOffset int     `json:"highlight_start_offset"`
	HighlightEndOffset   int     `json:"highlight_end_offset"`
	Values               []any   `json:"values"`

	inner any // the Extra it replaced
}

// UnwrapDiagnosticExtra lets hcl.DiagnosticExtra find the Extra hcl set.
func (s *snippet) UnwrapDiagnosticExtra() any { return s.inner }

// snippetFor cuts the lines of d's subject out of its file, as Terraform's
// JSON diagnostics do.
func snippetFor(d *hcl.Diagnostic, files map[string]*hcl.File) *snippet {
	if d.Subject == nil {
		return nil
	}
	f := files[d.Subject.Filename]
	if f == nil || f.Bytes == nil {
		return nil
	}
	src := f.Bytes
	r := *d.Subject
	if r.Start.Byte < 0 || r.End.Byte < r.Start.Byte || r.End.Byte > len(src) {
		return nil
	}
	start := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	end := len(src)
	if i := bytes.IndexByte(src[r.End.Byte:], '\n'); i >= 0 {
		end = r.End.Byte + i
	}
	// A range ending just after a newline ends on the previous line.
	if r.End.Byte > r.Start.Byte && r.End.Byte > 0 && src[r.End.Byte-1] == '\n' {
		end = r.End.Byte - 1
	}
	if end < start {
		end = start
	}
	v := newView(src, start, end, spansOf(f)) // a masked value is "(sensitive)"
	s := &snippet{
		Code:                 strings.TrimRight(v.text, "\r"),
		StartLine:            r.Start.Line,
		HighlightStartOffset: v.pos(r.Start.Byte, false),
		HighlightEndOffset:   v.pos(min(r.End.Byte, end), true),
		Values:               []any{},
		inner:                d.Extra,
	}
	if s.HighlightEndOffset < s.HighlightStartOffset {
		s.HighlightEndOffset = s.HighlightStartOffset
	}
	if cs, ok := f.Nav.(interface{ ContextString(offset int) string }); ok {
		if c := cs.ContextString(r.Start.Byte); c != "" {
			s.Context = &c
		}
	}
	return s
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonDiag struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *jsonRange `json:"range,omitempty"`
	Snippet  *snippet   `json:"snippet,omitempty"`
}

type jsonDiags struct {
	FormatVersion string     `json:"format_version"`
	Valid         bool       `json:"valid"`
	ErrorCount    int        `json:"error_count"`
	WarningCount  int        `json:"warning_count"`
	Diagnostics   []jsonDiag `json:"diagnostics"`
}

// DiagnosticsJSON renders diags as `terraform validate -json` does. The
// source snippet is included for diagnostics that came from Load.
func DiagnosticsJSON(diags hcl.Diagnostics) []byte {
	out := jsonDiags{FormatVersion: "1.0", Diagnostics: []jsonDiag{}}
	for _, d := range diags {
		if d == nil {
			continue
		}
		jd := jsonDiag{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
			out.WarningCount++
		} else {
			out.ErrorCount++
		}
		if r := d.Subject; r != nil {
			jd.Range = &jsonRange{
				Filename: r.Filename,
				Start:    jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:      jsonPos{r.End.Line, r.End.Column, r.End.Byte},
			}
		}
		if s, ok := d.Extra.(*snippet); ok {
			jd.Snippet = s
		}
		out.Diagnostics = append(out.Diagnostics, jd)
	}
	out.Valid = out.ErrorCount == 0
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		// Only strings and ints: cannot happen.
		return []byte(`{"format_version":"1.0","valid":false,"error_count":1,"warning_count":0,"diagnostics":[]}`)
	}
	return b
}
