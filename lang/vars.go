package lang

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// sensitiveMark is the cty mark carried by every value derived from a
// sensitive variable or attribute.
const sensitiveMark = "sensitive"

// varEnvPrefix prefixes the environment variables that set variables.
const varEnvPrefix = "TRAINRUN_VAR_"

type varDecl struct {
	name      string
	block     *hcl.Block
	typ       cty.Type
	defaults  *typeexpr.Defaults
	sensitive bool
	// sensitivityUnknown: the block could not be read whole, so it may
	// say sensitive = true; its values are treated as secret.
	sensitivityUnknown bool
	desc               string
	defAttr            *hcl.Attribute
	value              cty.Value // unmarked; cty.NilVal while unset
	broken             bool      // a diagnostic was reported about its value
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

func (l *loader) declareVariable(b *hcl.Block) {
	name := b.Labels[0]
	content, diags := b.Body.Content(variableSchema)
	l.add(diags)
	if !l.checkName("variable", name, b.LabelRanges[0]) {
		l.declIncomplete = true
		return
	}
	if prev := l.vars[name]; prev != nil {
		l.duplicate("variable", name, prev.block.DefRange, b.DefRange)
		prev.sensitivityUnknown = true // which block holds is not known
		return
	}
	v := &varDecl{name: name, block: b, typ: cty.DynamicPseudoType}
	l.vars[name] = v
	if content == nil || diags.HasErrors() {
		// Its value would only add follow-up errors ("no value") to the
		// one that matters.
		v.broken = true
		v.sensitivityUnknown = true
		return
	}
	if a := content.Attributes["type"]; a != nil {
		ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		l.add(diags)
		if diags.HasErrors() {
			v.broken = true
		} else {
			v.typ, v.defaults = ty, defaults
		}
	}
	if a := content.Attributes["description"]; a != nil {
		if val, ok := l.evalConst(a.Expr); ok {
			if s, ok := l.toString(val, a.Expr.Range(), "description"); ok {
				v.desc = s
			}
		}
	}
	if a := content.Attributes["sensitive"]; a != nil {
		if val, ok := l.evalConst(a.Expr); ok {
			val, err := convert.Convert(val, cty.Bool)
			if err != nil || val.IsNull() || !val.IsKnown() {
				l.errorf(a.Expr.Range().Ptr(), "Invalid value for sensitive", "sensitive must be true or false.")
				v.sensitivityUnknown = true
			} else {
				v.sensitive = val.True()
			}
		} else {
			v.sensitivityUnknown = true
		}
	}
	v.defAttr = content.Attributes["default"]
}

// evalConst evaluates an expression that may call functions but refer to
// nothing (variable defaults, descriptions, var-file values).
func (l *loader) evalConst(expr hcl.Expression) (cty.Value, bool) {
	ctx := &hcl.EvalContext{Functions: l.funcs}
	v, diags := expr.Value(ctx)
	l.add(diags)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	if !v.IsWhollyKnown() {
		l.errorf(expr.Range().Ptr(), "Value not known", "This value cannot be determined while loading the configuration; use a constant.")
		return cty.DynamicVal, false
	}
	return v, true
}

// resolveVariables gives every declared variable its value: default, then
// TRAINRUN_VAR_NAME, then each -var-file, then each -var.
func (l *loader) resolveVariables() {
	names := slices.Sorted(maps.Keys(l.vars))
	for _, name := range names {
		v := l.vars[name]
		if v.broken || v.defAttr == nil {
			continue
		}
		val, ok := l.evalConst(v.defAttr.Expr)
		if !ok {
			v.broken = true
			continue
		}
		l.setVar(v, val, v.defAttr.Expr.Range().Ptr(), "default value")
	}

	getenv := l.opts.Getenv
	if getenv != nil {
		for _, name := range names {
			v := l.vars[name]
			raw := getenv(varEnvPrefix + name)
			set := raw != ""
			if l.opts.LookupEnv != nil {
				raw, set = l.opts.LookupEnv(varEnvPrefix + name)
			}
			if !set {
				continue
			}
			l.setVarRaw(v, raw, "environment variable "+varEnvPrefix+name)
		}
	}

	varFilesRead := true
	for _, path := range l.opts.VarFiles {
		varFilesRead = l.loadVarFile(path) && varFilesRead
	}

	for _, arg := range l.opts.Vars {
		name, raw, found := strings.Cut(arg, "=")
		name = strings.TrimSpace(name)
		if !found || name == "" {
			l.errorf(nil, "Invalid -var option",
				"A -var option is not of the form NAME=VALUE. Write, for example, -var 'lr=0.01'.")
			continue
		}
		v := l.vars[name]
		if v == nil {
			l.errorf(nil, "Value for undeclared variable",
				"A variable named %q was given with -var but is not declared.%s Declare it with a variable %q block, or remove the option.",
				name, didYouMean(name, names), name)
			continue
		}
		l.setVarRaw(v, raw, "-var "+name)
	}

	for _, name := range names {
		v := l.vars[name]
		if v.broken {
			l.cfg.Variables[name] = &Variable{Name: name, Type: v.typ, Value: cty.DynamicVal, Sensitive: v.sensitive, Description: v.desc, DeclRange: v.block.DefRange}
			continue
		}
		if v.value == cty.NilVal && !varFilesRead {
			// Its value may be in the -var-file that could not be read,
			// whose error is reported: do not also say none was given.
			v.broken = true
			l.cfg.Variables[name] = &Variable{Name: name, Type: v.typ, Value: cty.DynamicVal, Sensitive: v.sensitive, Description: v.desc, DeclRange: v.block.DefRange}
			continue
		}
		if v.value == cty.NilVal {
			l.errorf(v.block.DefRange.Ptr(), "No value for required variable",
				"The variable %q has no default and no value was given. Set it with -var '%s=VALUE', in a -var-file, or with the environment variable %s%s; or give it a default.",
				name, name, varEnvPrefix, name)
			v.broken = true
			l.cfg.Variables[name] = &Variable{Name: name, Type: v.typ, Value: cty.DynamicVal, Sensitive: v.sensitive, Description: v.desc, DeclRange: v.block.DefRange}
			continue
		}
		if v.sensitive {
			l.addSecret(v.value)
		}
		l.cfg.Variables[name] = &Variable{Name: name, Type: v.typ, Value: v.value, Sensitive: v.sensitive, Description: v.desc, DeclRange: v.block.DefRange}
	}
}

// setVarRaw sets v from the text of an environment variable or -var option:
// the text itself for string (and untyped) variables, else an HCL
// expression, as Terraform does.
func (l *loader) setVarRaw(v *varDecl, raw, source string) {
	if v.sensitive {
		l.redaction = append(l.redaction, raw)
	}
	if v.typ == cty.String || v.typ == cty.DynamicPseudoType {
		l.setVar(v, cty.StringVal(raw), nil, source)
		return
	}
	filename := fmt.Sprintf("<value for var.%s>", v.name)
	// Parse and evaluation errors get one message: hcl's own ("Variables
	// not allowed" for a bare word) would only confuse here.
	expr, diags := hclsyntax.ParseExpression([]byte(raw), filename, hcl.Pos{Line: 1, Column: 1})
	var val cty.Value
	if !diags.HasErrors() {
		val, diags = expr.Value(nil)
	}
	if diags.HasErrors() {
		l.errorf(nil, "Invalid value for variable",
			"The value of %s is not a valid %s: write it as an HCL constant, for example %s.",
			source, typeexpr.TypeString(v.typ), exampleFor(v.typ))
		v.broken = true
		return
	}
	l.setVar(v, val, nil, source)
}

// exampleFor is a constant of type ty, to show how a value is written.
func exampleFor(ty cty.Type) string {
	switch {
	case ty == cty.Number:
		return "0.01"
	case ty == cty.Bool:
		return "true"
	case ty.IsListType() || ty.IsSetType():
		return "[" + exampleFor(ty.ElementType()) + "]"
	case ty.IsTupleType():
		var elems []string
		for _, et := range ty.TupleElementTypes() {
			elems = append(elems, exampleFor(et))
		}
		return "[" + strings.Join(elems, ", ") + "]"
	case ty.IsMapType():
		return "{ key = " + exampleFor(ty.ElementType()) + " }"
	case ty.IsObjectType():
		names := make([]string, 0, len(ty.AttributeTypes()))
		for name := range ty.AttributeTypes() {
			names = append(names, name)
		}
		sort.Strings(names)
		var attrs []string
		for _, name := range names {
			attrs = append(attrs, name+" = "+exampleFor(ty.AttributeType(name)))
		}
		return "{ " + strings.Join(attrs, ", ") + " }"
	default: // string, any
		return `"a"`
	}
}

// setVar converts val to v's type and makes it v's value.
func (l *loader) setVar(v *varDecl, val cty.Value, subject *hcl.Range, source string) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		why := convertErrString(err)
		if v.sensitive {
			// The path and the message ("element \"k\": …") name map keys
			// and attributes of the value, as secret as the rest of it.
			why = hideKeys(convertErrStringNoKeys(err), keysOf(val, v.typ))
		}
		l.errorf(subject, "Invalid value for variable",
			"The %s for var.%s is not a valid %s: %s. Give a value of that type.",
			source, v.name, typeexpr.TypeString(v.typ), why)
		v.broken = true
		return
	}
	v.broken = false
	v.value = conv
}

// hideKeys replaces the keys in msg, which cty's messages quote ("element
// \"k\": …"), by "…". Only quoted: a key may be as short as a letter.
func hideKeys(msg string, keys []string) string {
	for _, k := range keys {
		for _, q := range []string{strconv.Quote(k), strconv.QuoteToASCII(k)} {
			msg = strings.ReplaceAll(msg, q, `"…"`)
		}
	}
	return msg
}

// keysOf lists the map keys and object attribute names within v, but for
// the attribute names of ty, which the configuration declares.
func keysOf(v cty.Value, ty cty.Type) []string {
	declared := map[string]bool{}
	var attrs func(cty.Type)
	attrs = func(ty cty.Type) {
		switch {
		case ty.IsObjectType():
			for name, at := range ty.AttributeTypes() {
				declared[name] = true
				attrs(at)
			}
		case ty.IsTupleType():
			for _, et := range ty.TupleElementTypes() {
				attrs(et)
			}
		case ty.IsCollectionType():
			attrs(ty.ElementType())
		}
	}
	attrs(ty)
	var keys []string
	var walk func(cty.Value)
	walk = func(v cty.Value) {
		v, _ = v.Unmark()
		if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
			return
		}
		ty := v.Type()
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if (ty.IsMapType() || ty.IsObjectType()) && k.Type() == cty.String && !declared[k.AsString()] {
				keys = append(keys, k.AsString())
			}
			walk(e)
		}
	}
	walk(v)
	return keys
}

// convertErrString renders a conversion error with its path, without the
// value (which may be secret).
func convertErrString(err error) string { return convertErr(err, true) }

// convertErrStringNoKeys is convertErrString for a sensitive value: its
// path does not show map keys, which are part of the value.
func convertErrStringNoKeys(err error) string { return convertErr(err, false) }

func convertErr(err error, keys bool) string {
	var pe cty.PathError
	if e, ok := err.(cty.PathError); ok {
		pe = e
	} else {
		return err.Error()
	}
	if len(pe.Path) == 0 {
		return pe.Error()
	}
	return fmt.Sprintf("at %s: %s", pathString(pe.Path, keys), pe.Error())
}

// pathString renders p as HCL would write it; without keys, map keys are
// "[…]". (Attribute names are those of the type the value converts to.)
func pathString(p cty.Path, keys bool) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			if !keys && s.Key.Type() == cty.String {
				b.WriteString("[…]")
			} else if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number && s.Key.IsKnown() && !s.Key.IsNull() {
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			} else {
				b.WriteString("[…]")
			}
		}
	}
	return strings.TrimPrefix(b.String(), ".")
}

// loadVarFile reads one -var-file: HCL attributes, constants only. It
// reports whether the file could be read and parsed.
func (l *loader) loadVarFile(name string) bool {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		l.errorf(nil, "Cannot read variables file", "Reading -var-file %s failed: %v. Check the path; relative paths are relative to the working directory.", name, err)
		return false
	}
	f, diags := parseSource(l.parser, name, src)
	l.add(diags)
	if f == nil {
		return false
	}
	l.cfg.Files[name] = f
	l.varFiles[name] = nil
	if diags.HasErrors() {
		l.varFiles[name] = l.varFileRegions(f, name, diags, nil)
		return false
	}
	attrs, diags := f.Body.JustAttributes()
	l.add(diags)
	if diags.HasErrors() && strings.HasSuffix(name, ".json") {
		attrs = nil // not all of them: which value is whose is not known
	}
	l.varFiles[name] = l.varFileRegions(f, name, nil, attrs)
	list := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
	for _, a := range list {
		v := l.vars[a.Name]
		if v == nil {
			l.add(hcl.Diagnostics{{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("The variables file sets %q, but no variable of that name is declared.%s The value is ignored.", a.Name, didYouMean(a.Name, slices.Sorted(maps.Keys(l.vars)))),
				Subject:  a.NameRange.Ptr(),
			}})
			continue
		}
		val, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			// hcl's summary ("Variables not allowed") says what is wrong;
			// its Error() would repeat the position the snippet shows.
			why := "this is not one"
			if d := firstError(diags); d != nil && d.Summary != "" {
				why = strings.ToLower(d.Summary[:1]) + d.Summary[1:]
			}
			l.errorf(a.Expr.Range().Ptr(), "Invalid value for variable",
				"Values in a variables file must be constants (%s). Write the value itself, such as 0.01, \"adam\" or [64, 32].", why)
			v.broken = true
			continue
		}
		if v.sensitive {
			l.addSecret(val)
		}
		l.setVar(v, val, a.Expr.Range().Ptr(), "value in "+name)
	}
	return true
}

// varFileRegions returns what to mask of a var-file (see mask.go):
// parseDiags are the errors of parsing it; attrs, its attributes when a
// JSON file was read whole.
func (l *loader) varFileRegions(f *hcl.File, name string, parseDiags hcl.Diagnostics, attrs hcl.Attributes) []span {
	unsure := l.declIncomplete
	for _, v := range l.vars {
		unsure = unsure || v.sensitive || v.sensitivityUnknown
	}
	if !unsure {
		return nil // no variable is sensitive
	}
	sensitive := func(name string) bool {
		v := l.vars[name]
		return l.declIncomplete || v == nil || v.sensitive || v.sensitivityUnknown
	}
	if strings.HasSuffix(name, ".json") {
		if attrs == nil {
			// Without its attributes, which value is whose is not known.
			return []span{{0, len(f.Bytes)}}
		}
		var regions []span
		for n, a := range attrs {
			if sensitive(n) {
				r := a.Expr.Range()
				regions = append(regions, span{r.Start.Byte, r.End.Byte})
			}
		}
		return regions
	}
	regions := hclValueRegions(f.Bytes, name, sensitive, true)
	if parseDiags.HasErrors() {
		regions = append(regions, brokenRegions(f.Bytes, firstErrorByte(parseDiags, name), sensitive)...)
	}
	return regions
}

// firstError returns the first error of diags, or nil.
func firstError(diags hcl.Diagnostics) *hcl.Diagnostic {
	for _, d := range diags {
		if d != nil && d.Severity == hcl.DiagError {
			return d
		}
	}
	return nil
}
