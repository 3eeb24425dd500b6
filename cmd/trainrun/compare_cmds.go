package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

func cmdCompare(c *cli, args []string) int {
	a, err := arguments.ParseCompare(args)
	if err != nil {
		return c.argsError(err)
	}
	name := a.Experiment
	opts := compare.Options{Sort: a.Sort, Metrics: func(r *state.Run) map[string]state.Metric { return runtime.LiveMetrics(c.dataDir(), r) }}
	if cfg := c.quietConfig(); cfg != nil && cfg.Experiments[name] != nil {
		opts.Objective = cfg.Experiments[name].Objective
	}
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()
	runs := compare.Latest(st.Heads(), name)
	t, err := compare.BuildWith(name, runs, opts)
	if err != nil {
		return c.errorf("%v", err)
	}
	if a.JSON {
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
		status := string(r.Status)
		if r.Promoted {
			status += ", promoted"
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
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	for _, r := range t.Rows {
		if r.Status == providers.Stopped && r.Reason != "" {
			fmt.Fprintf(w, "%s stopped: %s\n", r.RunID, r.Reason)
		}
	}
}
