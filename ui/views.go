package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
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

type graphBody struct {
	SVG  template.HTML
	Note string
}

func (s *Server) pageGraph(w http.ResponseWriter, r *http.Request) {
	cfg := s.config()
	if cfg == nil {
		s.render(w, "graph.html", "Graph", "graph", graphBody{Note: "No configuration loads: 'trainrun validate' says why."})
		return
	}
	s.mu.Lock()
	s.reload()
	heads := s.src.State.Heads()
	s.mu.Unlock()
	states := map[string][]providers.State{}
	for _, h := range heads {
		states["experiment."+h.Experiment] = append(states["experiment."+h.Experiment], h.Status)
	}
	s.render(w, "graph.html", "Graph", "graph", graphBody{SVG: drawGraph(cfg.Graph, states, secretsOf(cfg))})
}

// overall is the state a node of the graph is coloured by: running while
// any instance runs, failed when any failed, succeeded when all did.
func overall(ss []providers.State) string {
	if len(ss) == 0 {
		return "none"
	}
	all := true
	for _, s := range ss {
		if s == providers.Running || s == providers.Pending {
			return "running"
		}
		all = all && s == providers.Succeeded
	}
	for _, s := range ss {
		if s == providers.Failed {
			return "failed"
		}
	}
	if all {
		return "succeeded"
	}
	return string(ss[0])
}

// drawGraph lays the blocks out in columns, each after what it depends on,
// and draws an arrow for each dependency.
func drawGraph(g map[string][]string, states map[string][]providers.State, secrets []string) template.HTML {
	nodes := map[string]bool{}
	for from, tos := range g {
		nodes[from] = true
		for _, to := range tos {
			nodes[to] = true
		}
	}
	depth := map[string]int{}
	var level func(n string, seen map[string]bool) int
	level = func(n string, seen map[string]bool) int {
		if d, ok := depth[n]; ok {
			return d
		}
		if seen[n] {
			return 0
		}
		seen[n] = true
		d := 0
		for _, to := range g[n] {
			d = max(d, level(to, seen)+1)
		}
		depth[n] = d
		return d
	}
	cols := map[int][]string{}
	maxCol, maxRows := 0, 0
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range nodes {
			if !yield(n) {
				return
			}
		}
	}) {
		d := level(n, map[string]bool{})
		cols[d] = append(cols[d], n)
		maxCol = max(maxCol, d)
		maxRows = max(maxRows, len(cols[d]))
	}
	const nw, nh, gx, gy = 220, 48, 80, 24
	pos := map[string][2]int{}
	for c := 0; c <= maxCol; c++ {
		for i, n := range cols[c] {
			pos[n] = [2]int{16 + c*(nw+gx), 16 + i*(nh+gy)}
		}
	}
	W, H := 32+(maxCol+1)*(nw+gx)-gx, 32+max(maxRows, 1)*(nh+gy)-gy
	var w strings.Builder
	fmt.Fprintf(&w, `<svg class="graph" viewBox="0 0 %d %d" width="%d" role="img" aria-label="dependency graph" xmlns="http://www.w3.org/2000/svg">`, W, H, W)
	w.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`)
	for _, from := range slices.Sorted(func(yield func(string) bool) {
		for n := range g {
			if !yield(n) {
				return
			}
		}
	}) {
		for _, to := range g[from] {
			a, b := pos[to], pos[from]
			fmt.Fprintf(&w, `<line class="edge" x1="%d" y1="%d" x2="%d" y2="%d" marker-end="url(#arrow)"/>`, a[0]+nw, a[1]+nh/2, b[0], b[1]+nh/2)
		}
	}
	for n, p := range pos {
		label := lang.Redact(n, secrets)
		st := overall(states[n])
		href := ""
		if name, ok := strings.CutPrefix(n, "experiment."); ok {
			href = "/experiment/" + name
		}
		if href != "" {
			fmt.Fprintf(&w, `<a href="%s">`, esc(href))
		}
		counts := countStates(states[n])
		fmt.Fprintf(&w, `<g class="node state-%s" data-node="%s"><title>%s: %s</title><rect x="%d" y="%d" width="%d" height="%d" rx="6"/><text x="%d" y="%d">%s</text><text class="counts" x="%d" y="%d">%s</text></g>`,
			esc(st), esc(label), esc(label), esc(orDash(counts)), p[0], p[1], nw, nh, p[0]+10, p[1]+20, esc(clip(label, 26)), p[0]+10, p[1]+38, esc(clip(counts, 30)))
		if href != "" {
			w.WriteString(`</a>`)
		}
	}
	w.WriteString(`</svg>`)
	return template.HTML(w.String())
}

// countStates says how many instances are in each state: "3 succeeded,
// 1 running".
func countStates(ss []providers.State) string {
	n := map[providers.State]int{}
	for _, s := range ss {
		n[s]++
	}
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "no runs"
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

var _ = planner.Order
