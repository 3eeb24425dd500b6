package lang

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/trainrun/trainrun/policy"
)

// What an experiment optimizes, and what its sweep does with its runs:
//
//	objective {
//	  metric = "val_acc"
//	  goal   = "maximize"
//	  goals  = { val_loss = "minimize" }   # other metrics, where it matters
//	}
//	sweep {
//	  random { … }
//	  early_stopping {                     # HyperDrive's policies
//	    policy              = "median"     # "bandit" | "truncation"
//	    metric              = "val_loss"   # default: the objective's
//	    goal                = "minimize"   # default: the metric's declared goal
//	    evaluation_interval = 1            # in the metric's steps
//	    delay_evaluation    = 5
//	    slack_factor        = 0.1          # bandit (or slack_amount)
//	    truncation_percentage = 20         # truncation
//	  }
//	  asha {                               # or successive halving
//	    budget      = "epochs"             # the param each rung sets
//	    min_budget  = 1
//	    max_budget  = 27
//	    eta         = 3
//	    resume_from = "checkpoint/"        # a rung starts from the lower rung's
//	  }
//	}

// Objective is what an experiment optimizes: one metric and its goal, and
// the goals of its other metrics where they were declared.
type Objective struct {
	Metric string      `json:"metric"`
	Goal   policy.Goal `json:"goal"`
	// Goals holds every declared goal by metric, the objective's included.
	Goals map[string]policy.Goal `json:"goals"`
}

// GoalOf returns the declared goal of metric, if any. A nil Objective
// declares none.
func (o *Objective) GoalOf(metric string) (policy.Goal, bool) {
	if o == nil {
		return "", false
	}
	g, ok := o.Goals[metric]
	return g, ok
}

// Halving is successive halving (ASHA): every point of the sweep runs at
// the smallest budget; the best 1/Eta of each rung is promoted to the next.
type Halving struct {
	Param   string      `json:"budget"`  // the parameter each rung sets: the budget
	Budgets []float64   `json:"budgets"` // of the rungs, increasing
	Eta     int         `json:"eta"`
	Metric  string      `json:"metric"`
	Goal    policy.Goal `json:"goal"`
	// ResumeFrom, when set, is an output path of the experiment that a
	// promoted run finds in its working directory, as the run of the rung
	// below left it: training goes on from its checkpoint.
	ResumeFrom string `json:"resume_from,omitempty"`
}

// String describes h for a plan: "asha on val_loss (minimize): epochs 1,
// 3, 9, 27; the best 1/3 of each rung goes on".
func (h *Halving) String() string {
	if h == nil {
		return ""
	}
	budgets := make([]string, len(h.Budgets))
	for i, b := range h.Budgets {
		budgets[i] = formatNumber(b)
	}
	s := fmt.Sprintf("asha on %s (%s): %s %s; the best 1/%d of each rung goes on", h.Metric, h.Goal, h.Param, strings.Join(budgets, ", "), h.Eta)
	if h.ResumeFrom != "" {
		s += ", resuming from " + h.ResumeFrom
	}
	return s
}

// RungName names rung k of h as instance keys write it: "epochs=3".
func (h *Halving) RungName(k int) string {
	if h == nil || k < 0 || k >= len(h.Budgets) {
		return ""
	}
	return h.Param + "=" + formatNumber(h.Budgets[k])
}

func formatNumber(f float64) string {
	v, _ := canonicalJSON(cty.NumberFloatVal(f))
	return string(v)
}

var objectiveSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "metric", Required: true}, {Name: "goal", Required: true}, {Name: "goals"}},
}

var earlyStoppingSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "policy", Required: true}, {Name: "metric"}, {Name: "goal"},
		{Name: "evaluation_interval"}, {Name: "delay_evaluation"},
		{Name: "slack_factor"}, {Name: "slack_amount"}, {Name: "truncation_percentage"},
	},
}

var ashaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "budget", Required: true}, {Name: "min_budget", Required: true}, {Name: "max_budget", Required: true},
		{Name: "eta"}, {Name: "metric"}, {Name: "goal"}, {Name: "resume_from"},
	},
}

// policyDecl holds what the policy blocks of one experiment declared.
type policyDecl struct {
	objective      hcl.Attributes
	objectiveRange hcl.Range
	stopping       hcl.Attributes
	stoppingRange  hcl.Range
	asha           hcl.Attributes
	ashaRange      hcl.Range
}

// attrs lists every attribute of the policy blocks, for scanning their
// references.
func (p *policyDecl) attrs() []*hcl.Attribute {
	var out []*hcl.Attribute
	for _, m := range []hcl.Attributes{p.objective, p.stopping, p.asha} {
		out = append(out, sortedAttrs(m)...)
	}
	return out
}

// declareObjective takes an experiment's objective block.
func (l *loader) declareObjective(e *expDecl, b *hcl.Block) bool {
	c, diags := b.Body.Content(objectiveSchema)
	l.add(diags)
	if diags.HasErrors() || c == nil {
		return false
	}
	e.policies.objective, e.policies.objectiveRange = c.Attributes, b.DefRange
	return true
}

// declareSweepBlocks takes the blocks of a sweep: random, early_stopping,
// asha, at most one of each.
func (l *loader) declareSweepBlocks(e *expDecl, blocks hcl.Blocks) bool {
	ok := true
	var random hcl.Blocks
	seen := map[string]*hcl.Block{}
	for _, b := range blocks {
		if b.Type == "random" {
			random = append(random, b)
			continue
		}
		if prev := seen[b.Type]; prev != nil {
			l.add(hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + b.Type + " block",
				Detail:   fmt.Sprintf("A %s block was already given at %s. A sweep has at most one; merge them.", b.Type, rangeString(prev.DefRange)),
				Subject:  b.DefRange.Ptr(),
			}})
			ok = false
			continue
		}
		seen[b.Type] = b
		schema := earlyStoppingSchema
		if b.Type == "asha" {
			schema = ashaSchema
		}
		c, diags := b.Body.Content(schema)
		l.add(diags)
		if diags.HasErrors() || c == nil {
			ok = false
			continue
		}
		if b.Type == "asha" {
			e.policies.asha, e.policies.ashaRange = c.Attributes, b.DefRange
		} else {
			e.policies.stopping, e.policies.stoppingRange = c.Attributes, b.DefRange
		}
	}
	if es, asha := seen["early_stopping"], seen["asha"]; es != nil && asha != nil {
		l.add(hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "early_stopping with asha",
			Detail:   fmt.Sprintf("This sweep also has asha (at %s). Successive halving stops points itself, rung by rung: keep one of the two.", rangeString(asha.DefRange)),
			Subject:  es.DefRange.Ptr(),
		}})
		ok = false
	}
	return l.declareRandom(e, random) && ok
}

// evalPolicies evaluates an experiment's objective, early_stopping and asha
// blocks into exp.
func (l *loader) evalPolicies(e *expDecl, exp *Experiment, ctx *hcl.EvalContext) bool {
	p := &e.policies
	ok := true
	if p.objective != nil {
		exp.Objective, ok = l.evalObjective(p, ctx)
		if !ok {
			return false
		}
	}
	if p.stopping != nil {
		if exp.EarlyStopping, ok = l.evalStopping(p, exp.Objective, ctx); !ok {
			return false
		}
	}
	if p.asha != nil {
		if exp.Halving, ok = l.evalHalving(p, exp.Objective, ctx); !ok {
			return false
		}
	}
	return true
}

func (l *loader) evalObjective(p *policyDecl, ctx *hcl.EvalContext) (*Objective, bool) {
	metric, ok := l.policyString(p.objective["metric"], ctx)
	if !ok || !l.checkMetricName(metric, p.objective["metric"]) {
		return nil, false
	}
	goal, ok := l.policyGoal(p.objective["goal"], ctx)
	if !ok {
		return nil, false
	}
	o := &Objective{Metric: metric, Goal: goal, Goals: map[string]policy.Goal{metric: goal}}
	if a := p.objective["goals"]; a != nil {
		v, ok := l.eval(a.Expr, ctx)
		if !ok {
			return nil, false
		}
		elems, isObj := objectElems(l.unmark(v, false))
		if !isObj {
			l.errorf(a.Expr.Range().Ptr(), "Invalid goals",
				"goals must map metric names to \"minimize\" or \"maximize\", such as goals = { val_loss = \"minimize\" }.")
			return nil, false
		}
		for _, name := range slices.Sorted(maps.Keys(elems)) {
			s, err := convert.Convert(elems[name], cty.String)
			g := policy.Goal("")
			if err == nil && !s.IsNull() {
				g = policy.Goal(s.AsString())
			}
			if !g.Valid() {
				l.errorf(a.Expr.Range().Ptr(), "Invalid goal",
					"The goal of %s must be \"minimize\" or \"maximize\".", name)
				return nil, false
			}
			if name == metric && g != goal {
				l.errorf(a.Expr.Range().Ptr(), "Conflicting goals",
					"goals says %s for %s, the objective's metric, whose goal is %s. Give it once, as goal.", g, name, goal)
				return nil, false
			}
			o.Goals[name] = g
		}
	}
	return o, true
}

// metricAndGoal reads a policy block's metric and goal, which default to
// the objective's metric and to the metric's declared goal.
func (l *loader) metricAndGoal(attrs hcl.Attributes, rng hcl.Range, block string, obj *Objective, ctx *hcl.EvalContext) (string, policy.Goal, bool) {
	metric := ""
	if a := attrs["metric"]; a != nil {
		s, ok := l.policyString(a, ctx)
		if !ok || !l.checkMetricName(s, a) {
			return "", "", false
		}
		metric = s
	} else if obj != nil {
		metric = obj.Metric
	} else {
		l.errorf(rng.Ptr(), "Missing metric",
			"%s needs the metric it ranks runs by: add metric = \"val_loss\" here, or declare the experiment's objective { metric = \"val_loss\", goal = \"minimize\" }.", block)
		return "", "", false
	}
	if a := attrs["goal"]; a != nil {
		g, ok := l.policyGoal(a, ctx)
		if !ok {
			return "", "", false
		}
		if declared, found := obj.GoalOf(metric); found && declared != g {
			l.errorf(a.Expr.Range().Ptr(), "Conflicting goals",
				"The objective declares %s's goal as %s. Remove this goal, or change the objective's.", metric, declared)
			return "", "", false
		}
		return metric, g, true
	}
	if g, found := obj.GoalOf(metric); found {
		return metric, g, true
	}
	l.errorf(rng.Ptr(), "Missing goal",
		"%s needs to know whether %s should go down or up: add goal = \"minimize\" or goal = \"maximize\" here, or declare it in the experiment's objective.", block, metric)
	return "", "", false
}

func (l *loader) evalStopping(p *policyDecl, obj *Objective, ctx *hcl.EvalContext) (*policy.Stopping, bool) {
	attrs := p.stopping
	name, ok := l.policyString(attrs["policy"], ctx)
	if !ok {
		return nil, false
	}
	if !containsString(policy.Policies, name) {
		l.errorf(attrs["policy"].Expr.Range().Ptr(), "Unknown early-stopping policy",
			"There is no policy %q.%s Write policy = \"bandit\", \"median\" or \"truncation\".", name, didYouMean(name, policy.Policies))
		return nil, false
	}
	s := &policy.Stopping{Policy: name, EvaluationInterval: 1}
	if s.Metric, s.Goal, ok = l.metricAndGoal(attrs, p.stoppingRange, "early_stopping", obj, ctx); !ok {
		return nil, false
	}
	own := map[string][]string{
		policy.Bandit:     {"slack_factor", "slack_amount"},
		policy.Truncation: {"truncation_percentage"},
	}
	for pol, names := range own {
		for _, n := range names {
			if a := attrs[n]; a != nil && pol != name {
				l.errorf(a.NameRange.Ptr(), "Setting of another policy",
					"%s is a setting of the %s policy, and this one is %s. Remove it, or write policy = %q.", n, pol, name, pol)
				return nil, false
			}
		}
	}
	num := func(n string, dst *float64, check func(float64) bool, want string) bool {
		a := attrs[n]
		if a == nil {
			return true
		}
		v, ok := l.eval(a.Expr, ctx)
		if !ok {
			return false
		}
		f, fin := finite(l.unmark(v, false))
		if !fin || !check(f) {
			l.errorf(a.Expr.Range().Ptr(), "Invalid value for "+n, "%s must be %s.", n, want)
			return false
		}
		*dst = f
		return true
	}
	if !num("evaluation_interval", &s.EvaluationInterval, func(f float64) bool { return f > 0 }, "a number of steps above 0") ||
		!num("delay_evaluation", &s.DelayEvaluation, func(f float64) bool { return f >= 0 }, "a number of steps, 0 or more") ||
		!num("slack_factor", &s.SlackFactor, func(f float64) bool { return f > 0 }, "a ratio above 0, such as 0.1") ||
		!num("slack_amount", &s.SlackAmount, func(f float64) bool { return f > 0 }, "an amount of the metric above 0, such as 0.05") ||
		!num("truncation_percentage", &s.TruncationPercentage, func(f float64) bool { return f >= 1 && f <= 99 }, "a percentage between 1 and 99") {
		return nil, false
	}
	switch {
	case name == policy.Bandit && attrs["slack_factor"] == nil && attrs["slack_amount"] == nil:
		l.errorf(p.stoppingRange.Ptr(), "Missing slack",
			"The bandit policy stops runs that fall behind the best by more than a slack: add slack_factor = 0.1 (a ratio) or slack_amount = 0.05 (an amount of the metric).")
		return nil, false
	case name == policy.Bandit && attrs["slack_factor"] != nil && attrs["slack_amount"] != nil:
		l.errorf(attrs["slack_amount"].NameRange.Ptr(), "Two slacks",
			"The bandit policy takes slack_factor or slack_amount, not both. Keep one.")
		return nil, false
	case name == policy.Truncation && attrs["truncation_percentage"] == nil:
		l.errorf(p.stoppingRange.Ptr(), "Missing truncation_percentage",
			"The truncation policy stops the worst part of the runs at each evaluation: add truncation_percentage = 20 (1 to 99).")
		return nil, false
	}
	if err := s.Validate(); err != nil { // what the checks above missed
		l.errorf(p.stoppingRange.Ptr(), "Invalid early_stopping", "%v.", err)
		return nil, false
	}
	return s, true
}

func (l *loader) evalHalving(p *policyDecl, obj *Objective, ctx *hcl.EvalContext) (*Halving, bool) {
	attrs := p.asha
	h := &Halving{Eta: 3}
	var ok bool
	if h.Param, ok = l.policyString(attrs["budget"], ctx); !ok {
		return nil, false
	}
	if !validName(h.Param) {
		l.errorf(attrs["budget"].Expr.Range().Ptr(), "Invalid budget",
			"budget names the parameter each rung sets, such as budget = \"epochs\"; %q is not a parameter name.", h.Param)
		return nil, false
	}
	number := func(n string) (float64, bool) {
		a := attrs[n]
		v, ok := l.eval(a.Expr, ctx)
		if !ok {
			return 0, false
		}
		f, fin := finite(l.unmark(v, false))
		if !fin || f <= 0 {
			l.errorf(a.Expr.Range().Ptr(), "Invalid value for "+n, "%s must be a number above 0.", n)
			return 0, false
		}
		return f, true
	}
	lo, ok := number("min_budget")
	if !ok {
		return nil, false
	}
	hi, ok := number("max_budget")
	if !ok {
		return nil, false
	}
	if hi < lo {
		l.errorf(attrs["max_budget"].Expr.Range().Ptr(), "Invalid value for max_budget",
			"max_budget (%s) is below min_budget (%s).", formatNumber(hi), formatNumber(lo))
		return nil, false
	}
	if a := attrs["eta"]; a != nil {
		v, ok := l.eval(a.Expr, ctx)
		if !ok {
			return nil, false
		}
		if h.Eta, ok = l.wholeNumber(l.unmark(v, false), a, "eta", 2); !ok {
			return nil, false
		}
	}
	h.Budgets = policy.Budgets(lo, hi, h.Eta)
	if len(h.Budgets) > 64 {
		l.errorf(attrs["max_budget"].Expr.Range().Ptr(), "Too many rungs",
			"From %s to %s by a factor of %d is %d rungs. Raise min_budget or eta.", formatNumber(lo), formatNumber(hi), h.Eta, len(h.Budgets))
		return nil, false
	}
	if h.Metric, h.Goal, ok = l.metricAndGoal(attrs, p.ashaRange, "asha", obj, ctx); !ok {
		return nil, false
	}
	if a := attrs["resume_from"]; a != nil {
		s, ok := l.policyString(a, ctx)
		if !ok {
			return nil, false
		}
		if err := checkOutputPath(s); err != nil {
			l.errorf(a.Expr.Range().Ptr(), "Invalid resume_from",
				"resume_from %q %v. It names an output of the experiment, relative to the run's working directory, such as \"checkpoint/\".", s, err)
			return nil, false
		}
		h.ResumeFrom = s
	}
	return h, true
}

// checkResumeFrom says whether resume_from is one of the instance's
// outputs (or lies within one): only what is collected can be resumed
// from.
func (l *loader) checkResumeFrom(e *expDecl, h *Halving, inst *Instance) bool {
	if h == nil || h.ResumeFrom == "" {
		return true
	}
	want := strings.TrimSuffix(path.Clean(h.ResumeFrom), "/")
	for _, o := range inst.Outputs {
		o = strings.TrimSuffix(path.Clean(o), "/")
		if want == o || strings.HasPrefix(want, o+"/") {
			return true
		}
	}
	l.errorf(e.policies.asha["resume_from"].Expr.Range().Ptr(), "resume_from is not an output",
		"resume_from is %q, which outputs does not collect, so no rung could resume from it. Add it to outputs, such as outputs = [%q].", h.ResumeFrom, h.ResumeFrom)
	return false
}

func (l *loader) policyString(a *hcl.Attribute, ctx *hcl.EvalContext) (string, bool) {
	v, ok := l.eval(a.Expr, ctx)
	if !ok {
		return "", false
	}
	return l.toString(l.unmark(v, false), a.Expr.Range(), a.Name)
}

func (l *loader) policyGoal(a *hcl.Attribute, ctx *hcl.EvalContext) (policy.Goal, bool) {
	s, ok := l.policyString(a, ctx)
	if !ok {
		return "", false
	}
	g := policy.Goal(s)
	if !g.Valid() {
		l.errorf(a.Expr.Range().Ptr(), "Invalid goal", "goal must be \"minimize\" or \"maximize\", not %q.", s)
		return "", false
	}
	return g, true
}

func (l *loader) checkMetricName(s string, a *hcl.Attribute) bool {
	if strings.TrimSpace(s) == "" || strings.ContainsAny(s, "\x00\n") {
		l.errorf(a.Expr.Range().Ptr(), "Invalid metric name",
			"%s must name a metric the runs write to $TRAINRUN_METRICS_FILE, such as \"val_loss\".", a.Name)
		return false
	}
	return true
}

// ashaDim is the sweep dimension of successive halving's budgets: one
// alternative per rung.
func ashaDim(h *Halving) sweepDim {
	d := sweepDim{names: []string{h.Param}, alts: make([][]pval, len(h.Budgets))}
	for k, b := range h.Budgets {
		d.alts[k] = []pval{numberVal(cty.NumberFloatVal(b))}
	}
	return d
}

// linkRungs makes each instance of a successive-halving sweep above the
// first rung depend on its point's instance at the rung below, whose
// outputs it resumes from (resume_from): that instance's outputs are then
// part of its fingerprint, and it runs after it.
func linkRungs(h *Halving, instances []*Instance) {
	if h.ResumeFrom == "" {
		return
	}
	type at struct {
		point string
		rung  int
	}
	byPoint := make(map[at]*Instance, len(instances))
	for _, inst := range instances {
		byPoint[at{inst.Point, inst.Rung}] = inst
	}
	for _, inst := range instances {
		if inst.Rung == 0 {
			continue
		}
		if lower := byPoint[at{inst.Point, inst.Rung - 1}]; lower != nil {
			deps := append(append([]string(nil), inst.DependsOn...), lower.Address)
			sort.Strings(deps)
			inst.DependsOn = deps
		}
	}
}
