package compare

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/policy"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Better says which way a metric improves.
type Better string

const (
	Lower  Better = "lower"
	Higher Better = "higher"
)

// Table is an experiment's instances side by side.
type Table struct {
	Experiment string `json:"experiment"`
	Sort       string `json:"sort,omitempty"` // as given: "loss", "-accuracy", "+accuracy"
	// SortKey is the metric or param the rows are sorted by ("" by
	// address) and Sorted the direction, "ascending" or "descending".
	SortKey string `json:"sort_key,omitempty"`
	Sorted  string `json:"sorted,omitempty"`
	// Objective is the metric the experiment declares it optimizes.
	Objective string   `json:"objective,omitempty"`
	Params    []string `json:"params"`  // column names, sorted
	Metrics   []Metric `json:"metrics"` // columns, sorted by name
	Rows      []Row    `json:"instances"`
}

// Metric is one metric column.
type Metric struct {
	Name   string `json:"name"`
	Better Better `json:"better"`
	// Declared says the experiment's objective gives the metric's goal;
	// otherwise Better is guessed from its name.
	Declared bool `json:"declared"`
	// Best is the best value among succeeded runs; nil when none has one.
	Best *Value `json:"best"`
}

// Row is one instance: its latest run.
type Row struct {
	Address string          `json:"address"`
	RunID   string          `json:"run_id"`
	Status  providers.State `json:"status"`
	// Reason says why a run that did not succeed ended so: the rule that
	// stopped it, its failure.
	Reason string `json:"reason,omitempty"`
	// Promoted says successive halving promoted the run's point to the
	// next rung.
	Promoted bool                       `json:"promoted,omitempty"`
	Params   map[string]json.RawMessage `json:"params"`
	Metrics  map[string]Value           `json:"metrics"`
	// Best names the metrics whose best value this row has.
	Best []string `json:"best"`
	// NotInConfig says the instance is no longer in the configuration
	// (compare -all).
	NotInConfig bool `json:"not_in_config,omitempty"`
}

// IsBest reports whether the row has the best value of metric.
func (r *Row) IsBest(metric string) bool { return slices.Contains(r.Best, metric) }

// Value is a metric value; NaN and the infinities are written to JSON as
// the strings "NaN", "+Inf" and "-Inf".
type Value float64

func (v Value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(f)
}

// lowerWords are the words of metric names whose smaller values are better.
var lowerWords = []string{
	"loss", "error", "err", "mse", "rmse", "mae", "mape", "nll", "perplexity", "ppl",
	"wer", "cer", "latency", "time", "seconds", "duration", "regret", "cost", "distance",
}

// LowerIsBetter guesses a metric's direction from its name: lower is
// better when a word of it (words split at anything not a letter or digit,
// so val_loss, test/mse, eval-error_rate) is a loss or an error such as
// loss, error, mse, rmse, mae, nll, perplexity, wer, latency, time, or ends
// in "loss" or "error" (trainloss); higher is better otherwise (accuracy,
// f1, auc, precision, reward…).
func LowerIsBetter(name string) bool {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for _, w := range words {
		if slices.Contains(lowerWords, w) || strings.HasSuffix(w, "loss") || strings.HasSuffix(w, "error") {
			return true
		}
	}
	return false
}

// Latest returns the latest run of each instance of an experiment, in the
// order their instances first appear in runs (oldest first, as
// state.Store.Runs returns them): the rows compare shows. Reproductions
// (ReproOf set) are left out: re-running a run checks it, it does not make
// it current.
func Latest(runs []*state.Run, experiment string) []*state.Run {
	latest := map[string]*state.Run{}
	var order []string
	for _, r := range runs {
		if r.Experiment != experiment || r.ReproOf != "" {
			continue
		}
		if latest[r.Address] == nil {
			order = append(order, r.Address)
		}
		latest[r.Address] = r
	}
	out := make([]*state.Run, len(order))
	for i, a := range order {
		out[i] = latest[a]
	}
	return out
}

// Options say how Build lays a table out.
type Options struct {
	// Sort is "" (the objective, best first; without one, by address),
	// NAME (a metric: best first, as its goal says; a param: ascending),
	// +NAME (ascending) or -NAME (descending). NAME is a metric or a param.
	Sort string
	// Objective is what the experiment declares it optimizes, nil when it
	// declares nothing: the goal of each metric it names says which way
	// that metric improves; the others' goals are guessed from their names
	// (LowerIsBetter).
	Objective *lang.Objective
	// Metrics returns the latest metrics of a run; nil means those its
	// record holds. Give runtime.LiveMetrics to see live runs' too.
	Metrics func(*state.Run) map[string]state.Metric
	// InConfig says whether an instance is in the configuration; nil
	// means every one is. Rows of the others are marked NotInConfig.
	InConfig func(address string) bool
}

// Build lays out the latest runs of an experiment's instances (one per
// instance), sorted by sortBy as Options.Sort says, the direction of each
// metric guessed from its name. BuildWith takes the experiment's objective.
func Build(experiment string, runs []*state.Run, sortBy string) (*Table, error) {
	return BuildWith(experiment, runs, Options{Sort: sortBy})
}

// BuildWith lays out the latest runs of an experiment's instances (one per
// instance): each metric's best value among succeeded runs marked the way
// its declared goal (or its name) says, sorted as o.Sort says, rows
// without the sort key last. A run that a run at the next rung of
// successive halving was promoted from is marked promoted.
func BuildWith(experiment string, runs []*state.Run, o Options) (*Table, error) {
	t := &Table{Experiment: experiment, Sort: o.Sort, Params: []string{}, Metrics: []Metric{}, Rows: make([]Row, 0, len(runs))}
	if o.Objective != nil {
		t.Objective = o.Objective.Metric
	}
	promoted := map[string]bool{}
	for _, r := range runs {
		if r.PromotedFrom != "" {
			promoted[r.PromotedFrom] = true
		}
	}
	params, metrics := map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		latest := r.Metrics
		if o.Metrics != nil {
			latest = o.Metrics(r)
		}
		row := Row{Address: r.Address, RunID: r.ID, Status: r.Status, Promoted: promoted[r.ID], Params: r.Params,
			Metrics: make(map[string]Value, len(latest)), Best: []string{}}
		row.NotInConfig = o.InConfig != nil && !o.InConfig(r.Address)
		if r.Status != providers.Succeeded {
			row.Reason = r.Reason
		}
		if row.Params == nil {
			row.Params = map[string]json.RawMessage{}
		}
		for k := range r.Params {
			params[k] = true
		}
		for k, m := range latest {
			metrics[k] = true
			row.Metrics[k] = Value(m.Value)
		}
		t.Rows = append(t.Rows, row)
	}
	t.Params = slices.Sorted(maps.Keys(params))
	if t.Params == nil {
		t.Params = []string{} // [] in JSON, never null
	}

	sortBy := o.Sort
	if sortBy == "" && metrics[t.Objective] {
		sortBy = t.Objective
	}
	key, sign := sortBy, byte(0)
	if sortBy != "" && (sortBy[0] == '-' || sortBy[0] == '+') {
		key, sign = sortBy[1:], sortBy[0]
	}
	if sortBy != "" && !metrics[key] && !params[key] {
		return nil, fmt.Errorf("-sort %s: experiment.%s has no metric or param named %q; metrics: %s; params: %s",
			sortBy, experiment, key, listOr(slices.Sorted(maps.Keys(metrics))), listOr(t.Params))
	}
	for _, name := range slices.Sorted(maps.Keys(metrics)) {
		m := Metric{Name: name, Better: Higher}
		if g, ok := o.Objective.GoalOf(name); ok {
			m.Declared = true
			if g == policy.Minimize {
				m.Better = Lower
			}
		} else if LowerIsBetter(name) {
			m.Better = Lower
		}
		t.Metrics = append(t.Metrics, m)
	}
	t.markBest()

	switch {
	case sortBy == "":
		slices.SortStableFunc(t.Rows, func(a, b Row) int { return lang.CompareAddresses(a.Address, b.Address) })
	case metrics[key]:
		// Without a sign, the best first.
		desc := sign == '-' || sign == 0 && t.metric(key).Better == Higher
		t.Sorted = map[bool]string{true: "descending", false: "ascending"}[desc]
		slices.SortStableFunc(t.Rows, func(a, b Row) int {
			va, okA := finiteMetric(a, key)
			vb, okB := finiteMetric(b, key)
			return compareKeyed(okA, okB, func() int { return cmpFloat(va, vb) }, desc, a.Address, b.Address)
		})
	default:
		desc := sign == '-'
		t.Sorted = map[bool]string{true: "descending", false: "ascending"}[desc]
		slices.SortStableFunc(t.Rows, func(a, b Row) int {
			pa, okA := a.Params[key]
			pb, okB := b.Params[key]
			return compareKeyed(okA, okB, func() int { return compareJSON(pa, pb) }, desc, a.Address, b.Address)
		})
	}
	t.SortKey = key
	return t, nil
}

func (t *Table) metric(name string) *Metric {
	for i := range t.Metrics {
		if t.Metrics[i].Name == name {
			return &t.Metrics[i]
		}
	}
	return nil
}

// markBest finds each metric's best value among succeeded runs and marks
// every row that has it.
func (t *Table) markBest() {
	for i := range t.Metrics {
		m := &t.Metrics[i]
		for _, r := range t.Rows {
			v, ok := finiteMetric(r, m.Name)
			if !ok || r.Status != providers.Succeeded {
				continue
			}
			if m.Best == nil || (m.Better == Lower && v < float64(*m.Best)) || (m.Better == Higher && v > float64(*m.Best)) {
				b := Value(v)
				m.Best = &b
			}
		}
		if m.Best == nil {
			continue
		}
		for j := range t.Rows {
			r := &t.Rows[j]
			if v, ok := finiteMetric(*r, m.Name); ok && r.Status == providers.Succeeded && v == float64(*m.Best) {
				r.Best = append(r.Best, m.Name)
			}
		}
	}
}

func finiteMetric(r Row, name string) (float64, bool) {
	v, ok := r.Metrics[name]
	f := float64(v)
	return f, ok && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// compareKeyed orders rows with a sort key before rows without, by the key
// (reversed when desc), then by address.
func compareKeyed(okA, okB bool, cmp func() int, desc bool, addrA, addrB string) int {
	switch {
	case okA && !okB:
		return -1
	case !okA && okB:
		return 1
	case okA && okB:
		c := cmp()
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return lang.CompareAddresses(addrA, addrB)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareJSON orders param values: numbers by value, anything else by its
// text (numbers first).
func compareJSON(a, b json.RawMessage) int {
	var fa, fb float64
	errA, errB := json.Unmarshal(a, &fa), json.Unmarshal(b, &fb)
	switch {
	case errA == nil && errB == nil:
		return cmpFloat(fa, fb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(string(a), string(b))
}

func listOr(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// BestOfObjectives returns the ids of the runs that have the best value of
// their experiment's objective among succeeded runs, as a Table marks it:
// runs are by experiment, the objectives those of cfg's experiments.
func BestOfObjectives(cfg *lang.Config, byExp map[string][]*state.Run) map[string]bool {
	best := map[string]bool{}
	for name, runs := range byExp {
		exp := cfg.Experiments[name]
		if exp == nil || exp.Objective == nil {
			continue
		}
		t, err := BuildWith(name, runs, Options{Objective: exp.Objective})
		if err != nil {
			continue
		}
		for _, row := range t.Rows {
			if row.IsBest(exp.Objective.Metric) {
				best[row.RunID] = true
			}
		}
	}
	return best
}
