package lang

import (
	"bytes"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A var-file is the one source that holds sensitive values, and
// diagnostics quote sources. So the loader masks, in the copy of each
// var-file that Config.Files keeps:
//
//   - every secret, in any of its SecretForms, wherever it stands;
//   - the value of every assignment to a variable that is or may be
//     sensitive, whether or not it could be evaluated (`token = hunter2`
//     is an error, and its value is still secret): declared sensitive,
//     declared in a block that could not be read, or, when the
//     configuration has such a variable, not declared (a misspelt name);
//   - when the file has a syntax error and some variable may be sensitive,
//     everything after the line of the first error, where the structure of
//     the file (which value is whose) is no longer known.
//
// Masked bytes are '*' in hcl.File.Bytes, so that ranges stay valid and
// nothing that renders the file can show the value; the diagnostic
// writers of this package show each masked stretch as "(sensitive)".

// span is the byte range [start, end) of a source.
type span struct{ start, end int }

// maskedNav is the Nav of a masked var-file: the file's own navigation,
// and where its masks are.
type maskedNav struct {
	inner any
	spans []span // sorted, disjoint, each within one line and not blank
}

func (n *maskedNav) ContextString(offset int) string {
	if cs, ok := n.inner.(interface{ ContextString(int) string }); ok {
		return cs.ContextString(offset)
	}
	return ""
}

func (n *maskedNav) ContextDefRange(offset int) hcl.Range {
	if cd, ok := n.inner.(interface{ ContextDefRange(int) hcl.Range }); ok {
		return cd.ContextDefRange(offset)
	}
	return hcl.Range{}
}

// maskFile returns f with the stretches of regions, and every occurrence of
// forms, masked. f is not changed.
func maskFile(f *hcl.File, regions []span, forms []string) *hcl.File {
	src := f.Bytes
	for _, form := range forms {
		for i := 0; ; {
			j := bytes.Index(src[i:], []byte(form))
			if j < 0 {
				break
			}
			regions = append(regions, span{i + j, i + j + len(form)})
			i += j + len(form)
		}
	}
	spans := lineSpans(src, regions)
	if len(spans) == 0 {
		return f
	}
	masked := bytes.Clone(src)
	for _, s := range spans {
		for i := s.start; i < s.end; i++ {
			masked[i] = '*'
		}
	}
	return &hcl.File{Body: f.Body, Bytes: masked, Nav: &maskedNav{inner: f.Nav, spans: spans}}
}

// lineSpans merges regions and cuts them at line ends, trimming the blanks
// of each piece: the masks as the lines show them.
func lineSpans(src []byte, regions []span) []span {
	slices.SortFunc(regions, func(a, b span) int { return a.start - b.start })
	var merged []span
	for _, r := range regions {
		r.start, r.end = max(r.start, 0), min(r.end, len(src))
		if r.start >= r.end {
			continue
		}
		if n := len(merged); n > 0 && r.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, r.end)
			continue
		}
		merged = append(merged, r)
	}
	var out []span
	for _, r := range merged {
		for start := r.start; start < r.end; {
			end := r.end
			if i := bytes.IndexByte(src[start:end], '\n'); i >= 0 {
				end = start + i
			}
			s, e := start, end
			for s < e && isBlank(src[s]) {
				s++
			}
			for e > s && isBlank(src[e-1]) {
				e--
			}
			if s < e {
				out = append(out, span{s, e})
			}
			start = end + 1
		}
	}
	return out
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// hclValueRegions returns the regions of an HCL var-file to mask: the value
// of each top-level item (an assignment, or a block) whose name is
// sensitive, from after its name to where the next item starts. The file
// is lexed, not parsed, so that it works on a file with syntax errors: a
// heredoc or a bracket left open keeps what follows in the value, which is
// what the parser would make of it too. With junk, what precedes the first
// item is masked too (a value whose name is missing).
func hclValueRegions(src []byte, filename string, sensitive func(name string) bool, junk bool) []span {
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	var regions []span
	open := -1 // where the region being collected starts; -1 for none
	if junk {
		open = 0
	}
	depth, lineStart := 0, true
	for i, t := range toks {
		if depth == 0 && lineStart && t.Type == hclsyntax.TokenIdent {
			if open >= 0 {
				regions = append(regions, span{open, t.Range.Start.Byte})
				open = -1
			}
			if sensitive(string(t.Bytes)) {
				open = t.Range.End.Byte
				if i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenEqual {
					open = toks[i+1].Range.End.Byte
				}
			}
		}
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			depth = max(depth-1, 0)
		}
		// A # or // comment holds the newline that ends its line.
		lineStart = depth == 0 && (t.Type == hclsyntax.TokenNewline ||
			t.Type == hclsyntax.TokenComment && bytes.HasSuffix(t.Bytes, []byte("\n")))
	}
	if open >= 0 {
		regions = append(regions, span{open, len(src)})
	}
	return regions
}

// assignmentLine matches a line that reads as an assignment, whatever the
// lexer made of it: NAME is group 1, and the value starts at the end.
var assignmentLine = regexp.MustCompile(`(?m)^[ \t]*([A-Za-z_][A-Za-z0-9_-]*)[ \t]*=`)

// brokenRegions returns what to mask of a var-file with a syntax error
// (first is where the first error starts, or -1 when none says): every
// line that reads as an assignment to a sensitive name, from its '=' to
// the line's end (the lexer may have taken it for part of a string), and
// everything after the line of the first error.
func brokenRegions(src []byte, first int, sensitive func(name string) bool) []span {
	var regions []span
	for _, m := range assignmentLine.FindAllSubmatchIndex(src, -1) {
		if sensitive(string(src[m[2]:m[3]])) {
			end := len(src)
			if i := bytes.IndexByte(src[m[1]:], '\n'); i >= 0 {
				end = m[1] + i
			}
			regions = append(regions, span{m[1], end})
		}
	}
	after := 0
	if first >= 0 && first <= len(src) {
		after = len(src)
		if i := bytes.IndexByte(src[first:], '\n'); i >= 0 {
			after = first + i
		}
	}
	return append(regions, span{after, len(src)})
}

// firstErrorByte is where the first error of diags starts in filename, or
// -1 when an error has no position there.
func firstErrorByte(diags hcl.Diagnostics, filename string) int {
	first := -1
	for _, d := range diags {
		if d == nil || d.Severity != hcl.DiagError {
			continue
		}
		if d.Subject == nil || d.Subject.Filename != filename {
			return -1
		}
		if first < 0 || d.Subject.Start.Byte < first {
			first = d.Subject.Start.Byte
		}
	}
	return first
}

// view is a stretch of a source as diagnostics show it: each masked span
// shown as "(sensitive)".
type view struct {
	text  string
	from  int
	marks []viewMark
}

// viewMark is a masked span of a view: where it is in the source and in
// the text.
type viewMark struct{ start, end, tstart, tend int }

// newView shows src[from:to], collapsing the parts of spans within it.
func newView(src []byte, from, to int, spans []span) view {
	v := view{from: from}
	if len(spans) == 0 {
		v.text = string(src[from:to])
		return v
	}
	var b strings.Builder
	at := from
	for _, s := range spans {
		start, end := max(s.start, from), min(s.end, to)
		if start >= end {
			continue
		}
		b.Write(src[at:start])
		m := viewMark{start: start, end: end, tstart: b.Len()}
		b.WriteString(Redacted)
		m.tend = b.Len()
		v.marks = append(v.marks, m)
		at = end
	}
	b.Write(src[at:to])
	v.text = b.String()
	return v
}

// pos is where the source offset off is in the text. An offset inside a
// mask is its start, or with end (the end of a range) its end, so that a
// range that touches a mask covers all of "(sensitive)".
func (v view) pos(off int, end bool) int {
	p := off - v.from
	for _, m := range v.marks {
		switch {
		case off <= m.start:
			return p
		case off >= m.end:
			p = m.tend + (off - m.end)
		case end:
			return m.tend
		default:
			return m.tstart
		}
	}
	return min(max(p, 0), len(v.text))
}

// spansOf returns the masks of a file; nil when it has none.
func spansOf(f *hcl.File) []span {
	if n, ok := f.Nav.(*maskedNav); ok {
		return n.spans
	}
	return nil
}
