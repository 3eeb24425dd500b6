package views

import (
	"github.com/trainrun/trainrun/internal/termtext"
	"io"
	"strings"
	"unicode/utf8"
)

// Table writes rows as aligned columns, two spaces apart, as
// text/tabwriter does, and lets paint colour a cell after its width is
// counted: escape codes take no room on a terminal, so tabwriter, which
// counts them, would misalign painted columns. paint may be nil. Cells are
// escaped (termtext): they hold what runs report.
func Table(w io.Writer, rows [][]string, paint func(row, col int, s string) string) {
	for _, r := range rows {
		for i := range r {
			r[i] = termtext.Escape(r[i])
		}
	}
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i == len(r)-1 {
				break // the last cell is not padded
			}
			for len(widths) <= i {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for ri, r := range rows {
		b.Reset()
		for i, cell := range r {
			s := cell
			if paint != nil {
				s = paint(ri, i, cell)
			}
			b.WriteString(s)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		b.WriteByte('\n')
		io.WriteString(w, b.String())
	}
}
