package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Backend is the trainrun block's backend: where runs are recorded.
type Backend struct {
	Kind    string // "local" (the default: .trainrun/) or "postgres"
	ConnStr string // postgres: a URL or key=value string; "" leaves it to the PG* variables
	Project string // postgres: the project's name; "" means the directory's name
}

var backendSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "conn_str"}, {Name: "project"}},
}

// LoadBackend reads the backend block of the configuration in dir, alone:
// commands open the state before (or without) evaluating the rest. The
// block may not refer to anything (variables, locals, functions of the
// environment), so that where the records are is known from the files.
// With no block, the backend is local.
func LoadBackend(dir string) (*Backend, map[string]*hcl.File, hcl.Diagnostics) {
	found, files, diags := settingsBlocks(dir, "backend")
	if diags.HasErrors() {
		return nil, files, diags
	}
	b, diags := decodeBackend(found)
	return b, files, diags
}

// decodeBackend decodes the backend blocks found in the trainrun block
// (more than one is an error). Load checks them with it too, so that
// validate and plan report a broken backend block.
func decodeBackend(found []*hcl.Block) (*Backend, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	b := &Backend{Kind: "local"}
	if len(found) == 0 {
		return b, nil
	}
	if len(found) > 1 {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate backend block",
			Detail:  fmt.Sprintf("A backend block was already declared at %s. A project records its runs in one place.", rangeString(found[0].DefRange)),
			Subject: found[1].DefRange.Ptr()}}
	}
	blk := found[0]
	b.Kind = blk.Labels[0]
	if !slices.Contains([]string{"local", "postgres"}, b.Kind) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown backend kind",
			Detail:  fmt.Sprintf("There is no backend %q: the kinds are \"local\" (the default, .trainrun/) and \"postgres\".", b.Kind),
			Subject: blk.LabelRanges[0].Ptr()}}
	}
	content, d := blk.Body.Content(backendSchema)
	diags = append(diags, d...)
	if content == nil {
		return nil, diags
	}
	for name, dst := range map[string]*string{"conn_str": &b.ConnStr, "project": &b.Project} {
		a := content.Attributes[name]
		if a == nil {
			continue
		}
		if b.Kind == "local" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail: fmt.Sprintf("The local backend takes no %s: it records runs in .trainrun/.", name), Subject: a.NameRange.Ptr()})
			continue
		}
		// No evaluation context: a variable, local or function is an
		// error that says so.
		v, d := a.Expr.Value(nil)
		if d.HasErrors() {
			for _, x := range d {
				x.Detail += " The backend block may not refer to anything: write the value, or leave conn_str out and use the PG* environment variables."
			}
			diags = append(diags, d...)
			continue
		}
		if v.IsNull() || !v.Type().Equals(cty.String) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + name,
				Detail: name + " must be a string.", Subject: a.Expr.Range().Ptr()})
			continue
		}
		*dst = v.AsString()
	}
	if b.Project != "" && !validName(b.Project) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid project name",
			Detail:  fmt.Sprintf("%q is not a valid name. A name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", b.Project),
			Subject: content.Attributes["project"].Expr.Range().Ptr()})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return b, diags
}

// settingsBlocks reads the configuration files in dir and returns the
// blocks of type typ (with one label, the kind) in their trainrun blocks.
// Files that do not parse are passed over: Load reports them.
func settingsBlocks(dir, typ string) ([]*hcl.Block, map[string]*hcl.File, hcl.Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the configuration", Detail: err.Error()}}
	}
	p := hclparse.NewParser()
	var found []*hcl.Block
	for _, e := range entries {
		if e.IsDir() || !IsConfigFile(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		var f *hcl.File
		var d hcl.Diagnostics
		if filepath.Ext(e.Name()) == ".json" {
			f, d = p.ParseJSONFile(path)
		} else {
			f, d = p.ParseHCLFile(path)
		}
		if d.HasErrors() || f == nil {
			continue // Load reports it
		}
		content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "trainrun"}}})
		for _, tb := range content.Blocks {
			c, _, _ := tb.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: typ, LabelNames: []string{"kind"}}}})
			found = append(found, c.Blocks...)
		}
	}
	return found, p.Files(), nil
}
