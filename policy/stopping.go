package policy

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Goal says which way a metric improves.
type Goal string

const (
	Minimize Goal = "minimize"
	Maximize Goal = "maximize"
)

// Valid reports whether g is Minimize or Maximize.
func (g Goal) Valid() bool { return g == Minimize || g == Maximize }

// Better reports whether a is strictly better than b. NaN (a loss that
// diverged) is worse than every number.
func (g Goal) Better(a, b float64) bool {
	a, b = g.ranked(a), g.ranked(b)
	if g == Maximize {
		return a > b
	}
	return a < b
}

// ranked maps NaN to the worst value there is for g.
func (g Goal) ranked(v float64) float64 {
	if !math.IsNaN(v) {
		return v
	}
	if g == Maximize {
		return math.Inf(-1)
	}
	return math.Inf(1)
}

// The policies.
const (
	Bandit     = "bandit"
	Median     = "median"
	Truncation = "truncation"
)

// Policies lists the early-stopping policies, sorted.
var Policies = []string{Bandit, Median, Truncation}

// Stopping is an early-stopping policy with its settings.
type Stopping struct {
	Policy string `json:"policy"` // Bandit, Median or Truncation
	Metric string `json:"metric"`
	Goal   Goal   `json:"goal"`
	// EvaluationInterval and DelayEvaluation say at which steps the
	// policy looks at a run: every multiple of EvaluationInterval that is
	// at least DelayEvaluation. EvaluationInterval 0 means 1.
	EvaluationInterval float64 `json:"evaluation_interval"`
	DelayEvaluation    float64 `json:"delay_evaluation"`
	// Bandit: a run is stopped when its best value is worse than the best
	// run's by more than SlackFactor (a ratio) or SlackAmount (an amount).
	// One of them is set.
	SlackFactor float64 `json:"slack_factor,omitempty"`
	SlackAmount float64 `json:"slack_amount,omitempty"`
	// Truncation: the percentage (1 to 99) of the worst runs stopped at
	// each evaluation.
	TruncationPercentage float64 `json:"truncation_percentage,omitempty"`
}

// Validate says what is wrong with s, if anything.
func (s *Stopping) Validate() error {
	var errs []error
	switch s.Policy {
	case Bandit:
		if (s.SlackFactor > 0) == (s.SlackAmount > 0) {
			errs = append(errs, errors.New("bandit takes one of slack_factor and slack_amount, above 0"))
		}
	case Median:
	case Truncation:
		if !(s.TruncationPercentage >= 1 && s.TruncationPercentage <= 99) {
			errs = append(errs, errors.New("truncation_percentage must be between 1 and 99"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown policy %q; want bandit, median or truncation", s.Policy))
	}
	if s.Metric == "" {
		errs = append(errs, errors.New("no metric"))
	}
	if !s.Goal.Valid() {
		errs = append(errs, fmt.Errorf("goal %q is neither minimize nor maximize", s.Goal))
	}
	if s.EvaluationInterval < 0 || s.DelayEvaluation < 0 || math.IsNaN(s.EvaluationInterval) || math.IsNaN(s.DelayEvaluation) {
		errs = append(errs, errors.New("evaluation_interval and delay_evaluation cannot be negative"))
	}
	return errors.Join(errs...)
}

// Due reports whether the policy looks at a run that reports step.
func (s *Stopping) Due(step float64) bool {
	if step < s.DelayEvaluation || math.IsNaN(step) {
		return false
	}
	iv := s.EvaluationInterval
	if iv <= 0 {
		iv = 1
	}
	q := step / iv
	return math.Abs(q-math.Round(q)) <= 1e-9*math.Max(1, math.Abs(q))
}

// Rule names the policy in reasons.
func (s *Stopping) Rule() string {
	switch s.Policy {
	case Median:
		return "median stopping"
	case Truncation:
		return "truncation selection"
	}
	return s.Policy
}

// Decision is what a policy decided about a run at one of its reports.
type Decision struct {
	ID   string // the run
	Stop bool
	// Evaluated is false when the step was not one the policy looks at.
	Evaluated bool
	Step      float64
	// Value is what of the run was compared: its best value up to Step
	// (bandit, median) or its value at Step (truncation).
	Value float64
	// Reference is what it was compared with: the bandit's threshold, the
	// median, or the worst value truncation keeps.
	Reference float64
	// Runs is how many runs the reference was made of.
	Runs int
	// Reason says it in a sentence, for the run's record:
	// "median stopping at step 12: val_loss 0.91 worse than median 0.52 of 7 runs".
	Reason string
}

// series is the reports of one run, by increasing step.
type series struct {
	id    string
	steps []float64 // increasing
	vals  []float64 // NaN ranked as the worst value
	best  []float64 // best[i] is the best of vals[:i+1]
	sum   []float64 // sum[i] is the sum of vals[:i+1]
}

// last returns the index of the last report at or before step, or -1.
func (s *series) last(step float64) int {
	return sort.Search(len(s.steps), func(i int) bool { return s.steps[i] > step }) - 1
}

// tip is a run's latest report with its running aggregates. The tips of
// all runs are kept in one array: a decision scans every run, and most are
// not past the step it is made at, so it reads their tips alone.
type tip struct {
	first, step    float64 // the first and latest steps reported
	val, best, sum float64 // at the latest step
	n              int     // reports
	ended          bool    // no decision is made about it any more
	s              *series
}

// at returns the run's value, best value and sum of values up to step, and
// how many reports that is; ok is false without a report at or before
// step.
func (t *tip) at(step float64) (val, best, sum float64, n int, ok bool) {
	switch {
	case t.n == 0 || t.first > step:
		return 0, 0, 0, 0, false
	case t.step <= step:
		return t.val, t.best, t.sum, t.n, true
	}
	k := t.s.last(step)
	return t.s.vals[k], t.s.best[k], t.s.sum[k], k + 1, true
}

// reached reports whether the run got as far as step: it reported that
// step or a later one, and one at or before it (its value there).
func (t *tip) reached(step float64) bool {
	return t.n > 0 && t.step >= step && t.first <= step
}

// Sweep holds the reports of the runs of one sweep and decides which to
// stop as reports come. The zero value is not usable; call NewSweep.
//
// The bandit and median stopping look at a run when it reports a step the
// policy is due at, comparing it with every run's reports up to that step.
// Truncation selection ranks the runs that reached a step each time one
// more reaches it, so that a run that is ahead of the others is ranked too
// once they catch up, at the same step.
type Sweep struct {
	s    Stopping
	byID map[string]int // index in tips
	tips []tip
	buf  []float64
}

// NewSweep returns an empty sweep under policy s.
func NewSweep(s Stopping) *Sweep {
	return &Sweep{s: s, byID: make(map[string]int)}
}

// Policy returns the sweep's policy.
func (w *Sweep) Policy() Stopping { return w.s }

// Runs is the number of runs with reports.
func (w *Sweep) Runs() int { return len(w.tips) }

func (w *Sweep) tip(id string) *tip {
	i, ok := w.byID[id]
	if !ok {
		i = len(w.tips)
		w.byID[id] = i
		w.tips = append(w.tips, tip{s: &series{id: id}})
	}
	return &w.tips[i]
}

// Add records that run id reported value at step, deciding nothing (the
// reports of a run that ended, read back). A step at or below the run's
// last one means the run started over from there (a retry, a resumed
// checkpoint): its reports from that step on are replaced.
func (w *Sweep) Add(id string, step, value float64) {
	if math.IsNaN(step) || math.IsInf(step, 0) {
		return
	}
	t := w.tip(id)
	s := t.s
	if t.n > 0 && t.step >= step {
		k := s.last(step)
		if k >= 0 && s.steps[k] == step {
			k--
		}
		s.steps, s.vals, s.best, s.sum = s.steps[:k+1], s.vals[:k+1], s.best[:k+1], s.sum[:k+1]
	}
	v := w.s.Goal.ranked(value)
	best, sum := v, v
	if n := len(s.steps); n > 0 {
		if !w.s.Goal.Better(v, s.best[n-1]) {
			best = s.best[n-1]
		}
		sum += s.sum[n-1]
	}
	s.steps = append(s.steps, step)
	s.vals = append(s.vals, v)
	s.best = append(s.best, best)
	s.sum = append(s.sum, sum)
	t.first, t.step, t.val, t.best, t.sum, t.n = s.steps[0], step, v, best, sum, len(s.steps)
}

// End says run id ended (it finished, failed or was stopped): its reports
// still count for the others, and no decision is made about it any more.
func (w *Sweep) End(id string) { w.tip(id).ended = true }

// Forget drops every report of run id.
func (w *Sweep) Forget(id string) {
	i, ok := w.byID[id]
	if !ok {
		return
	}
	delete(w.byID, id)
	last := len(w.tips) - 1
	if i != last {
		w.tips[i] = w.tips[last]
		w.byID[w.tips[i].s.id] = i
	}
	w.tips = w.tips[:last]
}

// Report records a report of run id, as Add does, and returns the runs the
// policy stops now, each with its reason: id itself or, for truncation
// selection, any live run that is now among the worst at this step. A run
// stopped is ended (see End).
func (w *Sweep) Report(id string, step, value float64) []Decision {
	w.Add(id, step, value)
	i, ok := w.byID[id]
	if !ok || w.tips[i].ended || w.tips[i].step != step || !w.s.Due(step) {
		return nil
	}
	var stops []Decision
	if w.s.Policy == Truncation {
		stops = w.truncation(step)
	} else if d := w.Decide(id); d.Stop {
		stops = []Decision{d}
	}
	for _, d := range stops {
		w.tips[w.byID[d.ID]].ended = true
	}
	return stops
}

// Decide evaluates run id at its latest report: whether the policy stops
// it there, compared with every run's reports up to that step. It changes
// nothing.
func (w *Sweep) Decide(id string) Decision {
	i, ok := w.byID[id]
	if !ok || w.tips[i].n == 0 {
		return Decision{ID: id}
	}
	t := &w.tips[i]
	d := Decision{ID: id, Step: t.step}
	if !w.s.Due(d.Step) {
		return d
	}
	switch w.s.Policy {
	case Bandit:
		w.bandit(t, &d)
	case Median:
		w.median(t, &d)
	case Truncation:
		for _, x := range w.truncation(d.Step) {
			if x.ID == id {
				return x
			}
		}
		d.Evaluated = true
	}
	return d
}

func (w *Sweep) bandit(t *tip, d *Decision) {
	g := w.s.Goal
	d.Value = t.best
	ref, runs := 0.0, 0
	for i := range w.tips {
		_, best, _, _, ok := w.tips[i].at(d.Step)
		if !ok {
			continue
		}
		if runs == 0 || g.Better(best, ref) {
			ref = best
		}
		runs++
	}
	var threshold float64
	var slack string
	switch {
	case w.s.SlackFactor > 0 && g == Maximize:
		threshold, slack = ref/(1+w.s.SlackFactor), "slack_factor "+num(w.s.SlackFactor)
	case w.s.SlackFactor > 0:
		threshold, slack = ref*(1+w.s.SlackFactor), "slack_factor "+num(w.s.SlackFactor)
	case g == Maximize:
		threshold, slack = ref-w.s.SlackAmount, "slack_amount "+num(w.s.SlackAmount)
	default:
		threshold, slack = ref+w.s.SlackAmount, "slack_amount "+num(w.s.SlackAmount)
	}
	d.Evaluated, d.Reference, d.Runs = true, threshold, runs
	if g.Better(threshold, d.Value) {
		d.Stop = true
		d.Reason = fmt.Sprintf("bandit at step %s: %s %s worse than %s, the best %s of %d runs with %s",
			num(d.Step), w.s.Metric, num(d.Value), num(threshold), num(ref), runs, slack)
	}
}

func (w *Sweep) median(t *tip, d *Decision) {
	d.Value = t.best
	avgs := w.buf[:0]
	for i := range w.tips {
		if _, _, sum, n, ok := w.tips[i].at(d.Step); ok {
			avgs = append(avgs, sum/float64(n))
		}
	}
	w.buf = avgs
	med := median(avgs, w.s.Goal)
	d.Evaluated, d.Reference, d.Runs = true, med, len(avgs)
	if w.s.Goal.Better(med, d.Value) {
		d.Stop = true
		d.Reason = fmt.Sprintf("median stopping at step %s: %s %s worse than median %s of %d runs",
			num(d.Step), w.s.Metric, num(d.Value), num(med), len(avgs))
	}
}

// truncation ranks every run that reached step by its value there (a young
// run is compared with where older runs were at its age) and returns the
// live ones among the worst TruncationPercentage.
func (w *Sweep) truncation(step float64) []Decision {
	g := w.s.Goal
	vals := w.buf[:0]
	for i := range w.tips {
		if t := &w.tips[i]; t.reached(step) {
			v, _, _, _, _ := t.at(step)
			vals = append(vals, v)
		}
	}
	w.buf = vals
	runs := len(vals)
	cut := int(math.Floor(float64(runs) * w.s.TruncationPercentage / 100))
	if cut == 0 {
		return nil
	}
	// The worst value kept: a run is among the worst cut when it is
	// strictly worse, so that runs tied at the edge are all kept.
	edge := nth(vals, runs-cut-1, g)
	var stops []Decision
	for i := range w.tips {
		t := &w.tips[i]
		if t.ended || !t.reached(step) {
			continue
		}
		v, _, _, _, _ := t.at(step)
		if !g.Better(edge, v) {
			continue
		}
		better := 0
		for j := range w.tips {
			if x := &w.tips[j]; x.reached(step) {
				if xv, _, _, _, _ := x.at(step); g.Better(xv, v) {
					better++
				}
			}
		}
		stops = append(stops, Decision{ID: t.s.id, Stop: true, Evaluated: true, Step: step, Value: v, Reference: edge, Runs: runs,
			Reason: fmt.Sprintf("truncation selection at step %s: %s %s in the worst %s%% of %d runs (%d better)",
				num(step), w.s.Metric, num(v), num(w.s.TruncationPercentage), runs, better)})
	}
	return stops
}

// median returns the median of vals (the mean of the middle two for an
// even count), reordering vals.
func median(vals []float64, g Goal) float64 {
	n := len(vals)
	if n == 0 {
		return math.NaN()
	}
	hi := nth(vals, n/2, g)
	if n%2 == 1 {
		return hi
	}
	// After nth, everything before n/2 ranks at or above it: the other
	// middle value is the worst of those.
	lo := vals[0]
	for _, v := range vals[1 : n/2] {
		if g.Better(lo, v) {
			lo = v
		}
	}
	return (lo + hi) / 2
}

// nth reorders vals so that vals[k] is the value that ranks k-th best
// (from 0) under g, better ones before it, and returns it. Quickselect:
// linear on average, which a thousand live runs need.
func nth(vals []float64, k int, g Goal) float64 {
	lo, hi := 0, len(vals)-1
	for lo < hi {
		// Median of three as the pivot: sorted and reversed input stay fast.
		mid := lo + (hi-lo)/2
		if g.Better(vals[mid], vals[lo]) {
			vals[mid], vals[lo] = vals[lo], vals[mid]
		}
		if g.Better(vals[hi], vals[lo]) {
			vals[hi], vals[lo] = vals[lo], vals[hi]
		}
		if g.Better(vals[hi], vals[mid]) {
			vals[hi], vals[mid] = vals[mid], vals[hi]
		}
		pivot := vals[mid]
		i, j := lo, hi
		for i <= j {
			for g.Better(vals[i], pivot) {
				i++
			}
			for g.Better(pivot, vals[j]) {
				j--
			}
			if i <= j {
				vals[i], vals[j] = vals[j], vals[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return vals[k]
		}
	}
	return vals[k]
}

// num writes a number for a reason: 4 significant digits, which tell the
// values apart without pretending to more.
func num(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// String describes the policy with every setting, the same way for the
// same settings: "median stopping on val_loss (minimize), every 1 step from
// step 5". A run records it, so that a changed policy is noticed.
func (s *Stopping) String() string {
	if s == nil {
		return ""
	}
	full := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	var b strings.Builder
	b.WriteString(s.Rule())
	switch s.Policy {
	case Bandit:
		if s.SlackFactor > 0 {
			b.WriteString(" with slack_factor " + full(s.SlackFactor))
		} else {
			b.WriteString(" with slack_amount " + full(s.SlackAmount))
		}
	case Truncation:
		b.WriteString(" of the worst " + full(s.TruncationPercentage) + "%")
	}
	iv := s.EvaluationInterval
	if iv <= 0 {
		iv = 1
	}
	fmt.Fprintf(&b, " on %s (%s), every %s step", s.Metric, s.Goal, full(iv))
	if iv != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, " from step %s", full(s.DelayEvaluation))
	return b.String()
}
