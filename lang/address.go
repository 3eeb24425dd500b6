package lang

import (
	"strconv"
	"strings"
)

// CompareAddresses orders instance addresses as a person reads them:
// numbers in them compare as numbers (experiment.train["epochs=5"] before
// experiment.train["epochs=10"], lr=0.05 before lr=0.1), the rest as text.
// It returns -1, 0 or +1, for slices.SortFunc.
func CompareAddresses(a, b string) int {
	signed := true // a minus here is a sign: at the start, after = , [ " (
	for a != "" && b != "" {
		na, ra, okA := leadingNumber(a, signed)
		nb, rb, okB := leadingNumber(b, signed)
		if okA && okB {
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
			// 1.0 and 1: equal as numbers, but not the same text.
			if c := strings.Compare(a[:len(a)-len(ra)], b[:len(b)-len(rb)]); c != 0 {
				return c
			}
			a, b = ra, rb
			signed = false
			continue
		}
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		// A number is read whole: a sign or digit ahead of one is not
		// compared alone.
		signed = strings.IndexByte(`=,["(`, a[0]) >= 0
		a, b = a[1:], b[1:]
	}
	return strings.Compare(a, b)
}

// leadingNumber reads a decimal number (a minus when signed, digits, an
// optional fraction and exponent) at the start of s.
func leadingNumber(s string, signed bool) (float64, string, bool) {
	i := 0
	if signed && i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return 0, s, false
	}
	if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
		i++
		digits()
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			i = j
		}
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, s, false
	}
	return f, s[i:], true
}
