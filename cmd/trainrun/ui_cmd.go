package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/runtime"
	"github.com/trainrun/trainrun/state"
	"github.com/trainrun/trainrun/ui"
)

// configEvery bounds how often the dashboard loads the configuration again.
const configEvery = 2 * time.Second

func cmdUI(c *cli, args []string) int {
	a, err := arguments.ParseUI(args)
	if err != nil {
		return c.argsError(err)
	}
	token := a.Token
	if token == "" {
		token = c.getenv("TRAINRUN_UI_TOKEN")
	}
	if err := ui.CheckAddr(a.Addr, token); err != nil {
		return c.errorf("%v", err)
	}
	st, err := c.openState()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer st.Close()

	var mu sync.Mutex
	var cfg *lang.Config
	var loaded time.Time
	config := func() *lang.Config {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(loaded) > configEvery {
			cfg, loaded = c.quietConfigWith(&a.Vars), time.Now()
		}
		return cfg
	}
	comps := runtime.NewComputes(config(), registry(), c.providerEnv())
	defer comps.Close()
	src := ui.Source{
		State:       st,
		DataDir:     c.dataDir(),
		Config:      config,
		Refresh:     func(ctx context.Context) *runtime.View { return runtime.Refresh(ctx, st, comps) },
		PlanTargets: func() fswatch.Targets { return planner.WatchTargets(c.dir, a.Vars.Files, config()) },
		Plan: func(ctx context.Context) (string, error) {
			mu.Lock()
			loaded = time.Time{} // the files may have changed a moment ago
			mu.Unlock()
			cfg := config()
			if cfg == nil {
				return "", fmt.Errorf("the configuration does not load: 'trainrun validate' says why")
			}
			pst, err := c.openState() // a plan reads the state apart from the pages
			if err != nil {
				return "", err
			}
			defer pst.Close()
			sel := &arguments.Selection{Refresh: true}
			p, err := c.planFor(ctx, cfg, runtime.Refresh(ctx, pst, comps), sel, nil)
			if err != nil {
				return "", err
			}
			var b bytes.Buffer
			views.Plan(&b, p, false, false)
			return b.String(), nil
		},
		Log: func(ctx context.Context, run *state.Run, follow bool) (io.ReadCloser, error) {
			comp, err := comps.ForHandle(run.Handle)
			if err != nil {
				return nil, err
			}
			return comp.Log(ctx, *run.Handle, follow && run.Live())
		},
		Cancel: func(ctx context.Context, run *state.Run) error {
			return c.cancelFromUI(ctx, config(), run.ID)
		},
	}
	srv, err := ui.New(src, ui.Options{Addr: a.Addr, Token: token})
	if err != nil {
		return c.errorf("%v", err)
	}
	ln, err := net.Listen("tcp", a.Addr)
	if err != nil {
		return c.errorf("ui: %v", err)
	}
	url := ui.URL(ln.Addr().String(), token)
	fmt.Fprintf(c.stdout, "trainrun ui: serving %s on %s (Ctrl-C stops it)\n", c.dir, url)
	if a.Open {
		if err := openBrowser(url); err != nil {
			fmt.Fprintf(c.stderr, "Warning: cannot open a browser (%v): open %s\n", err, url)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx, ln); err != nil {
		return c.errorf("ui: %v", err)
	}
	return 0
}

// quietConfigWith loads the configuration with variables, printing
// nothing: the dashboard shows the runs without one.
func (c *cli) quietConfigWith(v *arguments.Vars) *lang.Config {
	opts := lang.Options{Getenv: c.getenv, Registry: registry(), Vars: v.Vars, VarFiles: v.Files}
	cfg, diags := lang.Load(c.dir, opts)
	if diags.HasErrors() {
		return nil
	}
	return cfg
}

// cancelFromUI cancels one live run as trainrun cancel does: it records
// the outcome itself when it can take the lock, else the apply waiting on
// the run does.
func (c *cli) cancelFromUI(ctx context.Context, cfg *lang.Config, id string) error {
	st, err := c.openState()
	if err != nil {
		return err
	}
	defer st.Close()
	locked := st.Lock(state.Holder{Command: "trainrun ui (cancel)"}) == nil
	if locked {
		defer st.Unlock()
	}
	run, err := st.Get(id)
	if err != nil {
		return err
	}
	if !run.Live() {
		return nil
	}
	comps := runtime.NewComputes(cfg, registry(), c.providerEnv())
	defer comps.Close()
	store, err := c.contentStore()
	if err != nil {
		return err
	}
	rt := &runtime.Runtime{Config: cfg, State: st, Computes: comps, DataDir: c.dataDir(), Store: store}
	return rt.Cancel(ctx, run, locked)
}

// openBrowser opens url in the desktop's browser.
func openBrowser(url string) error {
	for _, name := range []string{"xdg-open", "open"} {
		if p, err := exec.LookPath(name); err == nil {
			return exec.Command(p, url).Start()
		}
	}
	return fmt.Errorf("no xdg-open or open on PATH")
}
