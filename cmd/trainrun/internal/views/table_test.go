package views

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	var b strings.Builder
	Table(&b, [][]string{{"A", "STATUS", "X"}, {"long-address", "ok", "1"}, {"é", "succeeded", ""}}, nil)
	want := "A             STATUS     X\nlong-address  ok         1\né             succeeded  \n"
	if b.String() != want {
		t.Errorf("Table:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	Table(&b, [][]string{{"A", "B"}, {"xy", "z"}}, func(row, col int, s string) string {
		if row == 1 && col == 0 {
			return "<" + s + ">"
		}
		return s
	})
	if want := "A   B\n<xy>  z\n"; b.String() != want {
		t.Errorf("Table painted: %q, want %q", b.String(), want)
	}
}
