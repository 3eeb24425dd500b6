package policy

import (
	"slices"
	"testing"
)

func TestBudgets(t *testing.T) {
	tests := []struct {
		min, max float64
		eta      int
		want     []float64
	}{
		{1, 27, 3, []float64{1, 3, 9, 27}},
		{1, 20, 3, []float64{1, 3, 9, 20}},
		{1, 1, 3, []float64{1}},
		{0.1, 1, 2, []float64{0.1, 0.2, 0.4, 0.8, 1}},
		{2, 100, 4, []float64{2, 8, 32, 100}},
		{0, 10, 3, nil},
		{5, 1, 3, nil},
		{1, 10, 1, nil},
	}
	for _, tt := range tests {
		if got := Budgets(tt.min, tt.max, tt.eta); !slices.Equal(got, tt.want) {
			t.Errorf("Budgets(%v, %v, %d) = %v, want %v", tt.min, tt.max, tt.eta, got, tt.want)
		}
	}
}

func TestRung(t *testing.T) {
	results := []Result{
		{ID: "e", Value: 0.5, OK: true},
		{ID: "a", Value: 0.3, OK: true},
		{ID: "f", OK: false}, // failed: counted, last
		{ID: "c", Value: 0.3, OK: true},
		{ID: "b", Value: 0.1, OK: true},
		{ID: "d", Value: 0.9, OK: true},
	}
	placed, top := Rung(results, 3, Minimize)
	if top != 2 {
		t.Errorf("top = %d, want 2 (6/3)", top)
	}
	var order, promoted []string
	for _, p := range placed {
		order = append(order, p.ID)
		if p.Promoted {
			promoted = append(promoted, p.ID)
		}
	}
	if want := []string{"b", "a", "c", "e", "d", "f"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v (ties by id)", order, want)
	}
	if want := []string{"b", "a"}; !slices.Equal(promoted, want) {
		t.Errorf("promoted %v, want %v", promoted, want)
	}
	if got, want := PromotionReason(placed[0], 6, top, "val_loss", "epochs=1"), "val_loss 0.1, 1st of 6 at epochs=1: in the best 2"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if got, want := PromotionReason(placed[2], 6, top, "val_loss", "epochs=1"), "val_loss 0.3, 3rd of 6 at epochs=1: not in the best 2"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if got, want := PromotionReason(placed[5], 6, top, "val_loss", "epochs=1"), "no val_loss, 6th of 6 at epochs=1: not in the best 2"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}

	// Fewer than eta results: nobody yet.
	if placed, top := Rung(results[:2], 3, Maximize); top != 0 || placed[0].Promoted {
		t.Errorf("2 results, eta 3: top %d, %+v", top, placed)
	}
	// Maximizing turns the order round.
	placed, _ = Rung(results, 3, Maximize)
	if placed[0].ID != "d" || !placed[0].Promoted || placed[1].ID != "e" {
		t.Errorf("maximize: %+v", placed)
	}
}

// TestAsynchronousPromotionIsMonotone replays a rung as its runs end, one
// by one: a point once promoted stays promoted in the caller's record, and
// when the rung is complete the best ⌊n/eta⌋ are all among the promoted.
func TestAsynchronousPromotionIsMonotone(t *testing.T) {
	values := []float64{0.9, 0.8, 0.1, 0.7, 0.2, 0.6, 0.05, 0.5, 0.4}
	var results []Result
	promoted := map[string]bool{}
	for i, v := range values {
		results = append(results, Result{ID: string(rune('a' + i)), Value: v, OK: true})
		placed, _ := Rung(results, 3, Minimize)
		for _, p := range placed {
			if p.Promoted {
				promoted[p.ID] = true
			}
		}
	}
	for _, id := range []string{"g", "c", "e"} { // 0.05, 0.1, 0.2
		if !promoted[id] {
			t.Errorf("%s, in the final best 3, was never promoted (promoted: %v)", id, promoted)
		}
	}
	// a (0.9) was the only result at first; b (0.8) made it 2, and with 3
	// results (0.1 among them) the first promotion is c: a and b never.
	if promoted["a"] || promoted["b"] {
		t.Errorf("promoted %v", promoted)
	}
}
