package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/lang"
)

func cmdCompare(c *cli, args []string) int {
	fs := c.newFlags("compare", "[-json] [-sort METRIC] ADDR")
	asJSON := fs.Bool("json", false, "print the table as one JSON document")
	sortBy := fs.String("sort", "", "sort by `METRIC` ascending, or by -METRIC descending (a param works too)")
	pos, err := parse(fs, args)
	if err != nil {
		return 1
	}
	if len(pos) != 1 {
		fs.Usage()
		return 1
	}
	name, ok := strings.CutPrefix(pos[0], "experiment.")
	if !ok || name == "" || strings.ContainsAny(name, `[]."`) {
		return c.errorf("compare takes an experiment, such as experiment.train, not %q: it shows all of the experiment's instances", pos[0])
	}
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	runs := compare.Latest(st.Runs(), name)
	t, err := compare.Build(name, runs, *sortBy)
	if err != nil {
		return c.errorf("%v", err)
	}
	if *asJSON {
		printJSON(c.stdout, t)
		return 0
	}
	if len(t.Rows) == 0 {
		fmt.Fprintf(c.stdout, "No runs of experiment.%s recorded. Run 'trainrun apply' first.\n", name)
		return 0
	}
	writeCompare(c, t)
	return 0
}

func writeCompare(c *cli, t *compare.Table) {
	w := c.stdout
	sorted := "by address"
	if key, desc := strings.CutPrefix(t.Sort, "-"); t.Sort != "" {
		sorted = "by " + key + map[bool]string{true: ", descending", false: ", ascending"}[desc]
	}
	fmt.Fprintf(w, "experiment.%s: %d instances (the latest run of each), sorted %s.\n", t.Experiment, len(t.Rows), sorted)
	if len(t.Metrics) > 0 {
		var dirs []string
		for _, m := range t.Metrics {
			dirs = append(dirs, fmt.Sprintf("%s %s", m.Name, m.Better))
		}
		fmt.Fprintf(w, "* marks the best value of each metric among succeeded runs (better: %s).\n", strings.Join(dirs, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"RUN", "STATUS"}
	head = append(head, t.Params...)
	for _, m := range t.Metrics {
		head = append(head, m.Name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	cells := make([]string, 0, len(head))
	for i := range t.Rows {
		r := &t.Rows[i]
		cells = append(cells[:0], r.RunID, string(r.Status))
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
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}
