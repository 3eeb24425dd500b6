package views

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trainrun/trainrun/internal/runtext"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

// StatusRows is what status shows.
type StatusRows struct {
	Config    *lang.Config // may be nil
	Instances []runtime.Instance
	Best      map[string]bool // runs with their experiment's best objective value
	// Metrics are a run's latest metrics (a live run's as it writes them).
	Metrics func(*state.Run) map[string]state.Metric
	Color   bool
	Now     time.Time
}

// Status shows each instance's latest run, as status does: a table, its
// statuses coloured when st.Color, and notes on what it marks.
func Status(w io.Writer, st StatusRows) {
	cfg, list, best, live := st.Config, st.Instances, st.Best, st.Metrics
	rows := [][]string{{"ADDRESS", "STATUS", "RUN", "AGE", "COMPUTE", "METRICS"}}
	shown := make([]*state.Run, len(list))
	for i, in := range list {
		shown[i] = in.Run
	}
	by := runtext.ManyBy(shown) // a team's record: who created each
	if by {
		rows[0] = append(rows[0], "BY")
	}
	states := []providers.State{""} // the header's
	now := st.Now
	for _, in := range list {
		r := in.Run
		if r == nil {
			row := []string{in.Address, "never run", "-", "-", "-", "-"}
			if by {
				row = append(row, "-")
			}
			rows = append(rows, row)
			states = append(states, "")
			continue
		}
		objective := ""
		if cfg != nil && cfg.Experiments[in.Experiment] != nil && cfg.Experiments[in.Experiment].Objective != nil {
			objective = cfg.Experiments[in.Experiment].Objective.Metric
		}
		m := runtext.Metrics(live(r), objective)
		if best[r.ID] {
			m = strings.Replace(m, " ", "* ", 1)
			if !strings.Contains(m, "*") {
				m += "*"
			}
		}
		addr := in.Address
		if cfg != nil && !in.Configured {
			addr += " (not in config)"
		}
		row := []string{addr, runtext.Status(r), r.ID, runtext.Age(now, r.CreatedAt), r.Compute, m}
		if by {
			row = append(row, cmp.Or(runtext.By(r), "-"))
		}
		rows = append(rows, row)
		states = append(states, r.Status)
	}
	// On a terminal the status is coloured, as plan's and apply's are.
	var colour func(row, col int, s string) string
	if st.Color {
		colour = func(row, col int, s string) string {
			switch {
			case row == 0 || col != 1:
				return s
			case s == "never run":
				return Paint(true, "2", s)
			}
			return Paint(true, StateColor[states[row]], s)
		}
	}
	out := bufio.NewWriter(w) // a write per line costs more than the rest of status
	Table(out, rows, colour)
	out.Flush()
	NoteUncollected(w, shown)
	if len(best) > 0 {
		fmt.Fprintln(w, "* marks the best value of each experiment's objective among succeeded runs.")
	}
}
