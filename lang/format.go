package lang

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL layout, as `terraform fmt` writes it.
// When src has syntax errors it returns them and no output. It is meant for
// native syntax (.hcl) files; JSON files are left as they are.
func Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	if d := tooDeep(filename, src, false); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	_, diags := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}
