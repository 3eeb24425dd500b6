package lang

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// maxNesting bounds how deeply brackets, braces, parentheses and template
// interpolations may nest in a file. HCL's parsers recurse once per level,
// and Go cannot recover from a stack overflow: a file nested 100,000 deep
// would crash trainrun instead of being reported. Configurations people
// write nest a handful of levels.
const maxNesting = 1000

// parseSource parses src as HCL native syntax, or as HCL's JSON syntax when
// name ends in .json, after checking that it does not nest too deeply. A
// file refused for its nesting is returned with only its bytes, so that the
// diagnostic can quote it.
func parseSource(p *hclparse.Parser, name string, src []byte) (*hcl.File, hcl.Diagnostics) {
	isJSON := strings.HasSuffix(name, ".json")
	if d := tooDeep(name, src, isJSON); d != nil {
		return &hcl.File{Bytes: src}, hcl.Diagnostics{d}
	}
	if isJSON {
		return p.ParseJSON(src, name)
	}
	return p.ParseHCL(src, name)
}

// tooDeep reports where src first nests deeper than maxNesting, or nil.
func tooDeep(name string, src []byte, isJSON bool) *hcl.Diagnostic {
	// Nesting needs an opening character per level: most files have too
	// few of them to be worth lexing.
	opens := 0
	for _, c := range []byte("{[(") {
		opens += bytes.Count(src, []byte{c})
	}
	if opens <= maxNesting {
		return nil
	}
	var rng hcl.Range
	var found bool
	if isJSON {
		rng, found = tooDeepJSON(name, src)
	} else {
		rng, found = tooDeepHCL(name, src)
	}
	if !found {
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Nesting too deep",
		Detail: fmt.Sprintf("Brackets, braces, parentheses and ${…} nest more than %d levels deep here. "+
			"Flatten the value, or build it with locals and functions such as merge and concat.", maxNesting),
		Subject: &rng,
	}
}

// tooDeepHCL counts nesting over native-syntax tokens, so that brackets
// inside strings and comments do not count. The lexer keeps its own stack
// and does not recurse.
func tooDeepHCL(name string, src []byte) (hcl.Range, bool) {
	depth := 0
	tokens, _ := hclsyntax.LexConfig(src, name, hcl.InitialPos) // the parser reports bad tokens
	for _, t := range tokens {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
			if depth > maxNesting {
				return t.Range, true
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd:
			depth = max(depth-1, 0)
		}
	}
	return hcl.Range{}, false
}

// tooDeepJSON counts nesting of objects and arrays outside JSON strings.
func tooDeepJSON(name string, src []byte) (hcl.Range, bool) {
	depth := 0
	inString, escaped := false, false
	for i, c := range src {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > maxNesting {
				start := posAt(src, i)
				end := hcl.Pos{Line: start.Line, Column: start.Column + 1, Byte: i + 1}
				return hcl.Range{Filename: name, Start: start, End: end}, true
			}
		case c == '}' || c == ']':
			depth = max(depth-1, 0)
		}
	}
	return hcl.Range{}, false
}

// posAt is the line and column (in characters) of byte offset off in src.
func posAt(src []byte, off int) hcl.Pos {
	line := 1 + bytes.Count(src[:off], []byte{'\n'})
	lineStart := bytes.LastIndexByte(src[:off], '\n') + 1
	return hcl.Pos{Line: line, Column: 1 + utf8.RuneCount(src[lineStart:off]), Byte: off}
}

// CheckDataNesting returns an error when src, JSON or YAML data (a metrics
// file, the argument of jsondecode or yamldecode), may nest deeper than
// maxNesting: their decoders recurse once per level, and a 2 MB file
// nested a million deep cost seconds and hundreds of MB before it was
// refused, or overflowed the stack. The check is a linear scan, and errs
// on the side of refusing: for YAML, a line's indentation and the "- "
// that open sequences on it count as levels, with the flow brackets around
// it.
func CheckDataNesting(src []byte, yaml bool) error {
	if len(src) <= maxNesting {
		return nil // a level takes a character at least
	}
	depth, line := 0, 1
	quote := byte(0) // in a string quoted with it
	escaped := false
	atLineStart := true
	for i := 0; i < len(src); i++ {
		c := src[i]
		if atLineStart && yaml && quote == 0 {
			atLineStart = false
			j := i
			for j < len(src) && src[j] == ' ' {
				j++
			}
			block := j - i
			for j+1 < len(src) && (src[j] == '-' || src[j] == '?') && (src[j+1] == ' ' || src[j+1] == '\t') {
				block++
				j += 2
				for j < len(src) && src[j] == ' ' {
					j++
				}
			}
			if block+depth > maxNesting {
				return fmt.Errorf("line %d nests more than %d levels deep", line, maxNesting)
			}
		}
		switch {
		case c == '\n':
			line++
			atLineStart = true
			if quote == '\'' && !yaml {
				quote = 0
			}
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case c == '\\' && quote == '"':
				escaped = true
			case c == quote:
				quote = 0
			}
		case c == '"' || c == '\'' && yaml:
			quote = c
		case c == '{' || c == '[':
			depth++
			if depth > maxNesting {
				return fmt.Errorf("line %d nests more than %d levels deep", line, maxNesting)
			}
		case c == '}' || c == ']':
			depth = max(depth-1, 0)
		}
	}
	return nil
}
