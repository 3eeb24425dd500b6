package lang

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics writes diags for a person: each with its file:line,col,
// the source lines with the range marked, and what to do. files are the
// sources to quote (Config.Files).
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) error {
	// Width 0: no wrapping, so that each sentence stays on one line for
	// terminals, logs and scripts alike.
	return hcl.NewDiagnosticTextWriter(w, files, 0, color).WriteDiagnostics(diags)
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
	s := &snippet{
		Code:                 string(bytes.TrimRight(src[start:end], "\r")),
		StartLine:            r.Start.Line,
		HighlightStartOffset: r.Start.Byte - start,
		HighlightEndOffset:   min(r.End.Byte-start, end-start),
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
	return append(b, '\n')
}
