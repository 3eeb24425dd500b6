package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

// cell is one cell of the compare table: what it shows and what it sorts
// by.
type cell struct {
	Text, Sort string
	Best       bool
	Numeric    bool
}

type compareRow struct {
	Address, RunID, Status string
	Cells                  []cell
}

type experimentBody struct {
	Name      string
	Objective string
	Columns   []string // params, then metrics
	NumParams int
	Rows      []compareRow
	Scatters  []chart
	Curves    []chart
	Note      string
}

func (s *Server) pageExperiment(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	cfg := s.config()
	secrets := secretsOf(cfg)
	s.mu.Lock()
	s.reload()
	runs, err := s.src.State.List(state.Query{Address: "experiment." + name})
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	slices.Reverse(runs) // oldest first, as compare.Latest wants them
	latest := compare.Latest(runs, name)
	if len(latest) == 0 && (cfg == nil || cfg.Experiments[name] == nil) {
		http.Error(w, "no experiment "+name, http.StatusNotFound)
		return
	}
	o := compare.Options{Metrics: func(run *state.Run) map[string]state.Metric { return runtime.LiveMetrics(s.src.DataDir, run) }}
	if cfg != nil && cfg.Experiments[name] != nil {
		o.Objective = cfg.Experiments[name].Objective
	}
	t, err := compare.BuildWith(name, latest, o)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b := experimentBody{Name: name, Objective: t.Objective, NumParams: len(t.Params)}
	for _, p := range t.Params {
		b.Columns = append(b.Columns, lang.Redact(p, secrets))
	}
	for _, m := range t.Metrics {
		b.Columns = append(b.Columns, lang.Redact(m.Name, secrets))
	}
	for _, row := range t.Rows {
		cr := compareRow{Address: lang.Redact(row.Address, secrets), RunID: row.RunID, Status: string(row.Status)}
		for _, p := range t.Params {
			raw := row.Params[p]
			c := cell{Text: lang.Redact(string(raw), secrets), Sort: lang.Redact(string(raw), secrets)}
			var f float64
			if json.Unmarshal(raw, &f) == nil {
				c.Numeric, c.Sort = true, strconv.FormatFloat(f, 'g', -1, 64)
			}
			cr.Cells = append(cr.Cells, c)
		}
		for _, m := range t.Metrics {
			v, ok := row.Metrics[m.Name]
			c := cell{Text: "-", Sort: ""}
			if ok {
				c = cell{Text: strconv.FormatFloat(float64(v), 'g', 6, 64), Sort: strconv.FormatFloat(float64(v), 'g', -1, 64), Numeric: true, Best: row.IsBest(m.Name)}
			}
			cr.Cells = append(cr.Cells, c)
		}
		b.Rows = append(b.Rows, cr)
	}
	// Each metric against each numeric param.
	for mi, m := range t.Metrics {
		for _, p := range t.Params {
			var pts []point
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, row := range t.Rows {
				var x float64
				v, ok := row.Metrics[m.Name]
				if !ok || json.Unmarshal(row.Params[p], &x) != nil {
					continue
				}
				lo, hi = math.Min(lo, x), math.Max(hi, x)
				pts = append(pts, point{X: x, Y: float64(v), Label: lang.Redact(fmt.Sprintf("%s: %s=%s %s=%g", row.Address, p, row.Params[p], m.Name, float64(v)), secrets),
					Href: "/run/" + row.RunID, Best: row.IsBest(m.Name)})
			}
			if len(pts) < 2 {
				continue
			}
			logX := lo > 0 && hi/lo >= 100
			title := lang.Redact(m.Name+" against "+p, secrets)
			b.Scatters = append(b.Scatters, chart{Name: title, ID: fmt.Sprintf("scatter-%d-%s", mi, p), SVG: scatter(title, pts, logX), Points: len(pts)})
		}
	}
	// Every instance's curve of each metric, overlaid.
	curves := map[string][]line{}
	for _, row := range t.Rows {
		run := findRun(latest, row.RunID)
		if run == nil {
			continue
		}
		for _, sr := range s.readRunSeries(run) {
			curves[sr.Name] = append(curves[sr.Name], line{Label: lang.Redact(row.Address, secrets), X: sr.X, Y: sr.Y, Href: "/run/" + row.RunID})
		}
	}
	for i, m := range t.Metrics {
		if ls := curves[m.Name]; len(ls) > 0 {
			name := lang.Redact(m.Name, secrets)
			b.Curves = append(b.Curves, chart{Name: name, ID: "curves-" + strconv.Itoa(i), SVG: lineChart(name, ls, true), Points: len(ls)})
		}
	}
	s.render(w, "experiment.html", "experiment."+name, "instances", b)
}

func findRun(runs []*state.Run, id string) *state.Run {
	for _, r := range runs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

type planBody struct {
	Text, Error string
	At          string // when it was planned
}

func (s *Server) pagePlan(w http.ResponseWriter, r *http.Request) {
	s.render(w, "plan.html", "Plan", "plan", s.plan(r.Context()))
}

// plan is what apply would do now.
func (s *Server) plan(ctx context.Context) planBody {
	var b planBody
	if s.src.Plan == nil {
		b.Error = "No configuration to plan."
		return b
	}
	text, err := s.src.Plan(ctx)
	secrets := secretsOf(s.config())
	b.Text = lang.Redact(text, secrets)
	if err != nil {
		b.Error = lang.Redact(err.Error(), secrets)
	}
	b.At = time.Now().Format("15:04:05")
	return b
}
