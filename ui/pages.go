package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/internal/runtext"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

func parseTemplates(csrf string) (*template.Template, error) {
	funcs := template.FuncMap{
		"csrf": func() string { return csrf },
		"add":  func(a, b int) int { return a + b },
	}
	return template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html")
}

// page is what every page's layout needs.
type page struct {
	Title string
	Nav   string
	CSRF  string
	Body  any
}

func (s *Server) render(w http.ResponseWriter, name, title, nav string, body any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, page{Title: title, Nav: nav, CSRF: s.csrf, Body: body}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// redactRun returns run with every secret of cfg replaced, in every field
// and in every form the command line redacts (lang.Redact over its JSON).
func redactRun(run *state.Run, secrets []string) *state.Run {
	if len(secrets) == 0 || run == nil {
		return run
	}
	b, err := json.Marshal(run)
	if err != nil {
		return run
	}
	red := lang.Redact(string(b), secrets)
	if red == string(b) {
		return run
	}
	var out state.Run
	if err := json.Unmarshal([]byte(red), &out); err != nil {
		// Redaction broke the JSON: show nothing of it rather than a secret.
		return &state.Run{ID: run.ID, Address: run.Address, Experiment: run.Experiment, Status: run.Status, CreatedAt: run.CreatedAt}
	}
	return &out
}

// instanceRow is one line of the instances page.
type instanceRow struct {
	Address     string `json:"address"`
	Experiment  string `json:"experiment"`
	Status      string `json:"status"`
	RunID       string `json:"run_id,omitempty"`
	Age         string `json:"age"`
	Duration    string `json:"duration"`
	Compute     string `json:"compute"`
	Metrics     string `json:"metrics"`
	State       string `json:"-"` // the status as a class name
	NotInConfig bool   `json:"not_in_config,omitempty"`
}

type instancesBody struct {
	Rows                 []instanceRow
	Experiments          []string
	Exp, StatusFilter, Q string
	Query                string // the filters, for the live stream
	Total                int
	Statuses             []string
}

// instances lists the instances as status does, filtered as the request
// asks.
func (s *Server) instances(r *http.Request) instancesBody {
	cfg := s.config()
	list := s.instanceList(r.Context(), cfg)
	q := r.URL.Query()
	b := instancesBody{Exp: q.Get("exp"), StatusFilter: q.Get("status"), Q: q.Get("q"), Total: len(list),
		Statuses: []string{"never run", "pending", "running", "succeeded", "failed", "cancelled", "stopped"}}
	vals := map[string]string{}
	for _, k := range []string{"exp", "status", "q"} {
		if v := q.Get(k); v != "" {
			vals[k] = v
		}
	}
	b.Query = encodeQuery(vals)
	secrets := secretsOf(cfg)
	now := time.Now()
	exps := map[string]bool{}
	for _, in := range list {
		exps[in.Experiment] = true
		status := "never run"
		if in.Run != nil {
			status = string(in.Run.Status)
		}
		if b.Exp != "" && in.Experiment != b.Exp || b.StatusFilter != "" && status != b.StatusFilter ||
			b.Q != "" && !strings.Contains(strings.ToLower(in.Address), strings.ToLower(b.Q)) {
			continue
		}
		row := instanceRow{Address: lang.Redact(in.Address, secrets), Experiment: in.Experiment, Status: status, State: strings.ReplaceAll(status, " ", "-"),
			RunID: "", Age: "-", Duration: "-", Compute: "-", Metrics: "-", NotInConfig: cfg != nil && !in.Configured}
		if run := in.Run; run != nil {
			row.Status = runtext.Status(run)
			row.RunID, row.Age, row.Duration, row.Compute = run.ID, runtext.Age(now, run.CreatedAt), runtext.Duration(run), run.Compute
			obj := ""
			if cfg != nil && cfg.Experiments[in.Experiment] != nil && cfg.Experiments[in.Experiment].Objective != nil {
				obj = cfg.Experiments[in.Experiment].Objective.Metric
			}
			row.Metrics = lang.Redact(runtext.Metrics(runtime.LiveMetrics(s.src.DataDir, run), obj), secrets)
		}
		b.Rows = append(b.Rows, row)
	}
	b.Experiments = slices.Sorted(maps.Keys(exps))
	return b
}

// instanceList is every instance with its latest run, as status lists
// them (refreshed when the source can).
func (s *Server) instanceList(ctx context.Context, cfg *lang.Config) []runtime.Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reload()
	var heads []*state.Run
	latest := s.src.State.Latest
	if s.src.Refresh != nil {
		v := s.src.Refresh(ctx)
		heads, latest = v.Heads(), v.Latest
	} else {
		heads = s.src.State.Heads()
	}
	return runtime.Instances(cfg, heads, latest)
}

func encodeQuery(v map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(v)) {
		parts = append(parts, k+"="+template.URLQueryEscaper(v[k]))
	}
	return strings.Join(parts, "&")
}

func (s *Server) pageInstances(w http.ResponseWriter, r *http.Request) {
	s.render(w, "instances.html", "Instances", "instances", s.instances(r))
}

func (s *Server) apiInstances(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.instances(r).Rows)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// runRow is one line of the runs page.
type runRow struct {
	ID, Address, Status, State, Created, Duration, Compute, Attempts, Note, Host string
}

type runsBody struct {
	Rows             []runRow
	Page, Prev, Next int
	HasPrev, HasNext bool
	Filter           string
	PerPage          int
}

// runsPerPage is how many runs a page of the history shows.
const runsPerPage = 100

func (s *Server) pageRuns(w http.ResponseWriter, r *http.Request) {
	pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pg = max(pg, 1)
	filter := r.URL.Query().Get("addr")
	s.mu.Lock()
	s.reload()
	runs, err := s.src.State.List(state.Query{Address: filter, Offset: (pg - 1) * runsPerPage, Limit: runsPerPage + 1})
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	secrets := secretsOf(s.config())
	b := runsBody{Page: pg, Prev: pg - 1, Next: pg + 1, HasPrev: pg > 1, HasNext: len(runs) > runsPerPage, Filter: filter, PerPage: runsPerPage}
	if len(runs) > runsPerPage {
		runs = runs[:runsPerPage]
	}
	for _, run := range runs {
		host := ""
		if run.Handle != nil {
			host = run.Handle.Host
		}
		b.Rows = append(b.Rows, runRow{ID: run.ID, Address: lang.Redact(run.Address, secrets), Status: runtext.Status(run), State: string(run.Status),
			Created: run.CreatedAt.Local().Format("2006-01-02 15:04:05"), Duration: runtext.Duration(run), Compute: run.Compute,
			Attempts: strconv.Itoa(run.Attempts), Note: runtext.Note(run), Host: host})
	}
	s.render(w, "runs.html", "Runs", "runs", b)
}

// kv is one named value shown on a page.
type kv struct {
	Key, Value string
	Link       string // where the value links to, if anywhere
}

type fileRow struct {
	Path string
	Size string
}

type runBody struct {
	Run        *state.Run
	Status     string
	Live       bool
	Fields     []kv
	Params     []kv
	Inputs     []kv
	Env        []kv
	Lock       string
	Log        string
	LogFrom    int64
	LogNote    string
	Charts     []chart
	Outputs    []fileRow
	Commands   []string
	Cancelable bool
}

func (s *Server) pageRun(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	s.render(w, "run.html", "Run "+run.ID, "runs", s.runBody(r, run))
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	cfg := s.config()
	red := redactRun(run, secretsOf(cfg))
	red.Metrics = redactMetrics(runtime.LiveMetrics(s.src.DataDir, run), secretsOf(cfg))
	writeJSON(w, red)
}

func redactMetrics(m map[string]state.Metric, secrets []string) map[string]state.Metric {
	if len(secrets) == 0 {
		return m
	}
	out := make(map[string]state.Metric, len(m))
	for k, v := range m {
		out[lang.Redact(k, secrets)] = v
	}
	return out
}

func (s *Server) runBody(r *http.Request, orig *state.Run) runBody {
	cfg := s.config()
	secrets := secretsOf(cfg)
	run := redactRun(orig, secrets)
	b := runBody{Run: run, Status: runtext.Status(run), Live: run.Live(), Cancelable: run.Live() && s.src.Cancel != nil}
	add := func(list *[]kv, k, v, link string) {
		if v != "" {
			*list = append(*list, kv{Key: k, Value: v, Link: link})
		}
	}
	add(&b.Fields, "address", run.Address, "")
	add(&b.Fields, "status", b.Status, "")
	add(&b.Fields, "reason", run.Reason, "")
	add(&b.Fields, "stop reason", run.StopReason, "")
	add(&b.Fields, "experiment", run.Experiment, "/experiment/"+run.Experiment)
	add(&b.Fields, "fingerprint", run.Fingerprint, "")
	add(&b.Fields, "compute", run.Compute, "")
	add(&b.Fields, "environment", run.Environment, "")
	add(&b.Fields, "attempts", strconv.Itoa(run.Attempts), "")
	add(&b.Fields, "created by", runtext.By(run), "")
	add(&b.Fields, "created", run.CreatedAt.Local().Format(time.RFC3339), "")
	if run.StartedAt != nil {
		add(&b.Fields, "started", run.StartedAt.Local().Format(time.RFC3339), "")
		add(&b.Fields, "duration", runtext.Duration(run), "")
	}
	if run.Git != nil {
		g := run.Git.Commit
		if run.Git.Dirty {
			g += " (dirty)"
		}
		add(&b.Fields, "git", g, "")
	}
	if h := run.Handle; h != nil {
		where := h.Dir
		if h.Host != "" {
			where = h.Host + ":" + h.Dir
		}
		add(&b.Fields, "ran in", where, "")
	}
	add(&b.Fields, "repro of", run.ReproOf, runLink(run.ReproOf))
	add(&b.Fields, "cached from", run.CachedFrom, runLink(run.CachedFrom))
	add(&b.Fields, "promoted from", run.PromotedFrom, runLink(run.PromotedFrom))
	add(&b.Fields, "outputs", run.Outputs, "")
	for _, k := range slices.Sorted(maps.Keys(run.Params)) {
		add(&b.Params, k, string(run.Params[k]), "")
	}
	if in := run.Inputs; in != nil {
		add(&b.Inputs, "snapshot", in.Snapshot, "")
		add(&b.Inputs, "source_dir", in.SourceDir, "")
		add(&b.Inputs, "command", strings.Join(runtext.QuoteArgs(in.Command), " "), "")
		add(&b.Inputs, "shell", in.Shell, "")
		for _, k := range slices.Sorted(maps.Keys(in.Env)) {
			add(&b.Inputs, "env", k+"="+in.Env[k], "")
		}
		add(&b.Inputs, "environment", in.Environment, "")
		add(&b.Inputs, "params_file", in.ParamsFile, "")
		for _, k := range slices.Sorted(maps.Keys(in.Upstream)) {
			hashes := in.Upstream[k]
			if keys := in.UpstreamKeys[k]; len(keys) == len(hashes) {
				hashes = slices.Clone(hashes)
				for i := range hashes {
					hashes[i] = keys[i] + " " + hashes[i]
				}
			}
			add(&b.Inputs, "upstream", k+" "+strings.Join(hashes, ", "), "")
		}
		if in.SecretsHash != "" {
			add(&b.Inputs, "secrets", "(sensitive values, hashed)", "")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(run.InputRuns)) {
		for _, id := range run.InputRuns[k] {
			add(&b.Inputs, "input "+k, "from run "+id, runLink(id))
		}
	}
	if e := run.Env; e != nil {
		add(&b.Env, "id", e.ID, "")
		add(&b.Env, "location", e.Location, "")
		add(&b.Env, "image", e.Digest, "")
		b.Lock = lang.Redact(runtime.EnvironmentLock(s.src.DataDir, orig), secrets)
	}
	b.Log, b.LogFrom, b.LogNote = s.initialLog(r, orig, cfg)
	b.Charts = s.runCharts(orig, secrets)
	if run.Dir != "" {
		b.Outputs = listOutputs(filepath.Join(orig.Dir, "outputs"))
	}
	b.Commands = []string{
		"trainrun show " + run.ID,
		"trainrun logs " + run.ID,
		"trainrun checkout " + run.ID + " DIR",
		"trainrun rerun " + run.ID,
	}
	if run.Outputs != "" {
		b.Commands = append(b.Commands, "trainrun outputs "+run.ID+" DIR")
	}
	return b
}

func runLink(id string) string {
	if id == "" {
		return ""
	}
	return "/run/" + id
}

// logShown bounds the log a page shows at first: its end.
const logShown = 256 << 10

// initialLog is the log of run as far as it goes now (its last logShown
// bytes), redacted, and how many bytes of it there were: where the live
// tail goes on from.
func (s *Server) initialLog(r *http.Request, run *state.Run, cfg *lang.Config) (text string, size int64, note string) {
	if cfg == nil && run.Inputs != nil && run.Inputs.SecretsHash != "" && (run.Dir == "" || run.Live()) {
		return "", 0, "This run was given sensitive values and its log is not collected yet: it is shown only with the configuration loaded, to redact them."
	}
	var rc io.ReadCloser
	var err error
	switch {
	case run.Dir != "" && !run.Live():
		rc, err = openNoFollow(filepath.Join(run.Dir, "log"))
	case run.Handle != nil && s.src.Log != nil:
		rc, err = s.src.Log(r.Context(), run, false)
	default:
		return "", 0, "No log yet: the run is " + string(run.Status) + "."
	}
	if err != nil {
		return "", 0, "The log cannot be read: " + lang.Redact(err.Error(), secretsOf(cfg))
	}
	defer rc.Close()
	var tail tailBuffer
	n, _ := io.Copy(&tail, rc)
	b := tail.bytes()
	if n > int64(len(b)) {
		note = fmt.Sprintf("The first %d bytes are left out; 'trainrun logs %s' prints all of it.", n-int64(len(b)), run.ID)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return visible(lang.Redact(string(b), secretsOf(cfg))), n, note
}

// tailBuffer keeps the last logShown bytes written to it.
type tailBuffer struct{ buf []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*logShown {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-logShown:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) bytes() []byte {
	if len(t.buf) > logShown {
		return t.buf[len(t.buf)-logShown:]
	}
	return t.buf
}

func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|noFollow, 0)
}

// listOutputs lists the files under dir with their sizes, never following
// a link.
func listOutputs(dir string) []fileRow {
	var out []fileRow
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil
	}
	defer root.Close()
	_ = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		out = append(out, fileRow{Path: p, Size: humanSize(info.Size())})
		return nil
	})
	return out
}

func humanSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// download serves one file of a run's collected outputs, confined to them
// (os.Root: no "..", no link out).
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	p := r.PathValue("path")
	if run.Dir == "" || p == "" || !fs.ValidPath(p) {
		http.Error(w, "no such output", http.StatusNotFound)
		return
	}
	root, err := os.OpenRoot(filepath.Join(run.Dir, "outputs"))
	if err != nil {
		http.Error(w, "no such output", http.StatusNotFound)
		return
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(p))
	if err != nil {
		http.Error(w, "no such output", http.StatusNotFound)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		http.Error(w, "no such output", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Disposition", "attachment; filename="+strconv.Quote(filepath.Base(p)))
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", info.ModTime(), f)
}

// cancel cancels a live run: the only change the dashboard makes. It needs
// the page's CSRF token, and a same-origin request.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	if !equal(r.FormValue("csrf"), s.csrf) {
		http.Error(w, "403 forbidden: missing or wrong CSRF token", http.StatusForbidden)
		return
	}
	// Browsers say where a request comes from: Sec-Fetch-Site, else
	// Origin.
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" ||
		site == "" && r.Header.Get("Origin") != "" && r.Header.Get("Origin") != "http://"+r.Host {
		http.Error(w, "403 forbidden: cross-origin request", http.StatusForbidden)
		return
	}
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	if s.src.Cancel == nil {
		http.Error(w, "cancel is not available", http.StatusNotImplemented)
		return
	}
	if run.Live() {
		if err := s.src.Cancel(r.Context(), run); err != nil {
			http.Error(w, "cancel "+run.ID+": "+lang.Redact(err.Error(), secretsOf(s.config())), http.StatusInternalServerError)
			return
		}
	}
	s.mu.Lock()
	s.last = time.Time{} // read what cancel recorded
	s.mu.Unlock()
	http.Redirect(w, r, "/run/"+run.ID, http.StatusSeeOther)
}

// Helpers shared with the command line's views.

var _ = compare.Latest

// visible shows the control characters of s (escape sequences a run
// printed) as the Unicode pictures of them, newlines and tabs apart: a
// log is shown as text, never interpreted.
func visible(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20:
			return 0x2400 + r
		case r == 0x7f:
			return 0x2421
		}
		return r
	}, s)
}
