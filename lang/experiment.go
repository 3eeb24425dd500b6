package lang

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var experimentSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "compute", Required: true},
		{Name: "environment"},
		{Name: "source_dir"},
		{Name: "include"},
		{Name: "command"},
		{Name: "shell"},
		{Name: "params"},
		{Name: "env"},
		{Name: "timeout"},
		{Name: "retries"},
		{Name: "retry_backoff"},
		{Name: "max_requeues"},
		{Name: "keep_checkpoints"},
		{Name: "inputs"},
		{Name: "outputs"},
		{Name: "depends_on"},
		{Name: "cache"},
		{Name: "for_each"},
		{Name: "params_file"},
		{Name: "metrics"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "resources"}, {Type: "sweep"}, {Type: "objective"}},
}

var resourcesSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "cpus"}, {Name: "memory"}, {Name: "gpus"}, {Name: "nodes"}},
}

var sweepSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "grid"}, {Name: "max_concurrent"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "random"}, {Type: "early_stopping"}, {Type: "asha"}},
}

// perRunAttrs are the experiment attributes evaluated for each instance,
// where param.* is available.
var perRunAttrs = []string{"source_dir", "include", "command", "shell", "env", "timeout", "retries", "retry_backoff", "max_requeues", "keep_checkpoints", "outputs", "cache", "params_file", "metrics"}

var resourceAttrs = []string{"cpus", "memory", "gpus", "nodes"}

const noParamInParams = "params and sweep cannot refer to param: they define the parameters. Refer to variables or locals instead."

type expDecl struct {
	name      string
	block     *hcl.Block
	attrs     hcl.Attributes
	resources hcl.Attributes // nil without a resources block
	sweep     hcl.Attributes // nil without a sweep block

	sweepRange  hcl.Range
	random      hcl.Attributes // sweep { random { … } }; nil without one
	randomRange hcl.Range
	policies    policyDecl // objective, sweep { early_stopping, asha }

	compute     string
	environment string
	forEach     *expRef // for_each = experiment.NAME; nil without
	inputs      []inputRef
	dependsOn   []expRef
	allOf       map[string]bool // experiments all of whose instances this one waits for
	perRun      map[string]bool // attributes ("resources.cpus" for nested ones) that use param
	paramRefs   []hcl.Traversal

	// Set once evaluated without errors.
	done      bool
	byKey     map[string]string    // sweep key → instance address
	addrs     []string             // every instance address, sorted
	swept     []string             // the parameters its keys name, sorted
	paramVals map[string]cty.Value // params (marks kept), for experiments matched with it
}

// expRef is a static reference to experiment.X or experiment.X["key"].
type expRef struct {
	exp    string
	key    string
	hasKey bool
	rng    hcl.Range
}

type inputRef struct {
	name string
	each bool // each.outputs: the matched instance's (for_each)
	expRef
}

func (l *loader) declareExperiment(b *hcl.Block) {
	name := b.Labels[0]
	content, diags := b.Body.Content(experimentSchema)
	l.add(diags)
	if !l.checkName("experiment", name, b.LabelRanges[0]) {
		return
	}
	if prev := l.exps[name]; prev != nil {
		l.duplicate("experiment", name, prev.block.DefRange, b.DefRange)
		return
	}
	e := &expDecl{name: name, block: b, allOf: map[string]bool{}, perRun: map[string]bool{}}
	l.exps[name] = e
	if content == nil {
		return
	}
	e.attrs = content.Attributes
	broken := diags.HasErrors()
	var seen = map[string]*hcl.Block{}
	for _, nb := range content.Blocks {
		if prev := seen[nb.Type]; prev != nil {
			l.add(hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + nb.Type + " block",
				Detail:   fmt.Sprintf("A %s block was already given at %s. An experiment has at most one; merge them.", nb.Type, rangeString(prev.DefRange)),
				Subject:  nb.DefRange.Ptr(),
			}})
			broken = true
			continue
		}
		seen[nb.Type] = nb
		if nb.Type == "objective" {
			if !l.declareObjective(e, nb) {
				broken = true
			}
			continue
		}
		schema := resourcesSchema
		if nb.Type == "sweep" {
			schema = sweepSchema
		}
		c, diags := nb.Body.Content(schema)
		l.add(diags)
		if diags.HasErrors() {
			broken = true
		}
		attrs := hcl.Attributes{}
		if c != nil {
			attrs = c.Attributes
		}
		if nb.Type == "sweep" {
			e.sweep, e.sweepRange = attrs, nb.DefRange
			if c != nil && !l.declareSweepBlocks(e, c.Blocks) {
				broken = true
			}
		} else {
			e.resources = attrs
		}
	}
	if broken {
		e.attrs = nil // scanExperiment then marks the node broken
	}
}

// scanExperiment finds the references of an experiment, checking the
// statically analysed attributes (compute, environment, inputs,
// depends_on) on the way.
func (l *loader) scanExperiment(n *node, e *expDecl) {
	if e.attrs == nil {
		n.broken = true
		return
	}
	ok := true
	hasEach := e.attrs["for_each"] != nil
	perRun := func(key string, expr hcl.Expression) {
		before := len(e.paramRefs)
		usesEach := false
		if !l.scanExpr(n, expr, scanOpts{param: true, paramRefs: &e.paramRefs, each: hasEach, usesEach: &usesEach}) {
			ok = false
		}
		if len(e.paramRefs) > before || usesEach {
			e.perRun[key] = true
		}
	}
	for _, name := range perRunAttrs {
		if a := e.attrs[name]; a != nil {
			perRun(name, a.Expr)
		}
	}
	for _, name := range resourceAttrs {
		if a := e.resources[name]; a != nil {
			perRun("resources."+name, a.Expr)
		}
	}
	noParam := scanOpts{noParam: noParamInParams, forEach: hasEach}
	if a := e.attrs["params"]; a != nil && !l.scanExpr(n, a.Expr, noParam) {
		ok = false
	}
	for _, a := range sortedAttrs(e.sweep) {
		if !l.scanExpr(n, a.Expr, noParam) {
			ok = false
		}
	}
	for _, a := range e.policies.attrs() {
		if !l.scanExpr(n, a.Expr, noParam) {
			ok = false
		}
	}
	for _, a := range sortedAttrs(e.random) {
		if !l.scanExpr(n, a.Expr, noParam) {
			ok = false
		}
		// In JSON syntax a call is a string: its arguments' references
		// are found only in the call.
		if call, diags := hcl.ExprCall(a.Expr); !diags.HasErrors() && len(a.Expr.Variables()) == 0 {
			for _, x := range call.Arguments {
				if !l.scanExpr(n, x, noParam) {
					ok = false
				}
			}
		}
	}
	// Generic references wait for every instance of the experiment.
	for addr := range n.deps {
		if name, found := strings.CutPrefix(addr, "experiment."); found {
			e.allOf[name] = true
		}
	}

	if a := e.attrs["compute"]; a != nil {
		name, good := l.staticRef(n, a.Expr, "compute", "compute")
		ok = ok && good
		e.compute = name
	}
	if a := e.attrs["environment"]; a != nil {
		if _, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() {
			name, good := l.staticRef(n, a.Expr, "environment", "environment")
			ok = ok && good
			e.environment = name
		} else if v, diags := a.Expr.Value(nil); diags.HasErrors() || !v.IsKnown() || !(v.IsNull() || v.Type() == cty.String && v.AsString() == "") {
			l.errorf(a.Expr.Range().Ptr(), "Invalid environment reference",
				"environment must be a reference to an environment block, such as environment = environment.NAME; leave it out (or write \"\") for the default host environment.")
			ok = false
		}
	}
	if a := e.attrs["for_each"]; a != nil && !l.scanForEach(n, e, a) {
		ok = false
	}
	if a := e.attrs["inputs"]; a != nil && !l.scanInputs(n, e, a) {
		ok = false
	}
	if a := e.attrs["depends_on"]; a != nil && !l.scanDependsOn(n, e, a) {
		ok = false
	}
	if !ok {
		n.broken = true
	}
}

func (l *loader) scanInputs(n *node, e *expDecl, a *hcl.Attribute) bool {
	pairs, diags := hcl.ExprMap(a.Expr)
	if diags.HasErrors() {
		l.errorf(a.Expr.Range().Ptr(), "Invalid inputs",
			"inputs must be written as an object whose values are experiment outputs, such as inputs = { data = experiment.prep.outputs }.")
		return false
	}
	ok := true
	names := map[string]hcl.Range{}
	for _, p := range pairs {
		kv, diags := p.Key.Value(nil)
		if diags.HasErrors() || !kv.IsKnown() || kv.IsNull() || kv.Type() != cty.String {
			l.errorf(p.Key.Range().Ptr(), "Invalid input name", "An input name must be a literal name, such as data.")
			ok = false
			continue
		}
		name := kv.AsString()
		if !l.checkName("input", name, p.Key.Range()) {
			ok = false
			continue
		}
		if prev, dup := names[name]; dup {
			l.duplicate("input", name, prev, p.Key.Range())
			ok = false
			continue
		}
		names[name] = p.Key.Range()
		if t, diags := hcl.AbsTraversalForExpr(p.Value); !diags.HasErrors() && t.RootName() == "each" {
			if !l.scanEachOutputs(e, t) {
				ok = false
				continue
			}
			e.inputs = append(e.inputs, inputRef{name: name, each: true})
			continue
		}
		ref, good := l.staticExpRef(n, p.Value, true)
		if !good {
			ok = false
			continue
		}
		e.inputs = append(e.inputs, inputRef{name: name, expRef: ref})
	}
	return ok
}

// scanForEach checks for_each = experiment.NAME, which matches the
// experiment's instances with NAME's. Its reference is an edge like any
// other, but each instance waits only for its matched one.
func (l *loader) scanForEach(n *node, e *expDecl, a *hcl.Attribute) bool {
	t, diags := hcl.AbsTraversalForExpr(a.Expr)
	if diags.HasErrors() || t.RootName() != "experiment" || len(t) != 2 {
		if !diags.HasErrors() && t.RootName() == "experiment" && len(t) > 2 {
			l.errorf(a.Expr.Range().Ptr(), "Invalid for_each",
				"for_each names a whole experiment, such as for_each = experiment.train: one instance of this experiment per instance of it. To take one instance's outputs, use inputs = { model = experiment.train[\"KEY\"].outputs } instead.")
			return false
		}
		l.errorf(a.Expr.Range().Ptr(), "Invalid for_each",
			"for_each must be a reference to an experiment, such as for_each = experiment.train: this experiment then has one instance per instance of train, with the same key.")
		return false
	}
	ref, ok := l.staticExpRef(n, a.Expr, false)
	if !ok {
		return false
	}
	e.forEach = &ref
	return true
}

// scanEachOutputs checks each.outputs as a value of inputs.
func (l *loader) scanEachOutputs(e *expDecl, t hcl.Traversal) bool {
	if e.attrs["for_each"] == nil {
		l.errorf(t.SourceRange().Ptr(), "Reference to each without for_each",
			"each is the instance of the experiment named by for_each that this instance is matched with; add for_each = experiment.NAME, or take an experiment's outputs with experiment.NAME.outputs.")
		return false
	}
	if name, ok := stepName(t, 1); !ok || name != "outputs" || len(t) != 2 {
		l.errorf(t.SourceRange().Ptr(), "Invalid input",
			"An input takes the matched instance's outputs as each.outputs, such as inputs = { model = each.outputs }.")
		return false
	}
	return true
}

func (l *loader) scanDependsOn(n *node, e *expDecl, a *hcl.Attribute) bool {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		l.errorf(a.Expr.Range().Ptr(), "Invalid depends_on",
			"depends_on must be a list of experiment references, such as depends_on = [experiment.prep].")
		return false
	}
	ok := true
	for _, x := range exprs {
		ref, good := l.staticExpRef(n, x, false)
		if !good {
			ok = false
			continue
		}
		e.dependsOn = append(e.dependsOn, ref)
	}
	return ok
}

// staticExpRef analyses experiment.X, experiment.X["key"] and, with
// outputs, experiment.X.outputs and experiment.X["key"].outputs.
func (l *loader) staticExpRef(n *node, expr hcl.Expression, outputs bool) (expRef, bool) {
	want := "experiment.NAME or experiment.NAME[\"KEY\"]"
	if outputs {
		want = "experiment.NAME.outputs or experiment.NAME[\"KEY\"].outputs"
	}
	bad := func() (expRef, bool) {
		l.errorf(expr.Range().Ptr(), "Invalid experiment reference", "This must be a reference of the form %s.", want)
		return expRef{}, false
	}
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || t.RootName() != "experiment" {
		return bad()
	}
	name, ok := stepName(t, 1)
	if !ok {
		return bad()
	}
	ref := expRef{exp: name, rng: t.SourceRange()}
	rest := t[2:]
	if len(rest) > 0 {
		if ix, isIndex := rest[0].(hcl.TraverseIndex); isIndex {
			k := ix.Key
			if !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
				return bad()
			}
			ref.key, ref.hasKey = k.AsString(), true
			rest = rest[1:]
		}
	}
	if outputs {
		if len(rest) != 1 {
			return bad()
		}
		if a, isAttr := rest[0].(hcl.TraverseAttr); !isAttr || a.Name != "outputs" {
			return bad()
		}
	} else if len(rest) != 0 {
		return bad()
	}
	// A reference to the experiment itself is an edge like any other, and
	// reported as a cycle.
	if !l.scanTraversal(n, t, scanOpts{static: true}) {
		return expRef{}, false
	}
	return ref, true
}

// axis is one parameter of a sweep grid with its values.
type axis struct {
	name  string
	vals  []cty.Value       // possibly marked
	strs  []string          // as written in instance keys
	jsons []json.RawMessage // canonical JSON
}

// evalExperiment evaluates an experiment and expands it into instances.
func (l *loader) evalExperiment(n *node, e *expDecl) {
	n.value = cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(e.name),
		"outputs": cty.DynamicVal,
	})
	exp := &Experiment{Name: e.name, DeclRange: e.block.DefRange}
	l.cfg.Experiments[e.name] = exp
	if n.broken {
		return
	}
	if !l.checkCommand(e) {
		n.broken = true
		return
	}
	ctx := l.ctxFor(n)

	params, paramJSON, ok := l.evalParams(e, ctx)
	if !ok {
		n.broken = true
		return
	}
	axes, maxConc, ok := l.evalSweep(e, ctx)
	if !ok {
		n.broken = true
		return
	}
	exp.MaxConcurrent = maxConc
	dims := make([]sweepDim, 0, len(axes)+1)
	for _, ax := range axes {
		dims = append(dims, gridDim(ax))
	}
	if e.random != nil {
		rd, ok := l.evalRandom(e, ctx)
		if !ok {
			n.broken = true
			return
		}
		for _, name := range rd.names {
			if axisIndex(axes, name) >= 0 {
				l.errorf(e.randomRange.Ptr(), "Parameter swept twice",
					"%s is in both grid and random. Sweep each parameter one way: remove it from one of them.", name)
				n.broken = true
				return
			}
		}
		dims = append(dims, *rd)
	}
	if !l.evalPolicies(e, exp, ctx) {
		n.broken = true
		return
	}
	rungDim := -1
	if h := exp.Halving; h != nil {
		for _, name := range sweptNames(dims) {
			if name == h.Param {
				l.errorf(e.policies.asha["budget"].Expr.Range().Ptr(), "Budget swept twice",
					"%s is the budget of asha, which sets it at each rung, and the sweep's grid or random sets it too. Sweep it one way: remove it from one of them.", name)
				n.broken = true
				return
			}
		}
		rungDim = len(dims)
		dims = append(dims, ashaDim(h))
	}
	feDim := -1
	var matched []*Instance // for_each: the instances matched, by alternative of dims[feDim]
	var eachVals []cty.Value
	if e.forEach != nil {
		d, insts, vals, ok := l.forEachDim(e, params, paramJSON, sweptNames(dims))
		if !ok {
			n.broken = true
			return
		}
		feDim, matched, eachVals = len(dims), insts, vals
		dims = append(dims, d)
	}
	if !l.checkParamsNUL(e, paramJSON, dims) {
		n.broken = true
		return
	}
	swept := sweptNames(dims)

	// Every param.NAME must name a parameter.
	known := make([]string, 0, len(params)+len(axes))
	for name := range params {
		known = append(known, name)
	}
	for _, name := range swept {
		if _, dup := params[name]; !dup {
			known = append(known, name)
		}
	}
	sort.Strings(known)
	for _, t := range e.paramRefs {
		name, _ := stepName(t, 1)
		if _, ok := params[name]; ok {
			continue
		}
		if i := sort.SearchStrings(swept, name); i < len(swept) && swept[i] == name {
			continue
		}
		l.errorf(t[:2].SourceRange().Ptr(), "Reference to undeclared param",
			"This experiment has no parameter named %q.%s Parameters come from params and the sweep (grid or random); add %s to one of them.",
			name, didYouMean(name, known), name)
		ok = false
	}
	if !ok {
		n.broken = true
		return
	}

	points := 1
	for _, d := range dims {
		points *= len(d.alts)
		if points > maxInstancesPerExperiment {
			l.errorf(sweepSubject(e), "Sweep too large",
				"This sweep has more than %d points. Split it into several experiments or sweep fewer values.", maxInstancesPerExperiment)
			n.broken = true
			return
		}
	}

	dependsOn, inputs, inputKeys, ok := l.instanceDeps(e)
	if !ok {
		n.broken = true
		return
	}

	// The attributes that do not use param are evaluated once.
	base := &Instance{
		Experiment:  e.name,
		Compute:     e.compute,
		Environment: e.environment,
		SourceDir:   l.dir,
		DependsOn:   dependsOn,
		DeclRange:   e.block.DefRange,
		// RetryBackoff is set even without retries, for rerun.
		RetryBackoff: DefaultRetryBackoff,
		MaxRequeues:  DefaultMaxRequeues,
	}
	// Every attribute is checked before giving up, so that one validate
	// reports each wrong one.
	fields := l.instanceFields(e)
	bad := false
	for _, f := range fields {
		if f.perRun {
			continue
		}
		v, good := l.eval(f.attr.Expr, ctx)
		if !good || !f.set(l, base, l.unmark(v, false), f.attr) {
			bad = true
		}
	}
	if bad {
		n.broken = true
		return
	}

	// Expand the sweep: the cartesian product of its dimensions (each grid
	// axis, the random points), keys in the order of sorted parameter
	// names.
	slots := sweepSlots(dims)
	instances := make([]*Instance, 0, points)
	e.byKey = make(map[string]string, points)
	idx := make([]int, len(dims))
	pvals := make(map[string]cty.Value, len(params)+len(slots))
	var key, point strings.Builder
	for p := 0; p < points; p++ {
		inst := new(Instance)
		*inst = *base
		inst.Params = make(map[string]json.RawMessage, len(paramJSON)+len(slots))
		maps.Copy(inst.Params, paramJSON)
		maps.Copy(pvals, params)
		key.Reset()
		point.Reset()
		for i, s := range slots {
			v := &dims[s.dim].alts[idx[s.dim]][s.j]
			if i > 0 {
				key.WriteByte(',')
			}
			key.WriteString(s.name)
			key.WriteByte('=')
			key.WriteString(v.str)
			if s.dim != rungDim {
				if point.Len() > 0 {
					point.WriteByte(',')
				}
				point.WriteString(s.name)
				point.WriteByte('=')
				point.WriteString(v.str)
			}
			inst.Params[s.name] = v.json
			pvals[s.name] = v.val
		}
		inst.Key = key.String()
		if rungDim >= 0 {
			inst.Rung, inst.Point = idx[rungDim], point.String()
		}
		if len(slots) == 0 {
			inst.Address = "experiment." + e.name
		} else {
			inst.Address = instanceAddress(e.name, inst.Key)
		}
		if prev, dup := e.byKey[inst.Key]; dup {
			l.errorf(sweepSubject(e), "Duplicate sweep point",
				"The sweep grid produces the instance %s twice. Remove the repeated value from the grid.", prev)
			n.broken = true
			return
		}
		e.byKey[inst.Key] = inst.Address
		if base.Env != nil {
			inst.Env = maps.Clone(base.Env)
		}
		if inputs != nil {
			inst.Inputs = maps.Clone(inputs)
		}
		if inputKeys != nil {
			inst.InputKeys = maps.Clone(inputKeys)
		}
		var each cty.Value
		if feDim >= 0 {
			u := matched[idx[feDim]]
			inst.Each, each = u.Address, eachVals[idx[feDim]]
			if !slices.Contains(inst.DependsOn, u.Address) {
				inst.DependsOn = append(slices.Clone(inst.DependsOn), u.Address)
				sort.Strings(inst.DependsOn)
			}
			for _, in := range e.inputs {
				if in.each {
					if inst.Inputs == nil {
						inst.Inputs = make(map[string][]string, len(e.inputs))
					}
					inst.Inputs[in.name] = []string{u.Address}
				}
			}
		}
		if len(e.perRun) > 0 {
			child := ctx.NewChild()
			child.Variables = map[string]cty.Value{"param": cty.ObjectVal(pvals)}
			if feDim >= 0 {
				child.Variables["each"] = each
			}
			for _, f := range fields {
				if !f.perRun {
					continue
				}
				v, good := l.eval(f.attr.Expr, child)
				if !good || !f.set(l, inst, l.unmark(v, false), f.attr) {
					bad = true
				}
			}
			if bad {
				n.broken = true
				return
			}
		}
		instances = append(instances, inst)
		// Next point: the last dimension varies fastest.
		for i := len(dims) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(dims[i].alts) {
				break
			}
			idx[i] = 0
		}
	}
	sort.Slice(instances, func(i, j int) bool { return instances[i].Address < instances[j].Address })
	if h := exp.Halving; h != nil {
		if !l.checkResumeFrom(e, h, instances[0]) {
			n.broken = true
			return
		}
		linkRungs(h, instances)
	}
	l.warnUnusedParams(e, dims, feDim, instances)
	exp.Instances = instances
	e.addrs = make([]string, len(instances))
	for i, inst := range instances {
		e.addrs[i] = inst.Address
	}
	e.swept, e.paramVals = swept, params
	e.done = true
}

// forEachDim makes for_each = experiment.NAME a dimension of the sweep:
// one alternative per instance of NAME, holding the parameters its key
// names, so that keys merge with the sweep's own (a cross product). NAME's
// other parameters join params. It returns the dimension, NAME's instances
// in the order of its alternatives, and each one's value of each.
func (l *loader) forEachDim(e *expDecl, params map[string]cty.Value, paramJSON map[string]json.RawMessage, swept []string) (sweepDim, []*Instance, []cty.Value, bool) {
	ref := e.forEach
	up := l.exps[ref.exp]
	if up == nil || !up.done {
		return sweepDim{}, nil, nil, false // its own errors are reported
	}
	insts := l.cfg.Experiments[ref.exp].Instances
	for _, name := range up.swept {
		if slices.Contains(swept, name) {
			l.errorf(ref.rng.Ptr(), "Parameter swept twice",
				"%s names the instances of experiment.%s, which for_each matches this experiment's with, and this experiment's sweep sweeps it too. Rename one of them.", name, ref.exp)
			return sweepDim{}, nil, nil, false
		}
		if _, dup := params[name]; dup {
			l.errorf(ref.rng.Ptr(), "Parameter defined twice",
				"%s names the instances of experiment.%s, which for_each matches this experiment's with, so each instance has its value; params sets it too. Remove it from params, or rename it.", name, ref.exp)
			return sweepDim{}, nil, nil, false
		}
	}
	for _, name := range slices.Sorted(maps.Keys(up.paramVals)) {
		if slices.Contains(up.swept, name) {
			continue
		}
		if _, dup := params[name]; dup || slices.Contains(swept, name) {
			l.errorf(ref.rng.Ptr(), "Parameter defined twice",
				"%s is a parameter of experiment.%s, which for_each matches this experiment's instances with, so it is this experiment's parameter too (param.%s); this experiment sets it as well. Rename one of them.", name, ref.exp, name)
			return sweepDim{}, nil, nil, false
		}
		params[name] = up.paramVals[name]
		paramJSON[name] = insts[0].Params[name]
	}
	d := sweepDim{names: up.swept, alts: make([][]pval, len(insts))}
	vals := make([]cty.Value, len(insts))
	for k, u := range insts {
		d.alts[k] = make([]pval, len(up.swept))
		pv := make(map[string]cty.Value, len(u.Params))
		for name, js := range u.Params {
			v, err := jsonValue(js)
			if err != nil {
				l.errorf(ref.rng.Ptr(), "Invalid for_each", "The parameter %s of %s cannot be read back: %v.", name, u.Address, err)
				return sweepDim{}, nil, nil, false
			}
			if marked, ok := up.paramVals[name]; ok && !slices.Contains(up.swept, name) {
				v = marked // a sensitive value stays marked
			}
			pv[name] = v
		}
		for j, name := range up.swept {
			js := u.Params[name]
			str := string(js)
			if v := pv[name]; v.Type() == cty.String && !v.IsNull() {
				str = v.AsString()
			}
			d.alts[k][j] = pval{val: pv[name], str: str, json: js}
		}
		vals[k] = cty.ObjectVal(map[string]cty.Value{
			"key":     cty.StringVal(u.Key),
			"params":  cty.ObjectVal(pv),
			"outputs": cty.DynamicVal,
		})
	}
	return d, insts, vals, true
}

func axisIndex(axes []axis, name string) int {
	for i := range axes {
		if axes[i].name == name {
			return i
		}
	}
	return -1
}

// instanceAddress is experiment.NAME["KEY"], the key quoted as an HCL
// string so that the address can be parsed back.
func instanceAddress(name, key string) string {
	var b strings.Builder
	b.Grow(len(name) + len(key) + 16)
	b.WriteString("experiment.")
	b.WriteString(name)
	b.WriteString(`["`)
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case (c == '$' || c == '%') && i+1 < len(key) && key[i+1] == '{':
			b.WriteByte(c)
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(`"]`)
	return b.String()
}

// evalParams evaluates params: the values (marks kept, for param.*) and
// their canonical JSON.
func (l *loader) evalParams(e *expDecl, ctx *hcl.EvalContext) (map[string]cty.Value, map[string]json.RawMessage, bool) {
	params := map[string]cty.Value{}
	jsons := map[string]json.RawMessage{}
	a := e.attrs["params"]
	if a == nil {
		return params, jsons, true
	}
	v, ok := l.eval(a.Expr, ctx)
	if !ok {
		return nil, nil, false
	}
	if v.IsNull() {
		return params, jsons, true
	}
	elems, ok := objectElems(v)
	if !ok {
		l.errorf(a.Expr.Range().Ptr(), "Invalid params", "params must be an object, such as params = { lr = 0.01, epochs = 10 }.")
		return nil, nil, false
	}
	for name, ev := range elems {
		if !validName(name) {
			l.errorf(a.Expr.Range().Ptr(), "Invalid parameter name",
				"%q is not a valid parameter name. A name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", name)
			return nil, nil, false
		}
		params[name] = ev
		j, err := canonicalJSON(l.unmark(ev, false))
		if err != nil {
			l.errorf(a.Expr.Range().Ptr(), "Invalid params", "The parameter %s cannot be written as JSON: %v.", name, err)
			return nil, nil, false
		}
		jsons[name] = j
	}
	return params, jsons, true
}

// checkParamsNUL refuses string parameters that hold a NUL character: a run
// gets each parameter as the environment variable TRAINRUN_PARAM_<NAME>,
// which cannot hold one.
func (l *loader) checkParamsNUL(e *expDecl, params map[string]json.RawMessage, dims []sweepDim) bool {
	for name, j := range params {
		if hasNUL(j) {
			l.errorf(e.attrs["params"].Expr.Range().Ptr(), "Invalid params",
				"The parameter %s contains a NUL character, which the run's environment variable TRAINRUN_PARAM_%s cannot hold. Remove it.", name, strings.ToUpper(name))
			return false
		}
	}
	for _, d := range dims {
		for _, alt := range d.alts {
			for j, v := range alt {
				if hasNUL(v.json) {
					l.errorf(sweepSubject(e), "Invalid sweep value",
						"A value of %s contains a NUL character, which the run's environment variable TRAINRUN_PARAM_%s cannot hold. Remove it.", d.names[j], strings.ToUpper(d.names[j]))
					return false
				}
			}
		}
	}
	return true
}

// hasNUL reports whether j, canonical JSON, is a string holding a NUL
// character.
func hasNUL(j json.RawMessage) bool {
	if len(j) == 0 || j[0] != '"' || !bytes.Contains(j, []byte(`\u0000`)) {
		return false
	}
	var s string
	return json.Unmarshal(j, &s) == nil && strings.IndexByte(s, 0) >= 0
}

// objectElems returns the attributes of an object or the elements of a
// map, keeping marks on each element.
func objectElems(v cty.Value) (map[string]cty.Value, bool) {
	v, marks := v.Unmark()
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() || v.IsNull() || !v.IsKnown() {
		return nil, false
	}
	out := make(map[string]cty.Value, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		out[k.AsString()] = ev.WithMarks(marks)
	}
	return out, true
}

// evalSweep evaluates the sweep block into axes sorted by name.
func (l *loader) evalSweep(e *expDecl, ctx *hcl.EvalContext) ([]axis, int, bool) {
	if e.sweep == nil {
		return nil, 0, true
	}
	maxConc := 0
	if a := e.sweep["max_concurrent"]; a != nil {
		v, ok := l.eval(a.Expr, ctx)
		if !ok {
			return nil, 0, false
		}
		if maxConc, ok = l.wholeNumber(l.unmark(v, false), a, "max_concurrent", 0); !ok {
			return nil, 0, false
		}
	}
	a := e.sweep["grid"]
	if a == nil {
		if e.random != nil {
			return nil, maxConc, true
		}
		l.errorf(e.sweepRange.Ptr(), "Empty sweep",
			"A sweep needs grid = { lr = [0.1, 0.01] } (every combination), random { count = 20, lr = loguniform(1e-4, 1e-1) } (drawn points), or both.")
		return nil, 0, false
	}
	v, ok := l.eval(a.Expr, ctx)
	if !ok {
		return nil, 0, false
	}
	elems, ok := objectElems(v)
	if ok && len(elems) == 0 {
		l.errorf(a.Expr.Range().Ptr(), "Empty sweep grid",
			"grid has no parameters, so it has no points. Map each parameter to its list of values, such as grid = { lr = [0.1, 0.01] }, or remove grid.")
		return nil, 0, false
	}
	if !ok {
		l.errorf(a.Expr.Range().Ptr(), "Invalid sweep grid",
			"grid must be an object mapping each parameter to its list of values, such as grid = { lr = [0.1, 0.01], batch = [32, 64] }.")
		return nil, 0, false
	}
	names := slices.Sorted(maps.Keys(elems))
	axes := make([]axis, 0, len(names))
	for _, name := range names {
		if !validName(name) {
			l.errorf(a.Expr.Range().Ptr(), "Invalid parameter name",
				"%q is not a valid parameter name. A name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", name)
			return nil, 0, false
		}
		list, marks := elems[name].Unmark()
		ty := list.Type()
		if list.IsNull() || !(ty.IsListType() || ty.IsTupleType() || ty.IsSetType()) {
			l.errorf(a.Expr.Range().Ptr(), "Invalid sweep grid",
				"The values of %s must be a list, such as %s = [0.1, 0.01].", name, name)
			return nil, 0, false
		}
		if list.LengthInt() == 0 {
			l.errorf(a.Expr.Range().Ptr(), "Empty sweep axis",
				"The list of values of %s is empty, so the sweep has no points. Give at least one value.", name)
			return nil, 0, false
		}
		ax := axis{name: name}
		for it := list.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			ev = ev.WithMarks(marks)
			if ev.ContainsMarked() {
				// The address names the point: a secret there would be
				// printed and recorded in clear.
				l.errorf(a.Expr.Range().Ptr(), "Sensitive value in a sweep grid",
					"A value of %s comes from a sensitive variable, and instance addresses show their sweep points. Pass the secret through env or params instead.", name)
				return nil, 0, false
			}
			clear := l.unmark(ev, false)
			j, err := canonicalJSON(clear)
			if err != nil {
				l.errorf(a.Expr.Range().Ptr(), "Invalid sweep grid", "A value of %s cannot be written as JSON: %v.", name, err)
				return nil, 0, false
			}
			s := string(j)
			if clear.Type() == cty.String && !clear.IsNull() {
				s = clear.AsString()
			}
			ax.vals = append(ax.vals, ev)
			ax.strs = append(ax.strs, s)
			ax.jsons = append(ax.jsons, j)
		}
		axes = append(axes, ax)
	}
	return axes, maxConc, true
}

// instanceDeps resolves inputs and depends_on against the instances of the
// experiments they name, which are already expanded. It returns the
// addresses waited for, each input's upstream addresses and, for inputs
// that name a whole sweep, the upstream instances' keys.
func (l *loader) instanceDeps(e *expDecl) ([]string, map[string][]string, map[string][]string, bool) {
	ok := true
	set := map[string]bool{}
	resolve := func(r expRef) []string {
		up := l.exps[r.exp]
		if up == nil || !up.done {
			ok = false // its own errors are reported already
			return nil
		}
		if !r.hasKey {
			return up.addrs
		}
		addr, found := up.byKey[r.key]
		if !found {
			if len(up.byKey) == 1 && up.addrs[0] == "experiment."+r.exp {
				l.errorf(r.rng.Ptr(), "Reference to an instance of an experiment without sweep",
					"experiment.%s has no sweep, so it has no instance %q. Refer to it as experiment.%s.", r.exp, r.key, r.exp)
			} else {
				l.errorf(r.rng.Ptr(), "Reference to undeclared instance",
					"experiment.%s has no instance with the key %q.%s Keys list the sweep parameters sorted by name, such as \"batch=32,lr=0.1\".",
					r.exp, r.key, didYouMean(r.key, slices.Sorted(maps.Keys(up.byKey))))
			}
			ok = false
			return nil
		}
		return []string{addr}
	}
	for name := range e.allOf {
		if name == e.name {
			continue
		}
		for _, a := range resolve(expRef{exp: name}) {
			set[a] = true
		}
	}
	for _, r := range e.dependsOn {
		for _, a := range resolve(r) {
			set[a] = true
		}
	}
	var inputs, keys map[string][]string
	for _, in := range e.inputs {
		if in.each {
			continue // the matched instance's: set per instance
		}
		addrs := resolve(in.expRef)
		if inputs == nil {
			inputs = map[string][]string{}
		}
		inputs[in.name] = addrs
		for _, a := range addrs {
			set[a] = true
		}
		if up := l.cfg.Experiments[in.exp]; !in.hasKey && up != nil && len(up.Instances) > 0 && up.Instances[0].Key != "" {
			if keys == nil {
				keys = map[string][]string{}
			}
			ks := make([]string, len(up.Instances))
			for i, inst := range up.Instances {
				ks[i] = inst.Key
			}
			keys[in.name] = ks
		}
	}
	if !ok {
		return nil, nil, nil, false
	}
	deps := make([]string, 0, len(set))
	for a := range set {
		deps = append(deps, a)
	}
	sort.Strings(deps)
	return deps, inputs, keys, true
}

// field is one per-instance attribute: how its value lands in an Instance.
type field struct {
	attr   *hcl.Attribute
	perRun bool
	set    func(l *loader, inst *Instance, v cty.Value, attr *hcl.Attribute) bool
}

func (l *loader) instanceFields(e *expDecl) []field {
	var fields []field
	add := func(key string, attr *hcl.Attribute, set func(*loader, *Instance, cty.Value, *hcl.Attribute) bool) {
		if attr != nil {
			fields = append(fields, field{attr: attr, perRun: e.perRun[key], set: set})
		}
	}
	add("source_dir", e.attrs["source_dir"], setSourceDir)
	add("include", e.attrs["include"], setInclude)
	add("command", e.attrs["command"], setCommand)
	add("shell", e.attrs["shell"], setShell)
	add("env", e.attrs["env"], setEnv)
	add("timeout", e.attrs["timeout"], setTimeout)
	add("retries", e.attrs["retries"], setRetries)
	add("retry_backoff", e.attrs["retry_backoff"], setRetryBackoff)
	add("max_requeues", e.attrs["max_requeues"], func(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
		n, ok := l.wholeNumber(v, a, "max_requeues", 0)
		inst.MaxRequeues = n
		return ok
	})
	add("keep_checkpoints", e.attrs["keep_checkpoints"], func(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
		on, ok := l.toBool(v, a.Expr.Range(), "keep_checkpoints")
		inst.KeepCheckpoints = on
		return ok
	})
	add("outputs", e.attrs["outputs"], setOutputs)
	add("params_file", e.attrs["params_file"], setParamsFile)
	add("metrics", e.attrs["metrics"], setMetrics)
	add("cache", e.attrs["cache"], func(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
		on, ok := l.toBool(v, a.Expr.Range(), "cache")
		inst.NoCache = !on
		return ok
	})
	add("resources.cpus", e.resources["cpus"], func(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
		n, ok := l.wholeNumber(v, a, "cpus", 0)
		inst.Resources.CPUs = n
		return ok
	})
	add("resources.memory", e.resources["memory"], setMemory)
	add("resources.gpus", e.resources["gpus"], func(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
		n, ok := l.wholeNumber(v, a, "gpus", 0)
		inst.Resources.GPUs = n
		return ok
	})
	add("resources.nodes", e.resources["nodes"], func(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
		n, ok := l.wholeNumber(v, a, "nodes", 0)
		inst.Resources.Nodes = n
		return ok
	})
	return fields
}

// checkCommand enforces exactly one of command and shell.
func (l *loader) checkCommand(e *expDecl) bool {
	cmd, sh := e.attrs["command"], e.attrs["shell"]
	switch {
	case cmd != nil && sh != nil:
		l.add(hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Conflicting command and shell",
			Detail:   fmt.Sprintf("experiment %q sets both command (at %s) and shell. Keep command for an exec list, or shell for a line run with sh -c, not both.", e.name, rangeString(cmd.Range)),
			Subject:  sh.Range.Ptr(),
		}})
		return false
	case cmd == nil && sh == nil:
		l.add(hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing command",
			Detail:   fmt.Sprintf("experiment %q says nothing to run. Add command = [\"python\", \"train.py\"] (an exec list) or shell = \"python train.py\" (run with sh -c).", e.name),
			Subject:  e.block.DefRange.Ptr(),
		}})
		return false
	}
	return true
}

func setSourceDir(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	s, ok := l.toString(v, a.Expr.Range(), "source_dir")
	if !ok {
		return false
	}
	dir := s
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(l.dir, dir)
	}
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		l.errorf(a.Expr.Range().Ptr(), "Invalid source_dir",
			"The source directory %q cannot be used: %v. source_dir is relative to the working directory; create it or fix the path.", s, unwrapPathError(err))
		return false
	case !st.IsDir():
		l.errorf(a.Expr.Range().Ptr(), "Invalid source_dir", "%q is not a directory. source_dir names the directory snapshotted for the run.", s)
		return false
	}
	inst.SourceDir = dir
	return true
}

// setInclude reads include: files and directories outside source_dir
// (relative to source_dir, which is set first) that are
// snapshotted with it and placed at the top of the run's working
// directory under their own names: "../common/utils.py" is utils.py,
// "../lib" is lib/.
func setInclude(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	list, ok := l.stringList(v, a.Expr.Range(), "include", `["../common/utils.py", "../lib"]`)
	if !ok {
		return false
	}
	names := make(map[string]string)
	var incs []Include
	for _, s := range list {
		p := s
		if !filepath.IsAbs(p) {
			p = filepath.Join(inst.SourceDir, p)
		}
		p = filepath.Clean(p)
		name := filepath.Base(p)
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			l.errorf(a.Expr.Range().Ptr(), "Invalid include", "%q cannot be included: %v. include paths are relative to source_dir.", s, unwrapPathError(err))
			return false
		case fi.Mode()&os.ModeSymlink != 0:
			l.errorf(a.Expr.Range().Ptr(), "Invalid include", "%q is a symbolic link: include the file or directory it points to.", s)
			return false
		case !fi.IsDir() && !fi.Mode().IsRegular():
			l.errorf(a.Expr.Range().Ptr(), "Invalid include", "%q is neither a file nor a directory.", s)
			return false
		case name == "." || name == ".." || name == string(filepath.Separator) || name == ".git" || name == ".trainrun":
			l.errorf(a.Expr.Range().Ptr(), "Invalid include", "%q has no name to place it under in the run's working directory. Include a file or a named directory, such as \"../lib\".", s)
			return false
		case names[name] != "":
			l.errorf(a.Expr.Range().Ptr(), "Conflicting include", "%q and %q would both be %s in the run's working directory: included files and directories are placed under their own names. Rename one, or include the directory that holds both.", names[name], s, name)
			return false
		}
		names[name] = s
		incs = append(incs, Include{Path: p, Name: name, Given: s, Dir: fi.IsDir()})
	}
	inst.Include = incs
	return true
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func setCommand(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	list, ok := l.stringList(v, a.Expr.Range(), "command", `["python", "train.py"]`)
	if !ok {
		return false
	}
	if len(list) == 0 {
		l.errorf(a.Expr.Range().Ptr(), "Empty command", "command must name a program to run, such as command = [\"python\", \"train.py\"].")
		return false
	}
	for i, arg := range list {
		if strings.IndexByte(arg, 0) >= 0 {
			l.errorf(a.Expr.Range().Ptr(), "Invalid value for command",
				"Element %d of command contains a NUL character, which no program argument can hold. Remove it.", i)
			return false
		}
	}
	inst.Command = list
	return true
}

func setShell(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	s, ok := l.toString(v, a.Expr.Range(), "shell")
	if !ok {
		return false
	}
	if strings.TrimSpace(s) == "" {
		l.errorf(a.Expr.Range().Ptr(), "Empty shell command", "shell must be a command line to run with sh -c, such as shell = \"python train.py | tee log.txt\".")
		return false
	}
	if strings.IndexByte(s, 0) >= 0 {
		l.errorf(a.Expr.Range().Ptr(), "Invalid value for shell", "shell contains a NUL character, which no command line can hold. Remove it.")
		return false
	}
	inst.Shell = s
	return true
}

func setEnv(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	m, ok := l.stringMap(v, a.Expr.Range(), "env")
	if !ok {
		return false
	}
	for k := range m {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			l.errorf(a.Expr.Range().Ptr(), "Invalid environment variable name", "%q cannot be an environment variable name: names must be non-empty and contain no '=' or NUL.", k)
			return false
		}
		if strings.IndexByte(m[k], 0) >= 0 {
			l.errorf(a.Expr.Range().Ptr(), "Invalid value for env", "The value of %s in env contains a NUL character, which no environment variable can hold. Remove it.", k)
			return false
		}
	}
	inst.Env = m
	return true
}

func setTimeout(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	s, ok := l.toString(v, a.Expr.Range(), "timeout")
	if !ok {
		return false
	}
	d, err := parseDuration(s)
	if err != nil {
		l.errorf(a.Expr.Range().Ptr(), "Invalid timeout", "%v. Write a duration such as \"90s\", \"1h30m\", \"2h\" or \"2d\".", err)
		return false
	}
	inst.Timeout = d
	return true
}

func setRetries(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	n, ok := l.wholeNumber(v, a, "retries", 0)
	inst.Retries = n
	return ok
}

func setRetryBackoff(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	s, ok := l.toString(v, a.Expr.Range(), "retry_backoff")
	if !ok {
		return false
	}
	d, err := parseDuration(s)
	if err != nil {
		l.errorf(a.Expr.Range().Ptr(), "Invalid retry_backoff", "%v. Write the wait before the first retry as a duration such as \"10s\", \"1m\" or \"0s\" (no wait); it doubles for each next retry, up to %s.", err, MaxRetryBackoff)
		return false
	}
	inst.RetryBackoff = d
	return true
}

func setMemory(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	b, err := parseBytes(v)
	if err != nil {
		l.errorf(a.Expr.Range().Ptr(), "Invalid memory", "%v. Write an amount such as \"16GiB\", \"512MiB\", \"2GB\" or a number of bytes.", err)
		return false
	}
	inst.Resources.Memory = b
	return true
}

func setParamsFile(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	p, ok := l.toString(v, a.Expr.Range(), "params_file")
	if !ok {
		return false
	}
	if err := checkOutputPath(p); err != nil {
		l.errorf(a.Expr.Range().Ptr(), "Invalid params_file", "The params file %q %v. It is a path relative to the run's working directory, such as \"params.yaml\".", p, err)
		return false
	}
	if !slices.Contains(ParamsFileFormats, strings.ToLower(path.Ext(p))) {
		l.errorf(a.Expr.Range().Ptr(), "Invalid params_file",
			"The params file %q must end in .yaml, .yml (written as YAML) or .json (written as JSON), so that trainrun knows how to write the run's params into it.", p)
		return false
	}
	inst.ParamsFile = path.Clean(p)
	return true
}

func setMetrics(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	list, ok := l.stringList(v, a.Expr.Range(), "metrics", `["eval/metrics.json"]`)
	if !ok {
		return false
	}
	for i, p := range list {
		if err := checkOutputPath(p); err != nil {
			l.errorf(a.Expr.Range().Ptr(), "Invalid metrics file", "The metrics file %q %v. Metrics files are paths among the run's outputs, such as \"eval/metrics.json\".", p, err)
			return false
		}
		list[i] = path.Clean(p)
	}
	inst.Metrics = list
	return true
}

func setOutputs(l *loader, inst *Instance, v cty.Value, a *hcl.Attribute) bool {
	list, ok := l.stringList(v, a.Expr.Range(), "outputs", `["model/", "metrics.json"]`)
	if !ok {
		return false
	}
	for _, p := range list {
		if err := checkOutputPath(p); err != nil {
			l.errorf(a.Expr.Range().Ptr(), "Invalid output path", "The output %q %v. Outputs are paths relative to the run's working directory, such as \"model/\" or \"metrics.json\".", p, err)
			return false
		}
	}
	inst.Outputs = list
	return true
}
