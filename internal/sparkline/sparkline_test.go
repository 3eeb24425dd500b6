package sparkline

import (
	"math"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		values []float64
		width  int
		want   string
	}{
		{nil, 10, ""},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8}, 8, "▁▂▃▄▅▆▇█"},
		{[]float64{8, 7, 6, 5, 4, 3, 2, 1}, 8, "█▇▆▅▄▃▂▁"},
		{[]float64{1, 1, 9, 9}, 2, "▁█"},         // means of halves
		{[]float64{3, 3, 3}, 10, "▅▅▅"},          // flat: the middle, no wider than the values
		{[]float64{1, math.NaN(), 2}, 3, "▁ █"},  // no value: a space
		{[]float64{0, math.Inf(1), 1}, 3, "▁ █"}, // an infinity does not flatten the rest
		{[]float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, ""},
	} {
		if got := String(tc.values, tc.width); got != tc.want {
			t.Errorf("String(%v, %d) = %q, want %q", tc.values, tc.width, got, tc.want)
		}
	}
}
