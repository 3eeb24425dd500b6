package lang

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// node is one block in the dependency graph: var.X, local.X, compute.X,
// environment.X or experiment.X.
type node struct {
	addr      string
	typ, name string
	declRange hcl.Range
	// deps maps each referenced block address to the range of the first
	// reference to it, where a cycle diagnostic points.
	deps map[string]hcl.Range
	// broken means a diagnostic was reported about the block: it is not
	// evaluated and references to it evaluate to an unknown value.
	broken bool
	value  cty.Value
}

// blockTypes are the reference roots that name blocks, with the noun used
// in messages.
var blockTypes = map[string]string{
	"var":         "variable",
	"local":       "local value",
	"compute":     "compute",
	"environment": "environment",
	"experiment":  "experiment",
}

var referenceRoots = []string{"compute", "each", "environment", "experiment", "local", "param", "path", "var"}

func (l *loader) newNode(typ, name string, rng hcl.Range) *node {
	n := &node{addr: typ + "." + name, typ: typ, name: name, declRange: rng, deps: map[string]hcl.Range{}, value: cty.DynamicVal}
	l.nodes[n.addr] = n
	return n
}

// declared says whether a block typ.name exists.
func (l *loader) declared(typ, name string) bool {
	_, ok := l.nodes[typ+"."+name]
	return ok
}

func (l *loader) namesOf(typ string) []string {
	var names []string
	prefix := typ + "."
	for addr := range l.nodes {
		if strings.HasPrefix(addr, prefix) {
			names = append(names, addr[len(prefix):])
		}
	}
	sort.Strings(names)
	return names
}

// scanAll creates a node for every declared block, then finds every
// reference of every expression: the graph's edges.
func (l *loader) scanAll() {
	for name, v := range l.vars {
		n := l.newNode("var", name, v.block.DefRange)
		n.broken = v.broken
	}
	for name, lc := range l.locals {
		l.newNode("local", name, lc.attr.Range)
	}
	for name, b := range l.computes {
		l.newNode("compute", name, b.block.DefRange)
	}
	for name, b := range l.envs {
		l.newNode("environment", name, b.block.DefRange)
	}
	for name, e := range l.exps {
		l.newNode("experiment", name, e.block.DefRange)
	}

	// Scan in a stable order so that diagnostics come out the same way
	// every time.
	for _, addr := range slices.Sorted(maps.Keys(l.nodes)) {
		n := l.nodes[addr]
		switch n.typ {
		case "local":
			if !l.scanExpr(n, l.locals[n.name].attr.Expr, scanOpts{}) {
				n.broken = true
			}
		case "compute":
			l.scanKindBlock(n, l.computes[n.name])
		case "environment":
			l.scanKindBlock(n, l.envs[n.name])
		case "experiment":
			l.scanExperiment(n, l.exps[n.name])
		}
	}
	for addr, n := range l.nodes {
		deps := make([]string, 0, len(n.deps))
		for d := range n.deps {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		l.cfg.Graph[addr] = deps
	}
}

// scanOpts say which references an expression may make.
type scanOpts struct {
	// param allows param.NAME; the traversals are appended to paramRefs
	// and checked once the experiment's parameters are known.
	param     bool
	paramRefs *[]hcl.Traversal
	noParam   string // why param is not allowed here, when it is not
	// static allows experiment.X["key"] and experiment.X.outputs: the
	// expression is analysed, never evaluated (inputs, depends_on).
	static bool
	// each allows each.key and each.params (an experiment with for_each,
	// in the attributes evaluated per instance); usesEach is set when
	// the expression uses them.
	each     bool
	usesEach *bool
	// forEach says the experiment has for_each (each is allowed
	// elsewhere in it), for the message when each is not allowed here.
	forEach bool
}

// scanExpr checks every reference of expr and records the edges. It
// reports whether every reference is valid.
func (l *loader) scanExpr(n *node, expr hcl.Expression, o scanOpts) bool {
	ok := true
	for _, t := range expr.Variables() {
		if !l.scanTraversal(n, t, o) {
			ok = false
		}
	}
	return ok
}

func (l *loader) scanTraversal(n *node, t hcl.Traversal, o scanOpts) bool {
	rng := t.SourceRange()
	root := t.RootName()
	switch root {
	case "var", "local", "compute", "environment", "experiment":
		name, ok := stepName(t, 1)
		if !ok {
			l.errorf(rng.Ptr(), "Invalid reference",
				"A reference to %s must name a %s, as in %s.NAME.", root, blockTypes[root], root)
			return false
		}
		if !l.declared(root, name) {
			l.undeclared(root, name, t[:2].SourceRange())
			return false
		}
		addr := root + "." + name
		if _, seen := n.deps[addr]; !seen {
			n.deps[addr] = rng
		}
		if root == "experiment" && !o.static {
			return l.checkExperimentRef(t)
		}
		return true
	case "param":
		if !o.param {
			why := o.noParam
			if why == "" {
				why = "param is only available inside an experiment, in the attributes evaluated for each run (command, shell, env, source_dir, outputs, timeout, retries, resources)."
			}
			l.errorf(rng.Ptr(), "Invalid reference to param", "%s", why)
			return false
		}
		if _, ok := stepName(t, 1); !ok {
			l.errorf(rng.Ptr(), "Invalid reference", "A reference to param must name a parameter, as in param.NAME.")
			return false
		}
		*o.paramRefs = append(*o.paramRefs, t)
		return true
	case "each":
		return l.scanEach(t, o)
	case "path":
		name, ok := stepName(t, 1)
		if !ok || name != "root" {
			l.errorf(rng.Ptr(), "Invalid reference",
				"The only path value is path.root, the absolute path of the working directory.")
			return false
		}
		return true
	default:
		l.errorf(rng.Ptr(), "Unknown reference",
			"There is nothing called %q in this configuration.%s References start with var., local., compute., environment., experiment., param. or path.root.",
			root, didYouMean(root, referenceRoots))
		return false
	}
}

// scanEach checks a reference to each (for_each) outside inputs.
func (l *loader) scanEach(t hcl.Traversal, o scanOpts) bool {
	rng := t.SourceRange()
	if !o.each {
		why := "each is only available in an experiment with for_each = experiment.NAME: it is the instance of NAME that an instance is matched with."
		if o.forEach {
			why = "each is available in the attributes evaluated for each instance (command, shell, env, source_dir, outputs, timeout, retries, resources) of an experiment with for_each, and each.outputs in inputs."
		}
		l.errorf(rng.Ptr(), "Invalid reference to each", "%s", why)
		return false
	}
	switch name, _ := stepName(t, 1); name {
	case "key", "params":
		*o.usesEach = true
		return true
	case "outputs":
		l.errorf(rng.Ptr(), "Invalid reference to each.outputs",
			"each.outputs can only be used as a value of inputs, such as inputs = { model = each.outputs }; the run then finds the matched instance's outputs at $TRAINRUN_INPUT_MODEL.")
		return false
	default:
		l.errorf(rng.Ptr(), "Invalid reference to each",
			"each has key (the matched instance's sweep key), params (its parameters, also reachable as param.NAME) and outputs (for inputs).%s", didYouMean(name, []string{"key", "outputs", "params"}))
		return false
	}
}

// checkExperimentRef reports experiment.X forms that only inputs and
// depends_on understand.
func (l *loader) checkExperimentRef(t hcl.Traversal) bool {
	if len(t) < 3 {
		return true
	}
	switch s := t[2].(type) {
	case hcl.TraverseIndex:
		l.errorf(t.SourceRange().Ptr(), "Invalid reference to an experiment instance",
			"A reference to one instance of a sweep, experiment.NAME[\"KEY\"], can only be used in inputs and depends_on.")
		return false
	case hcl.TraverseAttr:
		if s.Name == "outputs" {
			l.errorf(t.SourceRange().Ptr(), "Invalid reference to outputs",
				"experiment.NAME.outputs can only be used as a value of inputs, such as inputs = { data = experiment.prep.outputs }; the run then finds the collected outputs at $TRAINRUN_INPUT_DATA.")
			return false
		}
	}
	return true
}

// stepName returns the attribute name at step i of t.
func stepName(t hcl.Traversal, i int) (string, bool) {
	if len(t) <= i {
		return "", false
	}
	if a, ok := t[i].(hcl.TraverseAttr); ok {
		return a.Name, true
	}
	return "", false
}

func (l *loader) undeclared(typ, name string, rng hcl.Range) {
	noun := blockTypes[typ]
	summary := "Reference to undeclared " + noun
	var how string
	switch typ {
	case "var":
		how = fmt.Sprintf("Declare it with a variable %q block, or fix the name.", name)
	case "local":
		how = fmt.Sprintf("Define it in a locals block (%s = …), or fix the name.", name)
	case "compute":
		how = fmt.Sprintf("Declare it with a compute \"KIND\" %q block, or fix the name.", name)
	case "environment":
		how = fmt.Sprintf("Declare it with an environment \"KIND\" %q block, or fix the name.", name)
	case "experiment":
		how = fmt.Sprintf("Declare it with an experiment %q block, or fix the name.", name)
	}
	l.errorf(rng.Ptr(), summary, "There is no %s named %q.%s %s", noun, name, didYouMean(name, l.namesOf(typ)), how)
}

// order returns the nodes in an order where each comes after everything it
// refers to. Blocks in a cycle are reported (one diagnostic per cycle),
// marked broken and left out.
func (l *loader) order() []*node {
	l.reportCycles()
	addrs := slices.Sorted(maps.Keys(l.nodes))
	done := make(map[string]bool, len(addrs))
	out := make([]*node, 0, len(addrs))
	var visit func(n *node)
	visit = func(n *node) {
		if done[n.addr] {
			return
		}
		done[n.addr] = true
		for _, d := range l.cfg.Graph[n.addr] {
			if dn := l.nodes[d]; dn != nil {
				visit(dn)
			}
		}
		out = append(out, n)
	}
	for _, a := range addrs {
		visit(l.nodes[a])
	}
	return out
}

// reportCycles finds the strongly connected components of the graph
// (Tarjan) and reports each one that is a cycle.
func (l *loader) reportCycles() {
	addrs := slices.Sorted(maps.Keys(l.nodes))
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	next := 0
	var sccs [][]string
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range l.cfg.Graph[v] {
			if _, ok := l.nodes[w]; !ok {
				continue
			}
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, a := range addrs {
		if _, seen := index[a]; !seen {
			strong(a)
		}
	}
	sort.Slice(sccs, func(i, j int) bool { return minString(sccs[i]) < minString(sccs[j]) })
	for _, scc := range sccs {
		if len(scc) == 1 {
			if _, self := l.nodes[scc[0]].deps[scc[0]]; !self {
				continue
			}
		}
		l.reportCycle(scc)
	}
}

func minString(s []string) string {
	m := s[0]
	for _, x := range s[1:] {
		m = min(m, x)
	}
	return m
}

// reportCycle reports one cycle through the component scc, starting at its
// smallest address and following the smallest edges that stay inside it.
func (l *loader) reportCycle(scc []string) {
	in := map[string]bool{}
	for _, a := range scc {
		in[a] = true
		l.nodes[a].broken = true
	}
	start := minString(scc)
	// Breadth-first search for the shortest way back to start, so the
	// message names a real cycle and no detours.
	prev := map[string]string{}
	queue := []string{start}
	visited := map[string]bool{}
	var last string
	for len(queue) > 0 && last == "" {
		v := queue[0]
		queue = queue[1:]
		for _, w := range l.cfg.Graph[v] {
			if !in[w] {
				continue
			}
			if w == start {
				last = v
				break
			}
			if !visited[w] {
				visited[w] = true
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	path := []string{start}
	for v := last; v != start && v != ""; v = prev[v] {
		path = append(path, v)
	}
	// path is start, last, …, second: reverse all but the first.
	for i, j := 1, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	cycle := strings.Join(append(path, start), " → ")
	next := start
	if len(path) > 1 {
		next = path[1]
	}
	subject := l.nodes[start].deps[next]
	l.errorf(&subject, "Dependency cycle: "+cycle,
		"These blocks refer to each other in a cycle: %s. Each must be evaluated before the next, which is impossible; remove one of the references.", cycle)
}
