package compare

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

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
		// -loss: the user says higher loss is better.
		{"-loss", "cadbe", map[string]Better{"loss": Higher, "accuracy": Higher}, 0.3,
			map[string][]string{"a": {"accuracy"}, "c": {"accuracy", "loss"}}},
		{"-accuracy", "dacbe", map[string]Better{"loss": Lower, "accuracy": Higher}, 0.2, nil},
		{"accuracy", "bacde", map[string]Better{"loss": Lower, "accuracy": Lower}, 0.2,
			map[string][]string{"a": {"loss"}, "b": {"accuracy"}}},
		// Params sort numerically, strings by text.
		{"lr", "aecdb", nil, 0.2, nil},
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
