package lang

import (
	"slices"
	"testing"
)

func TestCompareAddresses(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"integers", []string{`e.t["epochs=10"]`, `e.t["epochs=5"]`, `e.t["epochs=40"]`},
			[]string{`e.t["epochs=5"]`, `e.t["epochs=10"]`, `e.t["epochs=40"]`}},
		{"decimals", []string{`e.t["lr=0.5"]`, `e.t["lr=0.1"]`, `e.t["lr=0.05"]`},
			[]string{`e.t["lr=0.05"]`, `e.t["lr=0.1"]`, `e.t["lr=0.5"]`}},
		{"negative and exponent", []string{`e.t["x=1e-3"]`, `e.t["x=-2"]`, `e.t["x=0.5"]`},
			[]string{`e.t["x=-2"]`, `e.t["x=1e-3"]`, `e.t["x=0.5"]`}},
		{"several keys", []string{`e.t["epochs=10,lr=0.1"]`, `e.t["epochs=5,lr=0.5"]`, `e.t["epochs=5,lr=0.05"]`},
			[]string{`e.t["epochs=5,lr=0.05"]`, `e.t["epochs=5,lr=0.5"]`, `e.t["epochs=10,lr=0.1"]`}},
		{"count indexes", []string{"e.t[10]", "e.t[2]", "e.t[0]"}, []string{"e.t[0]", "e.t[2]", "e.t[10]"}},
		{"names with digits", []string{"e.train10", "e.train2", "e.eval"}, []string{"e.eval", "e.train2", "e.train10"}},
		{"hyphen is no sign", []string{`e.t["run-2"]`, `e.t["run-10"]`, `e.t["run-1"]`},
			[]string{`e.t["run-1"]`, `e.t["run-2"]`, `e.t["run-10"]`}},
		{"text", []string{`e.t["opt=sgd"]`, `e.t["opt=adam"]`}, []string{`e.t["opt=adam"]`, `e.t["opt=sgd"]`}},
		{"prefix first", []string{"e.train[0]", "e.train", "e.t"}, []string{"e.t", "e.train", "e.train[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Clone(tt.in)
			slices.SortFunc(got, CompareAddresses)
			if !slices.Equal(got, tt.want) {
				t.Errorf("sorted %q = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	// Equal as numbers, different as text: still a total order.
	if CompareAddresses("x=1.0", "x=1") == 0 || CompareAddresses("x=1.0", "x=1") != -CompareAddresses("x=1", "x=1.0") {
		t.Errorf("1.0 and 1 compare equal or not antisymmetrically")
	}
	if CompareAddresses("a", "a") != 0 {
		t.Errorf("an address differs from itself")
	}
}
