// Package sparkline draws a series of numbers as one line of block
// characters (▁▂▃▄▅▆▇█), as show prints each metric's curve.
package sparkline

import (
	"math"
	"strings"
)

var bars = []rune("▁▂▃▄▅▆▇█")

// String draws values in at most width characters: each character is the
// mean of its share of the values, scaled between the lowest and the
// highest of them. Values that are not finite draw a space. No values draw
// nothing.
func String(values []float64, width int) string {
	if len(values) == 0 || width <= 0 {
		return ""
	}
	n := min(width, len(values))
	cells := make([]float64, n)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range n {
		from, to := i*len(values)/n, (i+1)*len(values)/n
		sum, k := 0.0, 0
		for _, v := range values[from:to] {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				sum, k = sum+v, k+1
			}
		}
		if k == 0 {
			cells[i] = math.NaN()
			continue
		}
		cells[i] = sum / float64(k)
		lo, hi = min(lo, cells[i]), max(hi, cells[i])
	}
	var b strings.Builder
	for _, c := range cells {
		switch {
		case math.IsNaN(c):
			b.WriteByte(' ')
		case hi == lo:
			b.WriteRune(bars[len(bars)/2])
		default:
			b.WriteRune(bars[int((c-lo)/(hi-lo)*float64(len(bars)-1)+0.5)])
		}
	}
	return b.String()
}
