package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
)

//go:embed assets
var assets embed.FS

// Source is what the dashboard reads, wired by the command: the state and
// the operations that need computes. Every field but State and DataDir may
// be nil; the pages then say what they cannot show.
type Source struct {
	// State is the project's record. The server reads it under its own
	// lock and reloads it as pages are asked for.
	State state.Backend
	// DataDir is the project's .trainrun, where live runs' metrics and
	// environment locks are.
	DataDir string
	// Config returns the configuration as it is now, nil when none loads.
	Config func() *lang.Config
	// Refresh returns the state with live runs as their computes report
	// them (runtime.Refresh).
	Refresh func(ctx context.Context) *runtime.View
	// Plan returns what apply would do now, as trainrun plan prints it.
	Plan func(ctx context.Context) (string, error)
	// PlanTargets are the files the plan depends on
	// (planner.WatchTargets): the plan page plans again when one changes.
	PlanTargets func() fswatch.Targets
	// Log opens a run's log as trainrun logs reads it; follow keeps a live
	// run's open until it ends.
	Log func(ctx context.Context, run *state.Run, follow bool) (io.ReadCloser, error)
	// Cancel cancels a live run, as trainrun cancel does.
	Cancel func(ctx context.Context, run *state.Run) error
}

// Options say how the server is reached.
type Options struct {
	// Addr is the address it listens on: loopback unless Token is set.
	Addr string
	// Token, when set, is asked of every request: in the header
	// Authorization: Bearer TOKEN, or once in the URL (?token=TOKEN),
	// which then sets a cookie.
	Token string
}

// Server is the dashboard.
type Server struct {
	src         Source
	opts        Options
	csrf        string
	tmpl        *template.Template
	mu          sync.Mutex // guards src.State and lastReload
	last        time.Time
	reloadEvery time.Duration
	series      seriesCache
}

// ErrNeedsToken is returned by Check for an address other than loopback
// without a token.
var ErrNeedsToken = errors.New("needs a token")

// CheckAddr says whether the server may listen on addr: a loopback address
// always, any other only with a token.
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", addr, err)
	}
	if token != "" || IsLoopback(host) {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("-addr %s listens on %s, reachable from other machines: that %w; give one with -token or TRAINRUN_UI_TOKEN, or listen on 127.0.0.1", addr, shown, ErrNeedsToken)
}

// IsLoopback reports whether host (a name or an address) is this machine
// only.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New returns a dashboard over src.
func New(src Source, opts Options) (*Server, error) {
	if err := CheckAddr(opts.Addr, opts.Token); opts.Addr != "" && err != nil {
		return nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	csrf := hex.EncodeToString(b)
	t, err := parseTemplates(csrf)
	if err != nil {
		return nil, err
	}
	return &Server{src: src, opts: opts, csrf: csrf, tmpl: t, reloadEvery: 200 * time.Millisecond}, nil
}

// Serve listens on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler is the dashboard's HTTP handler, authentication included.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.pageInstances)
	mux.HandleFunc("GET /runs", s.pageRuns)
	mux.HandleFunc("GET /run/{id}", s.pageRun)
	mux.HandleFunc("GET /run/{id}/outputs/{path...}", s.download)
	mux.HandleFunc("POST /run/{id}/cancel", s.cancel)
	mux.HandleFunc("GET /experiment/{name}", s.pageExperiment)
	mux.HandleFunc("GET /plan", s.pagePlan)
	mux.HandleFunc("GET /graph", s.pageGraph)
	mux.HandleFunc("GET /events/instances", s.eventsInstances)
	mux.HandleFunc("GET /events/run/{id}", s.eventsRun)
	mux.HandleFunc("GET /events/plan", s.eventsPlan)
	mux.HandleFunc("GET /api/instances", s.apiInstances)
	mux.HandleFunc("GET /api/run/{id}", s.apiRun)
	mux.HandleFunc("GET /static/{file}", s.static)
	return s.guard(mux)
}

const tokenCookie = "trainrun_ui_token"

// guard answers 401 to a request without the token, when there is one, and
// refuses a loopback server's requests for other host names (DNS
// rebinding).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		if s.opts.Token == "" {
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if !IsLoopback(strings.Trim(host, "[]")) {
				http.Error(w, "this dashboard answers on 127.0.0.1 only", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query().Get("token"); q != "" && equal(q, s.opts.Token) {
			// Once by URL: a cookie from then on, and the token out of
			// the address bar and history.
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: s.opts.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			u := *r.URL
			v := u.Query()
			v.Del("token")
			u.RawQuery = v.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if s.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="trainrun"`)
		http.Error(w, "401 unauthorized: this dashboard needs its token (open the URL trainrun ui printed, or send Authorization: Bearer TOKEN)", http.StatusUnauthorized)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") && equal(strings.TrimPrefix(h, "Bearer "), s.opts.Token) {
		return true
	}
	c, err := r.Cookie(tokenCookie)
	return err == nil && equal(c.Value, s.opts.Token)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// runID is what a run id looks like; anything else from a URL is refused
// before it reaches the state.
var runID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// run returns the run a request names, or writes the error.
func (s *Server) run(w http.ResponseWriter, r *http.Request) (*state.Run, bool) {
	id := r.PathValue("id")
	if !runID.MatchString(id) || strings.Contains(id, "..") {
		http.Error(w, "not a run id", http.StatusBadRequest)
		return nil, false
	}
	s.mu.Lock()
	s.reload()
	run, err := s.src.State.Get(id)
	s.mu.Unlock()
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, state.ErrNotFound) {
			status = http.StatusNotFound
		}
		http.Error(w, err.Error(), status)
		return nil, false
	}
	return run, true
}

// reload brings the state up to date, at most every reloadEvery. s.mu is
// held.
func (s *Server) reload() {
	if time.Since(s.last) < s.reloadEvery {
		return
	}
	s.last = time.Now()
	_ = s.src.State.Reload()
}

// config is the configuration now, or nil.
func (s *Server) config() *lang.Config {
	if s.src.Config == nil {
		return nil
	}
	return s.src.Config()
}

// secrets are the values to redact.
func secretsOf(cfg *lang.Config) []string {
	if cfg == nil {
		return nil
	}
	return cfg.Secrets
}

// URL is the address to open in a browser for a server listening on
// addr: with the token, when there is one, to set the cookie.
func URL(addr, token string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/"}
	if token != "" {
		u.RawQuery = url.Values{"token": {token}}.Encode()
	}
	return u.String()
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var ctype string
	switch {
	case name == "app.js":
		ctype = "text/javascript; charset=utf-8"
	case name == "style.css":
		ctype = "text/css; charset=utf-8"
	default:
		http.NotFound(w, r)
		return
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
