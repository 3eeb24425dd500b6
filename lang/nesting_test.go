package lang

import (
	"strings"
	"testing"
)

// nested wraps inner in n levels of open and close.
func nested(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// Deeply nested input used to overflow the parser's stack, which Go cannot
// recover from: trainrun crashed instead of reporting it.
func TestNestingTooDeep(t *testing.T) {
	const deep = 5 * maxNesting
	tests := []struct {
		name  string
		files map[string]string
		vars  []string // -var-file names
		want  string   // position of the diagnostic
	}{
		{"list", one("locals { x = " + nested("[", "", "]", deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"object", one("locals { x = " + nested("{a=", "1", "}", deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"parens", one("locals { x = " + nested("(", "1", ")", deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"calls", one("locals { x = " + nested("abs(", "1", ")", deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"interpolation", one("locals { x = " + nested(`"${`, "1", `}"`, deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"blocks", one(`experiment "x" {` + "\n" + nested("resources {\n", "", "}\n", deep) + "}\n"), nil, "trainrun.hcl:1001,11"},
		{"json", map[string]string{"x.trainrun.json": `{"locals": {"x": ` + nested("[", "", "]", deep) + `}}`}, nil, "x.trainrun.json:1,"},
		{"var-file", map[string]string{
			"trainrun.hcl": "variable \"x\" {\n  default = 1\n}\n",
			"x.tfvars":     "x = " + nested("[", "", "]", deep) + "\n",
		}, []string{"x.tfvars"}, "x.tfvars:1,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.VarFiles = tt.vars
			cfg, diags := loadErrors(t, tt.files, opts)
			out := renderDiags(cfg, diags)
			if !strings.Contains(out, "Error: Nesting too deep") || !strings.Contains(out, "on "+tt.want) {
				t.Errorf("want a nesting error at %s, got:\n%.2000s", tt.want, out)
			}
		})
	}
}

// Brackets in strings, comments and heredocs do not nest, and nesting up
// to the limit is fine.
func TestNestingWithinLimit(t *testing.T) {
	brackets := strings.Repeat("[{(", maxNesting)
	src := `
# ` + brackets + `
/* ` + brackets + ` */
compute "local" "l" {}
locals {
  deep = ` + nested("[", "1", "]", maxNesting-1) + `
  text = "` + brackets + `${"` + brackets + `"}"
  doc  = <<EOT
` + brackets + `
EOT
}
experiment "e" {
  compute = compute.l
  command = ["echo", length(local.deep), local.text, local.doc]
}
`
	mustLoad(t, one(src), testOptions())
	if _, diags := Format("trainrun.hcl", []byte(strings.TrimLeft(src, "\n"))); diags.HasErrors() {
		t.Fatalf("Format: %v", diags)
	}
}

func TestFormatNestingTooDeep(t *testing.T) {
	src := "locals { x = " + nested("[", "", "]", 5*maxNesting) + " }\n"
	out, diags := Format("trainrun.hcl", []byte(src))
	if out != nil || !diags.HasErrors() || diags[0].Summary != "Nesting too deep" {
		t.Fatalf("Format = %d bytes, %v; want a nesting error", len(out), diags)
	}
}
