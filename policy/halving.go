package policy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Successive halving (ASHA, Li et al. 2018) runs every point of a sweep at
// the smallest budget, then the best 1/eta of them at eta times the budget,
// and so on up to the largest: each budget is a rung. It is asynchronous: a
// point is promoted as soon as it ranks in the best ⌊n/eta⌋ of the n runs
// of its rung that have ended, without waiting for the rung to fill. A
// promotion is never taken back; by the time a rung has ended, every point
// in its best ⌊n/eta⌋ is promoted (and possibly a few that ranked there
// earlier only).

// Budgets returns the budgets of successive halving's rungs: min, min·eta,
// min·eta², … while below max, then max. Each is rounded to 6 significant
// digits. It returns nil unless 0 < min <= max and eta >= 2.
func Budgets(min, max float64, eta int) []float64 {
	if !(min > 0) || !(max >= min) || eta < 2 || math.IsInf(max, 0) {
		return nil
	}
	var out []float64
	for b := min; ; b *= float64(eta) {
		b = round6(b)
		if b >= max*(1-1e-9) {
			return append(out, round6(max))
		}
		out = append(out, b)
	}
}

func round6(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return r
}

// Result is how one point did at one rung.
type Result struct {
	ID    string // names the point (its run, its instance)
	Value float64
	// OK is false when the run failed or never reported the metric: it
	// counts among the runs of the rung, and ranks last.
	OK bool
}

// Placed is a Result with its place in its rung.
type Placed struct {
	Result
	Place    int  // 1 for the best
	Promoted bool // in the best ⌊n/eta⌋
}

// Rung ranks the results of one rung, best first (ties by ID), and marks
// the best ⌊n/eta⌋ of the n results promoted. Results that are not OK are
// placed last and never promoted.
func Rung(results []Result, eta int, g Goal) (placed []Placed, top int) {
	placed = make([]Placed, len(results))
	for i, r := range results {
		placed[i] = Placed{Result: r}
	}
	slices.SortFunc(placed, func(a, b Placed) int {
		switch {
		case a.OK != b.OK:
			if a.OK {
				return -1
			}
			return 1
		case a.OK && g.Better(a.Value, b.Value):
			return -1
		case a.OK && g.Better(b.Value, a.Value):
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	if eta >= 2 {
		top = len(results) / eta
	}
	for i := range placed {
		placed[i].Place = i + 1
		placed[i].Promoted = i < top && placed[i].OK
	}
	return placed, top
}

// PromotionReason says why a placed result was or was not promoted, for
// the record: "val_loss 0.31, 2nd of 27 at epochs=1: in the best 9".
func PromotionReason(p Placed, n, top int, metric, rung string) string {
	what := metric + " " + num(p.Value)
	if !p.OK {
		what = "no " + metric
	}
	in := "in"
	if !p.Promoted {
		in = "not in"
	}
	return fmt.Sprintf("%s, %s of %d at %s: %s the best %d", what, ordinal(p.Place), n, rung, in, top)
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}
