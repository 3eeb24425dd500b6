package ui

import (
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/runtime"
)

// graphCap is how many instances of one experiment the graph draws; the
// others are one "+N more" node linking to the experiment's instances, so
// a sweep of thousands still draws at once.
const graphCap = 50

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
	list := s.instanceList(r.Context(), cfg)
	each := map[string]string{}
	for _, in := range cfg.Instances {
		if in.Each != "" {
			each[in.Address] = in.Each
		}
	}
	s.render(w, "graph.html", "Graph", "graph", graphBody{SVG: drawGraph(cfg.Graph, list, each, secretsOf(cfg), graphCap)})
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

// Sizes of the graph's drawing, in SVG units.
const (
	gColW   = 240 // a column's width
	gColGap = 80  // between columns
	gRowGap = 24  // between blocks of a column
	gPlainH = 48  // a block without instances (compute, environment)
	gHeadH  = 46  // an experiment's heading: its name and counts
	gInstH  = 24  // an instance
	gInstG  = 4   // between instances
)

type box struct{ x, y, w, h int }

// drawGraph lays the blocks out in columns, each after what it depends on
// (left to right in the order apply runs them), and draws an arrow for
// each dependency. An experiment is a box holding its instances, each
// coloured by its state and linked to its latest run (or, never run, to
// itself on the instances page); at most limit instances per experiment
// are drawn. each maps an instance to the upstream instance for_each
// matches it with: those pairs get an arrow of their own.
func drawGraph(g map[string][]string, list []runtime.Instance, each map[string]string, secrets []string, limit int) template.HTML {
	byExp := map[string][]runtime.Instance{}
	nodes := map[string]bool{}
	for _, in := range list {
		n := "experiment." + in.Experiment
		byExp[n] = append(byExp[n], in)
		nodes[n] = true
	}
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
	maxCol := 0
	for _, n := range slices.Sorted(maps.Keys(nodes)) {
		d := level(n, map[string]bool{})
		cols[d] = append(cols[d], n)
		maxCol = max(maxCol, d)
	}
	drawn := func(n string) int { return min(len(byExp[n]), limit) }
	height := func(n string) int {
		if !strings.HasPrefix(n, "experiment.") {
			return gPlainH
		}
		k := drawn(n)
		if len(byExp[n]) > k {
			k++ // the "+N more" node
		}
		return gHeadH + k*(gInstH+gInstG) + 4
	}
	pos := map[string]box{}
	inst := map[string]box{} // drawn instances by address
	H := 0
	for c := 0; c <= maxCol; c++ {
		y := 16
		for _, n := range cols[c] {
			b := box{16 + c*(gColW+gColGap), y, gColW, height(n)}
			pos[n] = b
			for i, in := range byExp[n][:drawn(n)] {
				inst[in.Address] = box{b.x + 10, b.y + gHeadH + i*(gInstH+gInstG), b.w - 20, gInstH}
			}
			y += b.h + gRowGap
		}
		H = max(H, y-gRowGap+16)
	}
	W := 32 + (maxCol+1)*(gColW+gColGap) - gColGap
	var w strings.Builder
	fmt.Fprintf(&w, `<svg class="graph" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="dependency graph" xmlns="http://www.w3.org/2000/svg">`, W, H, W, H)
	w.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`)
	// Arrows first, so the boxes are drawn over them.
	for _, from := range slices.Sorted(maps.Keys(g)) {
		for _, to := range g[from] {
			a, b := pos[to], pos[from]
			fmt.Fprintf(&w, `<line class="edge" x1="%d" y1="%d" x2="%d" y2="%d" marker-end="url(#arrow)"/>`, a.x+a.w, a.y+gPlainH/2, b.x, b.y+gPlainH/2)
		}
	}
	for _, in := range list {
		up, ok := each[in.Address]
		if !ok {
			continue
		}
		a, okA := inst[up]
		b, okB := inst[in.Address]
		if okA && okB {
			fmt.Fprintf(&w, `<line class="edge each" x1="%d" y1="%d" x2="%d" y2="%d" marker-end="url(#arrow)"/>`, a.x+a.w, a.y+a.h/2, b.x, b.y+b.h/2)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(pos)) {
		p := pos[n]
		label := lang.Redact(n, secrets)
		name, isExp := strings.CutPrefix(n, "experiment.")
		if !isExp {
			fmt.Fprintf(&w, `<g class="node state-none" data-node="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="6"/><text x="%d" y="%d">%s</text></g>`,
				esc(label), esc(label), p.x, p.y, p.w, p.h, p.x+10, p.y+28, esc(clip(label, 28)))
			continue
		}
		ins := byExp[n]
		var states []providers.State
		for _, in := range ins {
			if in.Run != nil {
				states = append(states, in.Run.Status)
			}
		}
		counts := orDash(countStates(states))
		fmt.Fprintf(&w, `<g class="node state-%s" data-node="%s"><title>%s: %s</title><rect x="%d" y="%d" width="%d" height="%d" rx="6"/>`,
			esc(overall(states)), esc(label), esc(label), esc(counts), p.x, p.y, p.w, p.h)
		fmt.Fprintf(&w, `<a href="%s"><text x="%d" y="%d">%s</text></a><text class="counts" x="%d" y="%d">%s</text>`,
			esc("/experiment/"+name), p.x+10, p.y+20, esc(clip(label, 28)), p.x+10, p.y+38, esc(clip(counts, 34)))
		for _, in := range ins[:drawn(n)] {
			drawInstance(&w, in, inst[in.Address], secrets)
		}
		if more := len(ins) - drawn(n); more > 0 {
			b := box{p.x + 10, p.y + gHeadH + drawn(n)*(gInstH+gInstG), p.w - 20, gInstH}
			href := "/?" + encodeQuery(map[string]string{"exp": name})
			fmt.Fprintf(&w, `<a href="%s"><g class="inst more"><title>%d more instances</title><rect x="%d" y="%d" width="%d" height="%d" rx="4"/><text x="%d" y="%d">+%d more</text></g></a>`,
				esc(href), more, b.x, b.y, b.w, b.h, b.x+10, b.y+16, more)
		}
		w.WriteString(`</g>`)
	}
	w.WriteString(`</svg>`)
	return template.HTML(w.String())
}

// drawInstance draws one instance in b: a box in its state's colour
// holding its key, linked to its latest run or, never run, to the
// instances page filtered to it.
func drawInstance(w *strings.Builder, in runtime.Instance, b box, secrets []string) {
	addr := lang.Redact(in.Address, secrets)
	status, class, href := "never run", "never-run", ""
	if in.Run != nil {
		status, class = string(in.Run.Status), string(in.Run.Status)
		href = "/run/" + in.Run.ID
	} else {
		href = "/?" + encodeQuery(map[string]string{"exp": in.Experiment, "q": addr})
	}
	fmt.Fprintf(w, `<a href="%s"><g class="inst state-%s" data-address="%s"><title>%s: %s</title><rect x="%d" y="%d" width="%d" height="%d" rx="4"/><circle class="mark" cx="%d" cy="%d" r="4"/><text x="%d" y="%d">%s</text></g></a>`,
		esc(href), esc(class), esc(addr), esc(addr), esc(status), b.x, b.y, b.w, b.h, b.x+10, b.y+b.h/2, b.x+20, b.y+16, esc(clip(instanceLabel(addr, in.Experiment), 30)))
}

// instanceLabel is what an instance is called inside its experiment's
// box: its sweep key (lr=0.1), or the experiment's name without one.
func instanceLabel(addr, experiment string) string {
	k := strings.TrimPrefix(addr, "experiment."+experiment)
	if k == "" {
		return experiment
	}
	if strings.HasPrefix(k, `["`) && strings.HasSuffix(k, `"]`) && len(k) >= 4 {
		return k[2 : len(k)-2]
	}
	return k
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
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
