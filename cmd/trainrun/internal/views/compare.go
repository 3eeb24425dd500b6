package views

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/internal/termtext"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
)

// Compare shows the table of an experiment's runs, as compare does.
func Compare(w io.Writer, t *compare.Table) {
	sorted := "by address"
	if t.SortKey != "" {
		sorted = "by " + t.SortKey + ", " + t.Sorted
		if t.Sort == "" {
			sorted += " (the objective)"
		}
	}
	fmt.Fprintf(w, "experiment.%s: %s (the latest run of each), sorted %s.\n", t.Experiment, plural.Count(len(t.Rows), "instance"), sorted)
	if len(t.Metrics) > 0 {
		var dirs []string
		for _, m := range t.Metrics {
			d := fmt.Sprintf("%s %s", m.Name, m.Better)
			if !m.Declared && t.Objective != "" {
				d += " (guessed)"
			}
			dirs = append(dirs, d)
		}
		fmt.Fprintf(w, "* marks the best value of each metric among succeeded runs (better: %s).\n", strings.Join(escapeAll(dirs), ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"RUN", "STATUS"}
	head = append(head, t.Params...)
	for _, m := range t.Metrics {
		head = append(head, m.Name)
	}
	fmt.Fprintln(tw, strings.Join(escapeAll(head), "\t"))
	cells := make([]string, 0, len(head))
	for i := range t.Rows {
		r := &t.Rows[i]
		status := string(r.Status)
		if r.Promoted {
			status += ", promoted"
		}
		if r.NotInConfig {
			status += " (not in config)"
		}
		cells = append(cells[:0], r.RunID, status)
		for _, p := range t.Params {
			v := "-"
			if raw, ok := r.Params[p]; ok {
				v = lang.ParamString(raw)
			}
			cells = append(cells, v)
		}
		for _, m := range t.Metrics {
			v, ok := r.Metrics[m.Name]
			s := "-"
			if ok {
				s = strconv.FormatFloat(float64(v), 'g', 6, 64)
			}
			if r.IsBest(m.Name) {
				s += "*" // no color: escape codes would upset the columns
			}
			cells = append(cells, s)
		}
		fmt.Fprintln(tw, strings.Join(escapeAll(cells), "\t"))
	}
	tw.Flush()
	for _, r := range t.Rows {
		if r.Status == providers.Stopped && r.Reason != "" {
			fmt.Fprintf(w, "%s stopped: %s\n", r.RunID, termtext.Escape(r.Reason))
		}
	}
}

// escapeAll escapes each of ss for the terminal (termtext): names and
// values that runs report.
func escapeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = termtext.Escape(s)
	}
	return out
}

// RunDiff shows two runs' differences: the params that differ (and
// those that do not, in one line), the fingerprint's inputs that differ,
// and every metric with the change.
func RunDiff(w io.Writer, d *compare.RunDiff) {
	fmt.Fprintf(w, "Run %s (%s, %s) against run %s (%s, %s).\n",
		d.A.ID, d.A.Address, d.A.Status, d.B.ID, d.B.Address, d.B.Status)
	val := func(s *string) string {
		if s == nil {
			return "-"
		}
		return *s
	}
	short := func(s *string) string {
		if s != nil && len(*s) > 12 {
			v := (*s)[:12]
			return v
		}
		return val(s)
	}
	table := func(title string, head []string, rows [][]string) {
		fmt.Fprintf(w, "\n%s:\n", title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+strings.Join(escapeAll(head), "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, "  "+strings.Join(escapeAll(r), "\t"))
		}
		tw.Flush()
	}

	var rows [][]string
	var same []string
	for _, p := range d.Params {
		if p.Same {
			same = append(same, p.Name+"="+*p.A)
			continue
		}
		rows = append(rows, []string{p.Name, val(p.A), val(p.B)})
	}
	if len(rows) > 0 {
		table("Params", []string{"NAME", d.A.ID, d.B.ID}, rows)
	} else if len(d.Params) > 0 {
		fmt.Fprintf(w, "\nParams: the same.\n")
	}
	if len(same) > 0 && len(rows) > 0 {
		fmt.Fprintf(w, "  the same in both: %s\n", strings.Join(escapeAll(same), ", "))
	}

	if d.A.Fingerprint == d.B.Fingerprint {
		fmt.Fprintf(w, "\nFingerprint: the same (%s): the runs had the same inputs.\n", d.A.Fingerprint[:min(12, len(d.A.Fingerprint))])
	} else {
		rows = rows[:0]
		for _, f := range d.Inputs {
			switch f.Name {
			case "snapshot":
				what := short(f.A) + " → " + short(f.B)
				if d.Source != nil {
					what += ": " + d.Source.String()
				}
				rows = append(rows, []string{"source", what})
			case "sensitive values":
				rows = append(rows, []string{f.Name, "differ"})
			default:
				rows = append(rows, []string{f.Name, val(f.A) + " → " + val(f.B)})
			}
		}
		if len(rows) == 0 {
			// Params differ, and only they: listed above.
			rows = append(rows, []string{"params", "see above"})
		}
		table("Fingerprint inputs that differ", []string{"INPUT", "CHANGE"}, rows)
	}

	if len(d.Metrics) == 0 {
		fmt.Fprintf(w, "\nMetrics: neither run has any.\n")
		return
	}
	rows = rows[:0]
	num := func(v *compare.Value) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(float64(*v), 'g', 6, 64)
	}
	for _, m := range d.Metrics {
		change := "-"
		if m.Change != nil {
			change = num(m.Change)
			if *m.Change > 0 {
				change = "+" + change
			}
		}
		rows = append(rows, []string{m.Name, num(m.A), num(m.B), change})
	}
	table("Metrics", []string{"NAME", d.A.ID, d.B.ID, "CHANGE"}, rows)
}
