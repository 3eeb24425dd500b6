package lang

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Remote is the trainrun block's remote: where snapshots and collected
// outputs are shared (SPEC §9).
type Remote struct {
	Kind  string               // "dir", "ssh" or "s3"
	Attrs map[string]cty.Value // the block's attributes, literal values
}

// remoteAttrs are the attributes each remote kind takes; all strings but
// port.
var remoteAttrs = map[string][]string{
	"dir": {"path"},
	// How to reach the machine is compute "ssh"'s: ~/.ssh/config, the
	// agent, key files, known_hosts or host_key.
	"ssh": {"host", "port", "user", "path", "private_key_file", "known_hosts_file", "host_key", "connect_timeout"},
	// Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_SESSION_TOKEN.
	"s3": {"bucket", "prefix", "endpoint", "region"},
}

// remoteRequired are the attributes a kind cannot do without.
var remoteRequired = map[string][]string{
	"dir": {"path"},
	"ssh": {"host", "path"},
	"s3":  {"bucket"},
}

// LoadRemote reads the remote block of the configuration in dir, alone, as
// LoadBackend reads the backend block: it may not refer to anything, and
// credentials are never in it (the S3 ones come from the standard AWS_*
// variables, SSH's from the agent or key files). With no block it returns
// nil.
func LoadRemote(dir string) (*Remote, map[string]*hcl.File, hcl.Diagnostics) {
	found, files, diags := settingsBlocks(dir, "remote")
	if diags.HasErrors() || len(found) == 0 {
		return nil, files, diags
	}
	r, diags := decodeRemote(found)
	return r, files, diags
}

// decodeRemote decodes the remote blocks found in the trainrun block (more
// than one is an error); nil when there is none. Load checks them with it
// too, so that validate and plan report a broken remote block.
func decodeRemote(found []*hcl.Block) (*Remote, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if len(found) == 0 {
		return nil, nil
	}
	if len(found) > 1 {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate remote block",
			Detail:  fmt.Sprintf("A remote block was already declared at %s. A project shares its content in one place.", rangeString(found[0].DefRange)),
			Subject: found[1].DefRange.Ptr()}}
	}
	blk := found[0]
	r := &Remote{Kind: blk.Labels[0], Attrs: map[string]cty.Value{}}
	names, ok := remoteAttrs[r.Kind]
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown remote kind",
			Detail:  fmt.Sprintf("There is no remote %q: the kinds are \"dir\", \"ssh\" and \"s3\".", r.Kind),
			Subject: blk.LabelRanges[0].Ptr()}}
	}
	schema := &hcl.BodySchema{}
	for _, n := range names {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: n})
	}
	content, d := blk.Body.Content(schema)
	diags = append(diags, d...)
	if content == nil {
		return nil, diags
	}
	for _, name := range sortedAttrNames(content.Attributes) {
		a := content.Attributes[name]
		v, d := a.Expr.Value(nil)
		if d.HasErrors() {
			for _, x := range d {
				x.Detail += " The remote block may not refer to anything: write the value. Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; the SSH agent or key files), never from the block."
			}
			diags = append(diags, d...)
			continue
		}
		want := cty.String
		if name == "port" {
			want = cty.Number
		}
		if v.IsNull() || !v.Type().Equals(want) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + name,
				Detail: fmt.Sprintf("%s must be a %s.", name, strings.ToLower(want.FriendlyName())), Subject: a.Expr.Range().Ptr()})
			continue
		}
		if want == cty.String && (v.AsString() == "" || strings.IndexByte(v.AsString(), 0) >= 0) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + name,
				Detail: name + " must not be empty.", Subject: a.Expr.Range().Ptr()})
			continue
		}
		r.Attrs[name] = v
	}
	for _, name := range remoteRequired[r.Kind] {
		if _, ok := content.Attributes[name]; !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing " + name,
				Detail: fmt.Sprintf("A remote %q needs %s.", r.Kind, name), Subject: blk.DefRange.Ptr()})
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return r, diags
}

// String returns the attribute name, or "" when it is not set.
func (r *Remote) String(name string) string {
	v, ok := r.Attrs[name]
	if !ok || v.IsNull() || !v.Type().Equals(cty.String) {
		return ""
	}
	return v.AsString()
}

func sortedAttrNames(m hcl.Attributes) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return slices.Clip(names)
}
