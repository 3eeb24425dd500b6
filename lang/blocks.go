package lang

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/trainrun/trainrun/providers"
)

type localDecl struct {
	name string
	attr *hcl.Attribute
}

func (l *loader) declareLocals(b *hcl.Block) {
	attrs, diags := b.Body.JustAttributes()
	l.add(diags)
	list := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
	for _, a := range list {
		if !l.checkName("local value", a.Name, a.NameRange) {
			continue
		}
		if prev := l.locals[a.Name]; prev != nil {
			l.duplicate("local value", a.Name, prev.attr.NameRange, a.NameRange)
			continue
		}
		l.locals[a.Name] = &localDecl{name: a.Name, attr: a}
	}
}

// kindBlock is a compute or environment block.
type kindBlock struct {
	typ, kind, name string
	block           *hcl.Block
	schema          providers.Schema
	compute         providers.ComputeKind     // nil for environments
	env             providers.EnvironmentKind // nil for computes
	known           bool                      // the kind exists and the body was decoded
	content         *hcl.BodyContent
	nested          map[string]*hcl.BodyContent
	refs            map[string]string // Ref attributes: attribute → referenced block name
}

func (l *loader) declareKindBlock(b *hcl.Block) {
	kind, name := b.Labels[0], b.Labels[1]
	table := l.computes
	var known []string
	if b.Type == "environment" {
		table = l.envs
		known = l.opts.Registry.EnvironmentKinds()
	} else {
		known = l.opts.Registry.ComputeKinds()
	}
	if !l.checkName(b.Type, name, b.LabelRanges[1]) {
		return
	}
	if prev := table[name]; prev != nil {
		l.duplicate(b.Type, name, prev.block.DefRange, b.DefRange)
		return
	}
	kb := &kindBlock{typ: b.Type, kind: kind, name: name, block: b, refs: map[string]string{}}
	table[name] = kb

	if b.Type == "environment" {
		e, ok := l.opts.Registry.Environments[kind]
		if ok && e != nil {
			kb.env, kb.schema, kb.known = e, e.Schema(), true
		}
	} else {
		c, ok := l.opts.Registry.Computes[kind]
		if ok && c != nil {
			kb.compute, kb.schema, kb.known = c, c.Schema(), true
		}
	}
	if !kb.known {
		list := "None are registered."
		if len(known) > 0 {
			list = "The known kinds are " + joinQuoted(known) + ". Use one of them as the first label."
		}
		// didYouMean is a sentence of its own (" Did you mean …?"), so
		// the sentence before it ends with a period.
		l.errorf(b.LabelRanges[0].Ptr(), "Unknown "+b.Type+" kind",
			"There is no %s kind %q.%s %s", b.Type, kind, didYouMean(kind, known), list)
		return
	}

	content, diags := b.Body.Content(bodySchema(kb.schema.Attrs, kb.schema.Blocks))
	l.add(diags)
	if content == nil {
		kb.known = false
		return
	}
	if diags.HasErrors() {
		kb.known = false
	}
	kb.content = content
	kb.nested = map[string]*hcl.BodyContent{}
	for _, nb := range content.Blocks {
		if prev := kb.nested[nb.Type]; prev != nil {
			l.add(hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + nb.Type + " block",
				Detail:   fmt.Sprintf("A %s block was already given in this %s. Only one is allowed; merge them.", nb.Type, b.Type),
				Subject:  nb.DefRange.Ptr(),
			}})
			kb.known = false
			continue
		}
		var attrs []providers.Attr
		for _, s := range kb.schema.Blocks {
			if s.Name == nb.Type {
				attrs = s.Attrs
			}
		}
		c, diags := nb.Body.Content(bodySchema(attrs, nil))
		l.add(diags)
		if c == nil || diags.HasErrors() {
			kb.known = false
			c = &hcl.BodyContent{Attributes: hcl.Attributes{}}
		}
		kb.nested[nb.Type] = c
	}
}

func bodySchema(attrs []providers.Attr, blocks []providers.Block) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, b := range blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: b.Name})
	}
	return s
}

func joinQuoted(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", n)
	}
	return s
}

// scanKindBlock finds the references of a compute or environment block.
// Ref attributes are analysed statically: they must be compute.NAME.
func (l *loader) scanKindBlock(n *node, kb *kindBlock) {
	if !kb.known {
		n.broken = true
		return
	}
	for _, a := range kb.schema.Attrs {
		attr := kb.content.Attributes[a.Name]
		if attr == nil {
			continue
		}
		if a.Ref != "" {
			name, ok := l.staticRef(n, attr.Expr, a.Ref, a.Name)
			if !ok {
				n.broken = true
				continue
			}
			kb.refs[a.Name] = name
			continue
		}
		if !l.scanExpr(n, attr.Expr, scanOpts{}) {
			n.broken = true
		}
	}
	for _, c := range kb.nested {
		for _, attr := range sortedAttrs(c.Attributes) {
			if !l.scanExpr(n, attr.Expr, scanOpts{}) {
				n.broken = true
			}
		}
	}
}

// staticRef checks that expr is exactly typ.NAME and returns NAME.
func (l *loader) staticRef(n *node, expr hcl.Expression, typ, attrName string) (string, bool) {
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(t) != 2 || t.RootName() != typ {
		l.errorf(expr.Range().Ptr(), "Invalid "+attrName+" reference",
			"%s must be a reference to a %s block, such as %s = %s.NAME.", attrName, typ, attrName, typ)
		return "", false
	}
	if _, ok := stepName(t, 1); !ok {
		l.errorf(expr.Range().Ptr(), "Invalid "+attrName+" reference",
			"%s must be a reference to a %s block, such as %s = %s.NAME.", attrName, typ, attrName, typ)
		return "", false
	}
	if !l.scanTraversal(n, t, scanOpts{static: true}) {
		return "", false
	}
	name, _ := stepName(t, 1)
	return name, true
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	list := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
	return list
}

// ctxFor returns the evaluation context of a node: the values of exactly
// the blocks it refers to, and the functions.
func (l *loader) ctxFor(n *node) *hcl.EvalContext {
	groups := map[string]map[string]cty.Value{}
	known := true
	for addr := range n.deps {
		d := l.nodes[addr]
		if d == nil {
			continue
		}
		g := groups[d.typ]
		if g == nil {
			g = map[string]cty.Value{}
			groups[d.typ] = g
		}
		if d.broken {
			g[d.name] = cty.DynamicVal
			known = false
		} else {
			g[d.name] = d.value
			known = known && d.typ != "experiment" // its outputs are unknown
		}
	}
	vars := map[string]cty.Value{
		"path": cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(l.dir)}),
	}
	for typ := range blockTypes {
		if g := groups[typ]; g != nil {
			vars[typ] = cty.ObjectVal(g)
		} else {
			vars[typ] = cty.EmptyObjectVal
		}
	}
	ctx := &hcl.EvalContext{Variables: vars, Functions: l.funcs}
	if known {
		l.knownCtx[ctx] = true
	}
	return ctx
}

// eval evaluates expr, reporting its diagnostics. The result is false on
// errors and when the value is not wholly known (which only happens
// downstream of an error already reported). ctx is one from ctxFor or a
// child of one that adds only known values.
func (l *loader) eval(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, bool) {
	v, diags := expr.Value(ctx)
	l.add(diags)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	// Values are wholly known unless the context holds unknowns; checking
	// walks the whole value, which a 1000-point sweep felt.
	if !l.knownCtx[ctx] && !(ctx != nil && l.knownCtx[ctx.Parent()]) && !v.IsWhollyKnown() {
		if !l.hasErrors() {
			l.errorf(expr.Range().Ptr(), "Value not known", "This value cannot be determined while loading the configuration.")
		}
		return cty.DynamicVal, false
	}
	return v, true
}

// evalNode evaluates one block; everything it refers to is done.
func (l *loader) evalNode(n *node) {
	switch n.typ {
	case "var":
		v := l.vars[n.name]
		if v.broken {
			n.broken = true
			return
		}
		n.value = v.value
		if v.sensitive {
			n.value = v.value.Mark(sensitiveMark)
			l.marked = true
		}
	case "local":
		if n.broken {
			return
		}
		attr := l.locals[n.name].attr
		v, ok := l.eval(attr.Expr, l.ctxFor(n))
		if !ok {
			n.broken = true
			return
		}
		if valueSize(v, maxValueSize) > maxValueSize {
			// Locals that build on each other can double a value each
			// time: stop before memory runs out.
			l.errorf(attr.Expr.Range().Ptr(), "Value too large",
				"local.%s is larger than %d MiB; configuration values are kept in memory and in plans. Put large data in a file of a source_dir that the run reads.", n.name, maxValueSize>>20)
			n.broken = true
			return
		}
		n.value = v
	case "compute":
		l.evalKindBlock(n, l.computes[n.name])
	case "environment":
		l.evalKindBlock(n, l.envs[n.name])
	case "experiment":
		l.evalExperiment(n, l.exps[n.name])
	}
}

// evalKindBlock decodes a compute or environment block's body with its
// kind's schema and runs the kind's own validation.
func (l *loader) evalKindBlock(n *node, kb *kindBlock) {
	out := &Block{Kind: kb.kind, Name: kb.name, Values: providers.Values{}, DeclRange: kb.block.DefRange}
	if kb.typ == "compute" {
		l.cfg.Computes[kb.name] = out
	} else {
		l.cfg.Environments[kb.name] = out
	}
	if n.broken {
		return
	}
	ctx := l.ctxFor(n)
	refVals := map[string]cty.Value{} // what compute.NAME evaluates to
	ok := true
	for _, a := range kb.schema.Attrs {
		attr := kb.content.Attributes[a.Name]
		if attr == nil {
			continue
		}
		if name, isRef := kb.refs[a.Name]; isRef {
			out.Values[a.Name] = cty.StringVal(name)
			refVals[a.Name] = cty.StringVal(name)
			continue
		}
		v, good := l.evalAttr(attr, a, ctx)
		if !good {
			ok = false
			continue
		}
		out.Values[a.Name] = v
		refVals[a.Name] = v
		if a.Sensitive {
			refVals[a.Name] = v.Mark(sensitiveMark)
			l.marked = true
		}
	}
	for _, s := range kb.schema.Blocks {
		c := kb.nested[s.Name]
		if c == nil {
			continue
		}
		obj := make(map[string]cty.Value, len(s.Attrs))
		for _, a := range s.Attrs {
			obj[a.Name] = cty.NullVal(a.Type)
			attr := c.Attributes[a.Name]
			if attr == nil {
				continue
			}
			v, good := l.evalAttr(attr, a, ctx)
			if !good {
				ok = false
				continue
			}
			obj[a.Name] = v
		}
		out.Values[s.Name] = cty.ObjectVal(obj)
		refVals[s.Name] = out.Values[s.Name]
	}
	if !ok {
		n.broken = true
		return
	}
	var problems []providers.Problem
	switch {
	case kb.compute != nil:
		problems = kb.compute.Validate(out.Values)
	case kb.env != nil:
		problems = kb.env.Validate(out.Values)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			subject := kb.block.DefRange
			if attr := kb.content.Attributes[p.Attr]; attr != nil {
				subject = attr.Range
			} else {
				for _, c := range kb.nested { // an attribute of a nested block
					if attr := c.Attributes[p.Attr]; attr != nil {
						subject = attr.Range
					}
				}
			}
			summary := p.Summary
			if summary == "" {
				summary = "Invalid " + kb.typ + " " + kb.name
			}
			l.add(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: p.Detail, Subject: subject.Ptr()}})
			ok = false
		}
	}
	refVals["kind"] = cty.StringVal(kb.kind)
	refVals["name"] = cty.StringVal(kb.name)
	n.value = cty.ObjectVal(refVals)
	if !ok {
		n.broken = true
	}
}

// evalAttr evaluates one schema attribute and converts it to the declared
// type. The result is unmarked; secrets are recorded.
func (l *loader) evalAttr(attr *hcl.Attribute, a providers.Attr, ctx *hcl.EvalContext) (cty.Value, bool) {
	v, ok := l.eval(attr.Expr, ctx)
	if !ok {
		return cty.NilVal, false
	}
	v = l.unmark(v, a.Sensitive)
	ty := a.Type
	if ty == cty.NilType {
		ty = cty.DynamicPseudoType
	}
	conv, err := convert.Convert(v, ty)
	if err != nil {
		l.errorf(attr.Expr.Range().Ptr(), "Invalid value for "+a.Name,
			"%s must be %s: %s.", a.Name, typeDescription(ty), convertErrString(err))
		return cty.NilVal, false
	}
	return conv, true
}

// unmark strips the marks of v, recording its clear forms as secrets when
// it is sensitive (marked, or declared so).
func (l *loader) unmark(v cty.Value, sensitive bool) cty.Value {
	if sensitive || l.marked && v.ContainsMarked() {
		clear, pvm := v.UnmarkDeepWithPaths()
		if sensitive {
			l.addSecret(clear)
		} else {
			for _, pm := range pvm {
				if _, ok := pm.Marks[sensitiveMark]; ok {
					if leaf, err := pm.Path.Apply(clear); err == nil {
						l.addSecret(leaf)
					}
				}
			}
		}
		return clear
	}
	return v
}

func typeDescription(ty cty.Type) string {
	switch {
	case ty == cty.String:
		return "a string"
	case ty == cty.Number:
		return "a number"
	case ty == cty.Bool:
		return "true or false"
	case ty == cty.DynamicPseudoType:
		return "any value"
	default:
		return "a " + ty.FriendlyName()
	}
}

// maxValueSize bounds a local's value.
const maxValueSize = 64 << 20

// valueSize is about how many bytes v holds, counted up to just past limit.
func valueSize(v cty.Value, limit int) int {
	v, _ = v.UnmarkDeep()
	return size(v, limit)
}

func size(v cty.Value, limit int) int {
	if v.IsNull() || !v.IsKnown() {
		return 0
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return len(v.AsString())
	case t.IsPrimitiveType():
		return 8
	case t.IsListType() || t.IsSetType() || t.IsTupleType() || t.IsMapType() || t.IsObjectType():
		n := 0
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			n += 8 + size(k, limit-n) + size(e, limit-n)
			if n > limit {
				return n
			}
		}
		return n
	}
	return 8
}
