package ui

import (
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/state"
)

// series is one metric of one run: its values over its steps (the
// point's step, else its position among the metric's points).
type series struct {
	Name string
	X, Y []float64
}

// metricsPath is where a run's metrics are: copied there while an apply
// follows it, collected there when it ends.
func (s *Server) metricsPath(run *state.Run) string {
	if run.Dir != "" {
		return filepath.Join(run.Dir, "metrics.jsonl")
	}
	return filepath.Join(s.src.DataDir, "runs", run.ID, "metrics.jsonl")
}

// readRunSeries reads every metric of run, by name, never through a link.
func (s *Server) readRunSeries(run *state.Run) []*series {
	return s.series.read(s.metricsPath(run))
}

// chart is one metric drawn.
type chart struct {
	Name   string
	ID     string // the element id, from the name
	SVG    template.HTML
	Points int
	Last   string
}

func (s *Server) runCharts(run *state.Run, secrets []string) []chart {
	var out []chart
	for i, sr := range s.readRunSeries(run) {
		name := visible(lang.Redact(sr.Name, secrets))
		last := strconv.FormatFloat(sr.Y[len(sr.Y)-1], 'g', 6, 64)
		out = append(out, chart{Name: name, ID: "chart-" + strconv.Itoa(i), Points: len(sr.Y), Last: last,
			SVG: lineChart(name, []line{{Label: name, X: sr.X, Y: sr.Y}}, false)})
	}
	return out
}

// maxDrawn bounds the points a line is drawn with: beyond it, the line is
// downsampled keeping each bucket's first, last, lowest and highest point.
const maxDrawn = 2000

// downsample returns at most about maxDrawn of the points (x, y), in
// order, keeping the extremes of every bucket so that spikes stay visible.
func downsample(x, y []float64, limit int) ([]float64, []float64) {
	n := len(x)
	if n <= limit {
		return x, y
	}
	buckets := limit / 4
	ox := make([]float64, 0, limit+4)
	oy := make([]float64, 0, limit+4)
	for b := 0; b < buckets; b++ {
		lo, hi := b*n/buckets, (b+1)*n/buckets
		if lo >= hi {
			continue
		}
		imin, imax := lo, lo
		for i := lo; i < hi; i++ {
			if y[i] < y[imin] || math.IsNaN(y[imin]) {
				imin = i
			}
			if y[i] > y[imax] || math.IsNaN(y[imax]) {
				imax = i
			}
		}
		idx := []int{lo, imin, imax, hi - 1}
		slices.Sort(idx)
		idx = slices.Compact(idx)
		for _, i := range idx {
			ox = append(ox, x[i])
			oy = append(oy, y[i])
		}
	}
	return ox, oy
}

// line is one curve of a chart.
type line struct {
	Label string
	X, Y  []float64
	Href  string
}

// palette colours the curves of a chart, in order.
var palette = []string{"#2f6fde", "#e0662b", "#2a9d57", "#c23b7a", "#8a63d2", "#b08a00", "#1a9bb0", "#7a7a7a"}

const (
	chartW, chartH = 640, 240
	padL, padR     = 64, 16
	padT, padB     = 16, 36
)

// bounds are a chart's ranges over the finite values.
type bounds struct{ x0, x1, y0, y1 float64 }

func (b *bounds) widen() {
	if b.x0 == b.x1 {
		b.x0, b.x1 = b.x0-1, b.x1+1
	}
	if b.y0 == b.y1 {
		d := math.Max(math.Abs(b.y0)*0.05, 1e-9)
		b.y0, b.y1 = b.y0-d, b.y1+d
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// lineChart draws lines over a shared pair of axes.
func lineChart(title string, lines []line, legend bool) template.HTML {
	b := bounds{math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)}
	for _, l := range lines {
		for i := range l.X {
			if finite(l.X[i]) && finite(l.Y[i]) {
				b.x0, b.x1 = math.Min(b.x0, l.X[i]), math.Max(b.x1, l.X[i])
				b.y0, b.y1 = math.Min(b.y0, l.Y[i]), math.Max(b.y1, l.Y[i])
			}
		}
	}
	var w strings.Builder
	fmt.Fprintf(&w, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, esc(title))
	if math.IsInf(b.x0, 1) {
		fmt.Fprintf(&w, `<text x="%d" y="%d" class="axis">no finite values</text></svg>`, chartW/2-50, chartH/2)
		return template.HTML(w.String())
	}
	b.widen()
	axes(&w, b, false)
	px := func(x float64) float64 { return padL + (x-b.x0)/(b.x1-b.x0)*float64(chartW-padL-padR) }
	py := func(y float64) float64 { return padT + (b.y1-y)/(b.y1-b.y0)*float64(chartH-padT-padB) }
	for i, l := range lines {
		x, y := downsample(l.X, l.Y, maxDrawn)
		color := palette[i%len(palette)]
		fmt.Fprintf(&w, `<g class="line" data-label="%s">`, esc(l.Label))
		if l.Href != "" {
			fmt.Fprintf(&w, `<a href="%s">`, esc(l.Href))
		}
		fmt.Fprintf(&w, `<title>%s</title><polyline fill="none" stroke="%s" stroke-width="1.5" points="`, esc(l.Label), color)
		for j := range x {
			if !finite(x[j]) || !finite(y[j]) {
				continue
			}
			fmt.Fprintf(&w, "%.1f,%.1f ", px(x[j]), py(y[j]))
		}
		w.WriteString(`"/>`)
		if l.Href != "" {
			w.WriteString(`</a>`)
		}
		w.WriteString(`</g>`)
	}
	w.WriteString(`</svg>`)
	if legend && len(lines) > 1 {
		w.WriteString(`<ul class="legend">`)
		for i, l := range lines {
			fmt.Fprintf(&w, `<li><span class="swatch c%d"></span>%s</li>`, i%len(palette), esc(l.Label))
		}
		w.WriteString(`</ul>`)
	}
	return template.HTML(w.String())
}

// axes draws the frame and the end values of each axis.
func axes(w *strings.Builder, b bounds, logX bool) {
	x0, x1 := b.x0, b.x1
	if logX {
		x0, x1 = math.Pow(10, x0), math.Pow(10, x1)
	}
	fmt.Fprintf(w, `<rect class="frame" x="%d" y="%d" width="%d" height="%d"/>`, padL, padT, chartW-padL-padR, chartH-padT-padB)
	fmt.Fprintf(w, `<text class="axis" x="%d" y="%d" text-anchor="end">%s</text>`, padL-4, padT+10, fmtNum(b.y1))
	fmt.Fprintf(w, `<text class="axis" x="%d" y="%d" text-anchor="end">%s</text>`, padL-4, chartH-padB, fmtNum(b.y0))
	fmt.Fprintf(w, `<text class="axis" x="%d" y="%d">%s</text>`, padL, chartH-padB+16, fmtNum(x0))
	fmt.Fprintf(w, `<text class="axis" x="%d" y="%d" text-anchor="end">%s</text>`, chartW-padR, chartH-padB+16, fmtNum(x1))
}

// point is one dot of a scatter chart.
type point struct {
	X, Y  float64
	Label string
	Href  string
	Best  bool
}

// scatter draws a metric against a param, the x axis logarithmic when
// logX.
func scatter(title string, pts []point, logX bool) template.HTML {
	b := bounds{math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)}
	tx := func(x float64) float64 {
		if logX {
			return math.Log10(x)
		}
		return x
	}
	for _, p := range pts {
		if finite(p.X) && finite(p.Y) {
			b.x0, b.x1 = math.Min(b.x0, tx(p.X)), math.Max(b.x1, tx(p.X))
			b.y0, b.y1 = math.Min(b.y0, p.Y), math.Max(b.y1, p.Y)
		}
	}
	var w strings.Builder
	fmt.Fprintf(&w, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, esc(title))
	if math.IsInf(b.x0, 1) {
		w.WriteString(`</svg>`)
		return template.HTML(w.String())
	}
	b.widen()
	axes(&w, b, logX)
	if logX {
		fmt.Fprintf(&w, `<text class="axis" x="%d" y="%d" text-anchor="middle">log scale</text>`, chartW/2, chartH-padB+16)
	}
	for _, p := range pts {
		if !finite(p.X) || !finite(p.Y) {
			continue
		}
		cx := padL + (tx(p.X)-b.x0)/(b.x1-b.x0)*float64(chartW-padL-padR)
		cy := padT + (b.y1-p.Y)/(b.y1-b.y0)*float64(chartH-padT-padB)
		class := "dot"
		if p.Best {
			class = "dot best"
		}
		fmt.Fprintf(&w, `<a href="%s"><circle class="%s" cx="%.1f" cy="%.1f" r="5"><title>%s</title></circle></a>`, esc(p.Href), class, cx, cy, esc(p.Label))
	}
	w.WriteString(`</svg>`)
	return template.HTML(w.String())
}

func esc(s string) string { return template.HTMLEscapeString(s) }

func lstat(p string) (fs.FileInfo, error) { return os.Lstat(p) }
