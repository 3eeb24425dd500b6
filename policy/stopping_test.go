package policy

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// simulate feeds the runs' values to a sweep in lockstep (every run's
// first step in the order given, then every run's second…), the value at
// index i being step i+1, and returns the step at which each stopped run
// was stopped. A stopped run reports nothing more.
func simulate(t *testing.T, s Stopping, order []string, values map[string][]float64) map[string]float64 {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatalf("policy: %v", err)
	}
	w := NewSweep(s)
	stopped := map[string]float64{}
	steps := 0
	for _, v := range values {
		steps = max(steps, len(v))
	}
	for i := 0; i < steps; i++ {
		for _, id := range order {
			if _, gone := stopped[id]; gone || i >= len(values[id]) {
				continue
			}
			for _, d := range w.Report(id, float64(i+1), values[id][i]) {
				if !d.Stop || d.Reason == "" {
					t.Fatalf("decision %+v: want a stop with a reason", d)
				}
				if _, twice := stopped[d.ID]; twice {
					t.Fatalf("%s stopped twice", d.ID)
				}
				stopped[d.ID] = d.Step
			}
		}
	}
	return stopped
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func seq(vs ...float64) []float64 { return vs }

func TestStopping(t *testing.T) {
	tests := []struct {
		name   string
		policy Stopping
		values map[string][]float64
		order  []string           // default: sorted ids
		want   map[string]float64 // run → step it is stopped at
	}{
		{
			// Azure ML, "Hyperparameter tuning a model": BanditPolicy(
			// slack_factor=0.1, evaluation_interval=1, delay_evaluation=5)
			// is applied at every interval from interval 5 on; any run
			// whose best metric is less than 1/(1+0.1), 91%, of the best
			// performing run's is terminated.
			name:   "bandit slack_factor 0.1 from interval 5",
			policy: Stopping{Policy: Bandit, Metric: "accuracy", Goal: Maximize, SlackFactor: 0.1, EvaluationInterval: 1, DelayEvaluation: 5},
			values: map[string][]float64{
				"best":       repeat(1.0, 8),
				"at92":       repeat(0.92, 8),                                 // within 91%: goes on
				"at90":       repeat(0.90, 8),                                 // below: stopped at the first evaluation
				"just_below": repeat(0.909, 8),                                // 1/1.1 = 0.90909…
				"just_above": repeat(0.9091, 8),                               // kept
				"late":       seq(0.1, 0.1, 0.1, 0.1, 0.95, 0.95, 0.95, 0.95), // bad before interval 5 only: never looked at then
				"peaked":     seq(0.95, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1),    // its best metric is what counts
				"falls":      seq(1, 1, 1, 1, 1, 1, 1, 0.2),                   // best stays 1: goes on
				"sinks":      seq(0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2),
			},
			want: map[string]float64{"at90": 5, "just_below": 5, "sinks": 5},
		},
		{
			// Azure ML: a bandit applied at interval 10 whose best run
			// reported 0.8 there, maximizing, with slack_factor 0.2: runs
			// whose best metric at interval 10 is less than 0.8/(1+0.2),
			// 0.66, are terminated.
			name:   "bandit slack_factor 0.2 at interval 10",
			policy: Stopping{Policy: Bandit, Metric: "auc", Goal: Maximize, SlackFactor: 0.2, EvaluationInterval: 10},
			values: map[string][]float64{
				"x":   repeat(0.8, 20),
				"y66": repeat(0.66, 20),
				"y67": repeat(0.67, 20),
				"bad": append(repeat(0.01, 9), repeat(0.7, 11)...), // poor at 1…9, when the policy does not look
			},
			want: map[string]float64{"y66": 10},
		},
		{
			// HyperDrive's BanditPolicy remarks: slack_amount 0.2,
			// evaluation_interval 100; the best run has an AUC of 0.8
			// after 100 intervals: runs with an AUC below 0.6 after 100
			// are terminated. With delay_evaluation 200 the policy is
			// first applied at 200.
			name:   "bandit slack_amount 0.2 every 100",
			policy: Stopping{Policy: Bandit, Metric: "auc", Goal: Maximize, SlackAmount: 0.2, EvaluationInterval: 100},
			values: map[string][]float64{
				"best": repeat(0.8, 150),
				"0.59": repeat(0.59, 150),
				"0.61": repeat(0.61, 150),
			},
			want: map[string]float64{"0.59": 100},
		},
		{
			name:   "bandit slack_amount delayed to 200",
			policy: Stopping{Policy: Bandit, Metric: "auc", Goal: Maximize, SlackAmount: 0.2, EvaluationInterval: 100, DelayEvaluation: 200},
			values: map[string][]float64{
				"best": repeat(0.8, 250),
				"0.59": repeat(0.59, 250),
			},
			want: map[string]float64{"0.59": 200},
		},
		{
			// The same, minimizing: the threshold is the best times
			// 1+slack_factor.
			name:   "bandit minimizing",
			policy: Stopping{Policy: Bandit, Metric: "loss", Goal: Minimize, SlackFactor: 0.1, EvaluationInterval: 1, DelayEvaluation: 5},
			values: map[string][]float64{
				"best": repeat(1.0, 6),
				"1.09": repeat(1.09, 6),
				"1.11": repeat(1.11, 6),
				"nan":  repeat(math.NaN(), 6), // diverged: worse than anything
			},
			want: map[string]float64{"1.11": 5, "nan": 5},
		},
		{
			// Azure ML: MedianStoppingPolicy(evaluation_interval=1,
			// delay_evaluation=5) is applied at every interval from 5 on;
			// a run is stopped at interval 5 if its best primary metric is
			// worse than the median of the running averages over
			// intervals 1:5 across all training runs.
			name:   "median from interval 5",
			policy: Stopping{Policy: Median, Metric: "loss", Goal: Minimize, EvaluationInterval: 1, DelayEvaluation: 5},
			values: map[string][]float64{
				// Running averages over 1:5: a 0.6, b 0.5, c 0.4, d 0.3, e 0.76 → median 0.5.
				"a": repeat(0.6, 6),
				"b": repeat(0.5, 6),
				"c": repeat(0.4, 6),
				"d": repeat(0.3, 6),
				// Its running average is the worst, its best (0.2 at
				// interval 5) beats the median: kept.
				"e": seq(0.9, 0.9, 0.9, 0.9, 0.2, 0.2),
			},
			want: map[string]float64{"a": 5},
		},
		{
			// Azure ML: TruncationSelectionPolicy(evaluation_interval=1,
			// truncation_percentage=20, delay_evaluation=5): a run is
			// terminated at interval 5 if its performance at interval 5 is
			// in the lowest 20% of all runs at interval 5. The worst run
			// reports first at every step, so it is ranked only when the
			// others catch up with it.
			name:   "truncation 20% from interval 5",
			policy: Stopping{Policy: Truncation, Metric: "acc", Goal: Maximize, TruncationPercentage: 20, EvaluationInterval: 1, DelayEvaluation: 5},
			order:  []string{"r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09", "r10"},
			values: map[string][]float64{
				"r01": repeat(0.1, 8), "r02": repeat(0.2, 8), "r03": repeat(0.3, 8), "r04": repeat(0.4, 8), "r05": repeat(0.5, 8),
				"r06": repeat(0.6, 8), "r07": repeat(0.7, 8), "r08": repeat(0.8, 8), "r09": repeat(0.9, 8),
				// Poor before interval 5 only.
				"r10": seq(0, 0, 0, 0, 1, 1, 1, 1),
			},
			// 2 of the 10 runs at 5, then 1 of the 8 left at each step:
			// the lowest 20% at every interval.
			want: map[string]float64{"r01": 5, "r02": 5, "r03": 6, "r04": 7, "r05": 8},
		},
		{
			// Runs tied at the edge of the cut are all kept.
			name:   "truncation keeps ties",
			policy: Stopping{Policy: Truncation, Metric: "acc", Goal: Maximize, TruncationPercentage: 25, EvaluationInterval: 1},
			values: map[string][]float64{"a": {0.5}, "b": {0.5}, "c": {0.5}, "d": {0.5}},
			want:   map[string]float64{},
		},
		{
			name:   "evaluation interval 2 with delay 3",
			policy: Stopping{Policy: Median, Metric: "loss", Goal: Minimize, EvaluationInterval: 2, DelayEvaluation: 3},
			values: map[string][]float64{"a": repeat(0.1, 6), "b": repeat(0.9, 6)},
			// Due at 4 and 6, not 3 (not a multiple of 2).
			want: map[string]float64{"b": 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order := tt.order
			if order == nil {
				order = slices.Sorted(maps.Keys(tt.values))
			}
			got := simulate(t, tt.policy, order, tt.values)
			if !maps.Equal(got, tt.want) {
				t.Errorf("stopped %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReasons(t *testing.T) {
	med := Stopping{Policy: Median, Metric: "val_loss", Goal: Minimize, DelayEvaluation: 12}
	w := NewSweep(med)
	for step := 1; step <= 12; step++ {
		for _, v := range []float64{0.1, 0.2, 0.3, 0.52, 0.6, 0.7} {
			w.Report(strconv.FormatFloat(v, 'g', -1, 64), float64(step), v)
		}
	}
	for step := 1; step < 12; step++ {
		if ds := w.Report("target", float64(step), 0.91); len(ds) > 0 {
			t.Fatalf("stopped before step 12: %+v", ds)
		}
	}
	ds := w.Report("target", 12, 0.91)
	want := "median stopping at step 12: val_loss 0.91 worse than median 0.52 of 7 runs"
	if len(ds) != 1 || ds[0].ID != "target" || ds[0].Reason != want {
		t.Errorf("got %+v, want one stop: %q", ds, want)
	}
	if d := w.Decide("0.1"); d.Stop || !d.Evaluated || d.Runs != 7 || math.Abs(d.Reference-0.52) > 1e-12 {
		t.Errorf("Decide(0.1) = %+v", d)
	}

	b := NewSweep(Stopping{Policy: Bandit, Metric: "auc", Goal: Maximize, SlackFactor: 0.2, EvaluationInterval: 10})
	b.Add("x", 10, 0.8)
	ds = b.Report("y", 10, 0.66)
	want = "bandit at step 10: auc 0.66 worse than 0.6667, the best 0.8 of 2 runs with slack_factor 0.2"
	if len(ds) != 1 || ds[0].Reason != want {
		t.Errorf("got %+v, want %q", ds, want)
	}

	tr := NewSweep(Stopping{Policy: Truncation, Metric: "loss", Goal: Minimize, TruncationPercentage: 20})
	for i := 1; i <= 4; i++ {
		tr.Add(strconv.Itoa(i), 1, float64(i)/10)
	}
	ds = tr.Report("worst", 1, 0.9)
	want = "truncation selection at step 1: loss 0.9 in the worst 20% of 5 runs (4 better)"
	if len(ds) != 1 || ds[0].ID != "worst" || ds[0].Reason != want {
		t.Errorf("got %+v, want %q", ds, want)
	}
}

func TestEndedRunsCountButAreNotStopped(t *testing.T) {
	w := NewSweep(Stopping{Policy: Median, Metric: "loss", Goal: Minimize})
	w.Add("done1", 1, 0.1)
	w.Add("done2", 1, 0.1)
	w.End("done1")
	w.End("done2")
	if ds := w.Report("live", 1, 0.5); len(ds) != 1 || ds[0].ID != "live" || ds[0].Runs != 3 {
		t.Errorf("got %+v, want live stopped against 3 runs", ds)
	}
	if ds := w.Report("done1", 2, 9); len(ds) != 0 {
		t.Errorf("an ended run was stopped: %+v", ds)
	}
}

func TestRestartReplacesLaterReports(t *testing.T) {
	w := NewSweep(Stopping{Policy: Median, Metric: "loss", Goal: Minimize, DelayEvaluation: 100})
	for step := 1; step <= 5; step++ {
		w.Add("a", float64(step), 10)
	}
	// Started over from step 3 (a retry resumed from a checkpoint).
	w.Add("a", 3, 1)
	s := w.tips[w.byID["a"]].s
	if !slices.Equal(s.steps, []float64{1, 2, 3}) || !slices.Equal(s.vals, []float64{10, 10, 1}) || s.best[2] != 1 || s.sum[2] != 21 {
		t.Errorf("series after restart: steps %v vals %v best %v sum %v", s.steps, s.vals, s.best, s.sum)
	}
	w.Forget("a")
	if w.Runs() != 0 {
		t.Errorf("Runs after Forget = %d", w.Runs())
	}
}

func TestDue(t *testing.T) {
	s := Stopping{EvaluationInterval: 0.5, DelayEvaluation: 1}
	for step, want := range map[float64]bool{0: false, 0.5: false, 1: true, 1.5: true, 1.7: false, 2: true, math.NaN(): false} {
		if got := s.Due(step); got != want {
			t.Errorf("Due(%v) = %v, want %v", step, got, want)
		}
	}
	if !(&Stopping{}).Due(3) {
		t.Error("interval 0 (unset) should mean every step")
	}
}

func TestValidate(t *testing.T) {
	good := []Stopping{
		{Policy: Bandit, Metric: "m", Goal: Minimize, SlackFactor: 0.1},
		{Policy: Bandit, Metric: "m", Goal: Maximize, SlackAmount: 0.1},
		{Policy: Median, Metric: "m", Goal: Minimize},
		{Policy: Truncation, Metric: "m", Goal: Minimize, TruncationPercentage: 99},
	}
	for _, s := range good {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	bad := []Stopping{
		{Policy: Bandit, Metric: "m", Goal: Minimize},
		{Policy: Bandit, Metric: "m", Goal: Minimize, SlackFactor: 0.1, SlackAmount: 0.1},
		{Policy: Truncation, Metric: "m", Goal: Minimize, TruncationPercentage: 100},
		{Policy: "asha", Metric: "m", Goal: Minimize},
		{Policy: Median, Goal: Minimize},
		{Policy: Median, Metric: "m", Goal: "lower"},
		{Policy: Median, Metric: "m", Goal: Minimize, EvaluationInterval: -1},
	}
	for _, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

func TestNthAgreesWithSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 500; trial++ {
		n := 1 + r.IntN(40)
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(r.IntN(10)) // many ties
		}
		for _, g := range []Goal{Minimize, Maximize} {
			k := r.IntN(n)
			sorted := slices.Clone(vals)
			slices.Sort(sorted)
			if g == Maximize {
				slices.Reverse(sorted)
			}
			work := slices.Clone(vals)
			if got := nth(work, k, g); got != sorted[k] {
				t.Fatalf("nth(%v, %d, %s) = %v, want %v", vals, k, g, got, sorted[k])
			}
			work = slices.Clone(vals)
			var want float64
			if n%2 == 1 {
				want = sorted[n/2]
			} else {
				want = (sorted[n/2-1] + sorted[n/2]) / 2
			}
			if got := median(work, g); got != want {
				t.Fatalf("median(%v) = %v, want %v", vals, got, want)
			}
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		s    Stopping
		want string
	}{
		{Stopping{Policy: Median, Metric: "val_loss", Goal: Minimize, EvaluationInterval: 1, DelayEvaluation: 5}, "median stopping on val_loss (minimize), every 1 step from step 5"},
		{Stopping{Policy: Bandit, Metric: "acc", Goal: Maximize, SlackFactor: 0.1}, "bandit with slack_factor 0.1 on acc (maximize), every 1 step from step 0"},
		{Stopping{Policy: Bandit, Metric: "acc", Goal: Maximize, SlackAmount: 0.05, EvaluationInterval: 10}, "bandit with slack_amount 0.05 on acc (maximize), every 10 steps from step 0"},
		{Stopping{Policy: Truncation, Metric: "loss", Goal: Minimize, TruncationPercentage: 20, EvaluationInterval: 2, DelayEvaluation: 4}, "truncation selection of the worst 20% on loss (minimize), every 2 steps from step 4"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	if got := (*Stopping)(nil).String(); got != "" {
		t.Errorf("nil String() = %q", got)
	}
}
