package runtime

import (
	"fmt"
	"testing"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/policy"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// TestHalvingPromotesAsRunsEnd: a point is promoted as soon as it ranks in
// the best ⌊n/eta⌋ of the runs of its rung that ended, never later; when
// the rung has nothing left to wait for, the others are told they are not
// promoted, and so are those waiting above them.
func TestHalvingPromotesAsRunsEnd(t *testing.T) {
	h := &lang.Halving{Param: "epochs", Budgets: []float64{1, 3, 9}, Eta: 3, Metric: "loss", Goal: policy.Minimize}
	hv := &halving{h: h, rungs: []*rung{
		{runOf: map[string]string{}, waiting: map[string]chan promotion{}, open: 6},
		{runOf: map[string]string{}, waiting: map[string]chan promotion{}, open: 6},
		{runOf: map[string]string{}, waiting: map[string]chan promotion{}, open: 6},
	}}
	points := []string{"a", "b", "c", "d", "e", "f"}
	for k := 1; k < 3; k++ {
		for _, p := range points {
			hv.rungs[k].waiting[p] = make(chan promotion, 1)
		}
	}
	heard := map[string]promotion{}
	run := func(id string, loss float64, st providers.State) *state.Run {
		return &state.Run{ID: id, Status: st, Metrics: map[string]state.Metric{"loss": {Value: loss}}}
	}
	// Keep the channels: advance deletes them from the map once told.
	chans := map[string]chan promotion{}
	for k := 1; k < 3; k++ {
		for _, p := range points {
			chans[fmt.Sprint(k, p)] = hv.rungs[k].waiting[p]
		}
	}
	got := func(k int, p string) (promotion, bool) {
		select {
		case pr := <-chans[fmt.Sprint(k, p)]:
			heard[fmt.Sprint(k, p)] = pr
			return pr, true
		default:
			pr, ok := heard[fmt.Sprint(k, p)]
			return pr, ok
		}
	}

	hv.ended(0, "e", run("re", 0.5, providers.Succeeded))
	hv.ended(0, "d", run("rd", 0.4, providers.Succeeded))
	if _, ok := got(1, "d"); ok {
		t.Fatal("promoted with 2 results of 6 at eta 3")
	}
	hv.ended(0, "a", run("ra", 0.1, providers.Failed))
	// 3 results: the best 1 is d (a failed).
	if pr, ok := got(1, "d"); !ok || !pr.promoted || pr.run != "rd" || pr.reason != "loss 0.4, 1st of 3 at epochs=1: in the best 1" {
		t.Fatalf("d after 3 results: %+v %v", pr, ok)
	}
	hv.ended(0, "b", run("rb", 0.2, providers.Succeeded))
	// 4 results: b ranks first, and goes on at once; d, promoted when it
	// ranked first, stays promoted (ASHA promotes as results come).
	if pr, ok := got(1, "b"); !ok || !pr.promoted || pr.reason != "loss 0.2, 1st of 4 at epochs=1: in the best 1" {
		t.Fatalf("b after 4 results: %+v %v", pr, ok)
	}
	hv.ended(0, "c", run("rc", 0.3, providers.Succeeded))
	if _, ok := got(1, "c"); ok {
		t.Fatal("c promoted with 5 results: ⌊5/3⌋ is 1")
	}
	hv.ended(1, "d", nil) // say d's promoted run did not start: the rung's count drops
	hv.ended(0, "f", run("rf", 0.6, providers.Succeeded))
	// 6 results, the best 2: b and c; d stays promoted; the rest not.
	for p, want := range map[string]bool{"b": true, "c": true, "a": false, "e": false, "f": false} {
		pr, ok := got(1, p)
		if !ok || pr.promoted != want {
			t.Errorf("%s at rung 1: told %v %+v, want promoted %v", p, ok, pr, want)
		}
	}
	if pr, _ := got(1, "a"); pr.reason != "no loss, 6th of 6 at epochs=1: not in the best 2" {
		t.Errorf("a's reason %q", pr.reason)
	}
	// Rung 2 waits for b and c; those not promoted to rung 1 are not to 2.
	for _, p := range []string{"a", "e", "f"} {
		if pr, ok := got(2, p); !ok || pr.promoted || pr.reason != "no run at epochs=3" {
			t.Errorf("%s at rung 2: %v %+v", p, ok, pr)
		}
	}
	if _, ok := got(2, "b"); ok {
		t.Error("b at rung 2 told before rung 1 ended")
	}
	hv.ended(1, "b", run("rb3", 0.15, providers.Succeeded))
	hv.ended(1, "c", run("rc3", 0.25, providers.Succeeded))
	// Rung 1 had b, c (d never ran): ⌊2/3⌋ = 0 promoted; complete.
	for _, p := range []string{"b", "c", "d"} {
		if pr, ok := got(2, p); !ok || pr.promoted {
			t.Errorf("%s at rung 2: %v %+v, want not promoted", p, ok, pr)
		}
	}
}
