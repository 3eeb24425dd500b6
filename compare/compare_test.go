package compare

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/policy"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

func TestLowerIsBetter(t *testing.T) {
	tests := []struct {
		name  string
		lower bool
	}{
		{"loss", true}, {"val_loss", true}, {"trainloss", true}, {"test/mse", true}, {"RMSE", true},
		{"eval-error_rate", true}, {"top1_err", true}, {"perplexity", true}, {"epoch_time", true}, {"latency_ms", true},
		{"accuracy", false}, {"val_acc", false}, {"f1", false}, {"auc", false}, {"reward", false},
		{"precision", false}, {"errors_fixed_percent", false}, {"timely", false},
	}
	for _, tt := range tests {
		if got := LowerIsBetter(tt.name); got != tt.lower {
			t.Errorf("LowerIsBetter(%q) = %v, want %v", tt.name, got, tt.lower)
		}
	}
}

func run(addr string, status providers.State, params string, metrics map[string]float64) *state.Run {
	r := &state.Run{ID: "id-" + addr, Address: addr, Status: status, Metrics: map[string]state.Metric{}}
	if params != "" {
		if err := json.Unmarshal([]byte(params), &r.Params); err != nil {
			panic(err)
		}
	}
	for k, v := range metrics {
		r.Metrics[k] = state.Metric{Value: v}
	}
	return r
}

func sample() []*state.Run {
	ok := providers.Succeeded
	return []*state.Run{
		run("c", ok, `{"lr":0.1,"opt":"sgd"}`, map[string]float64{"loss": 0.3, "accuracy": 0.8}),
		run("a", ok, `{"lr":0.01,"opt":"adam"}`, map[string]float64{"loss": 0.2, "accuracy": 0.8}),
		run("b", ok, `{"lr":1,"opt":"adam"}`, map[string]float64{"loss": math.NaN(), "accuracy": 0.1}),
		// A failed run's values are shown, never best.
		run("d", providers.Failed, `{"lr":0.5,"opt":"sgd"}`, map[string]float64{"loss": 0.01, "accuracy": 0.99}),
		// No metrics at all.
		run("e", providers.Running, `{"lr":0.05,"opt":"sgd"}`, nil),
	}
}

func order(t *Table) string {
	var out []string
	for _, r := range t.Rows {
		out = append(out, r.Address)
	}
	return strings.Join(out, "")
}

func TestBuild(t *testing.T) {
	tests := []struct {
		sort     string
		order    string
		better   map[string]Better
		bestLoss float64
		bestRows map[string][]string
	}{
		{"", "abcde", map[string]Better{"loss": Lower, "accuracy": Higher}, 0.2,
			map[string][]string{"a": {"accuracy", "loss"}, "c": {"accuracy"}}},
		// Ascending loss: NaN and missing values last, by address.
		{"loss", "dacbe", map[string]Better{"loss": Lower, "accuracy": Higher}, 0.2, nil},
		// -loss sorts the worst first; the lowest loss stays the best.
		{"-loss", "cadbe", map[string]Better{"loss": Lower, "accuracy": Higher}, 0.2,
			map[string][]string{"a": {"accuracy", "loss"}, "c": {"accuracy"}}},
		{"-accuracy", "dacbe", map[string]Better{"loss": Lower, "accuracy": Higher}, 0.2, nil},
		// Without a sign, the best first: the highest accuracy, never the
		// lowest marked best.
		{"accuracy", "dacbe", map[string]Better{"loss": Lower, "accuracy": Higher}, 0.2,
			map[string][]string{"a": {"accuracy", "loss"}, "b": nil, "c": {"accuracy"}}},
		{"+accuracy", "bacde", map[string]Better{"loss": Lower, "accuracy": Higher}, 0.2, nil},
		// Params sort numerically, strings by text.
		{"lr", "aecdb", nil, 0.2, nil},
		{"+lr", "aecdb", nil, 0.2, nil},
		{"-opt", "cdeab", nil, 0.2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.sort, func(t *testing.T) {
			tab, err := Build("train", sample(), tt.sort)
			if err != nil {
				t.Fatal(err)
			}
			if got := order(tab); got != tt.order {
				t.Errorf("order = %s, want %s", got, tt.order)
			}
			if !slices.Equal(tab.Params, []string{"lr", "opt"}) {
				t.Errorf("params = %q", tab.Params)
			}
			for _, m := range tab.Metrics {
				if w, ok := tt.better[m.Name]; ok && m.Better != w {
					t.Errorf("%s: better %s, want %s", m.Name, m.Better, w)
				}
				if m.Name == "loss" && (m.Best == nil || float64(*m.Best) != tt.bestLoss) {
					t.Errorf("best loss = %v, want %v", m.Best, tt.bestLoss)
				}
			}
			for _, r := range tab.Rows {
				if want, ok := tt.bestRows[r.Address]; ok || tt.bestRows != nil {
					if !slices.Equal(r.Best, want) && !(len(want) == 0 && len(r.Best) == 0) {
						t.Errorf("%s best at %q, want %q", r.Address, r.Best, want)
					}
				}
			}
		})
	}
}

func TestBuildErrorsAndJSON(t *testing.T) {
	if _, err := Build("train", sample(), "-f1"); err == nil || !strings.Contains(err.Error(), `no metric or param named "f1"`) || !strings.Contains(err.Error(), "accuracy, loss") {
		t.Errorf("unknown sort key: %v", err)
	}
	tab, err := Build("train", sample(), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tab)
	if err != nil {
		t.Fatalf("JSON with a NaN metric: %v", err)
	}
	for _, want := range []string{`"experiment":"train"`, `"loss":"NaN"`, `"better":"lower"`, `"best":0.2`, `"instances":[`, `"best":["accuracy","loss"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	empty, err := Build("train", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(empty); !strings.Contains(string(b), `"params":[],"metrics":[],"instances":[]`) {
		t.Errorf("empty table JSON = %s, want empty arrays, never null", b)
	}
}

func TestLatest(t *testing.T) {
	at := func(id, addr, exp string, repro string) *state.Run {
		return &state.Run{ID: id, Address: addr, Experiment: exp, ReproOf: repro}
	}
	runs := []*state.Run{ // oldest first
		at("1", `experiment.train["x=2"]`, "train", ""),
		at("2", `experiment.train["x=1"]`, "train", ""),
		at("3", "experiment.prep", "prep", ""),
		at("4", `experiment.train["x=2"]`, "train", ""),
		at("5", `experiment.train["x=2"]`, "train", "4"), // a rerun does not become current
	}
	var ids []string
	for _, r := range Latest(runs, "train") {
		ids = append(ids, r.ID)
	}
	if got, want := strings.Join(ids, ","), "4,2"; got != want {
		t.Errorf("Latest(train) = %s, want %s (first appearance order, reruns left out)", got, want)
	}
	if got := Latest(runs, "nope"); len(got) != 0 {
		t.Errorf("Latest(nope) = %d runs, want none", len(got))
	}
}

// TestBuildWithObjective: the declared goals say which way metrics improve,
// whatever their names say, and the objective is the default sort.
func TestBuildWithObjective(t *testing.T) {
	obj := &lang.Objective{Metric: "accuracy", Goal: policy.Maximize,
		Goals: map[string]policy.Goal{"accuracy": policy.Maximize, "loss": policy.Maximize}}
	tab, err := BuildWith("train", sample(), Options{Objective: obj})
	if err != nil {
		t.Fatal(err)
	}
	if got := order(tab); got != "dacbe" || tab.Objective != "accuracy" || tab.SortKey != "accuracy" || tab.Sorted != "descending" {
		t.Errorf("order %s, objective %q, sorted by %q %s; want dacbe by accuracy, descending", got, tab.Objective, tab.SortKey, tab.Sorted)
	}
	for _, m := range tab.Metrics {
		if !m.Declared || m.Better != Higher {
			t.Errorf("%s: %+v, want declared, higher", m.Name, m)
		}
		if m.Name == "loss" && float64(*m.Best) != 0.3 {
			t.Errorf("best loss %v, want 0.3 (declared to maximize)", *m.Best)
		}
	}
	// -sort without a sign follows the declared goal too.
	tab, _ = BuildWith("train", sample(), Options{Objective: obj, Sort: "loss"})
	if tab.Sorted != "descending" || tab.Rows[0].Address != "c" {
		t.Errorf("sort loss: %s first, %s; want c first, descending", tab.Rows[0].Address, tab.Sorted)
	}
}

// TestBuildMarksStoppedAndPromoted: a stopped run shows why; a run that a
// higher rung was promoted from is marked; live metrics come from Metrics.
func TestBuildMarksStoppedAndPromoted(t *testing.T) {
	ok := providers.Succeeded
	low := run("low", ok, `{"epochs":1,"lr":0.1}`, map[string]float64{"val_loss": 0.3})
	low.ID = "r1"
	high := run("high", providers.Running, `{"epochs":3,"lr":0.1}`, nil)
	high.PromotedFrom = "r1"
	stopped := run("stopped", providers.Stopped, `{"epochs":1,"lr":1}`, map[string]float64{"val_loss": 0.9})
	stopped.Reason = "median stopping at step 2: val_loss 0.9 worse than median 0.5 of 3 runs"
	live := map[string]state.Metric{"val_loss": {Value: 0.2}}
	tab, err := BuildWith("train", []*state.Run{low, high, stopped}, Options{Metrics: func(r *state.Run) map[string]state.Metric {
		if r.Live() {
			return live
		}
		return r.Metrics
	}})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Row{}
	for _, r := range tab.Rows {
		rows[r.Address] = r
	}
	if !rows["low"].Promoted || rows["high"].Promoted || rows["stopped"].Promoted {
		t.Errorf("promoted: low %v, high %v, stopped %v; want only low", rows["low"].Promoted, rows["high"].Promoted, rows["stopped"].Promoted)
	}
	if rows["stopped"].Reason != stopped.Reason || rows["low"].Reason != "" {
		t.Errorf("reasons: %q, %q", rows["stopped"].Reason, rows["low"].Reason)
	}
	if v := rows["high"].Metrics["val_loss"]; v != 0.2 {
		t.Errorf("live metric %v, want 0.2", v)
	}
	// Only a succeeded run's value is the best: the live 0.2 is not.
	lowRow, highRow := rows["low"], rows["high"]
	if !lowRow.IsBest("val_loss") || highRow.IsBest("val_loss") {
		t.Errorf("best: %+v", tab.Rows)
	}
}

// TestBestOfObjectives: the run with the best objective value of each
// experiment that has an objective, none of one without.
func TestBestOfObjectives(t *testing.T) {
	obj := &lang.Objective{Metric: "accuracy", Goal: policy.Maximize, Goals: map[string]policy.Goal{"accuracy": policy.Maximize}}
	cfg := &lang.Config{Experiments: map[string]*lang.Experiment{"train": {Objective: obj}, "plain": {}}}
	best := BestOfObjectives(cfg, map[string][]*state.Run{"train": sample(), "plain": sample(), "gone": sample()})
	tab, err := BuildWith("train", sample(), Options{Objective: obj})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, r := range tab.Rows {
		if r.IsBest("accuracy") {
			want[r.RunID] = true
		}
	}
	if len(want) == 0 || !maps.Equal(best, want) {
		t.Errorf("best %v, want %v (as compare marks train's accuracy)", best, want)
	}
}
