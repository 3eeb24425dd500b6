package main

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The dashboard in a real browser: Debian's Chromium, headless, driven by
// chromedp, against trainrun ui serving a project whose apply is running.

const uiConfig = `
compute "local" "here" {
  max_runs = 5
}

experiment "sweep" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "fit.sh", param.lr]
  params     = { lr = 0.1 }
  sweep {
    grid = { lr = [0.001, 0.01, 0.1, 1] }
  }
}

experiment "live" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "live.sh"]
}
`

// fit.sh records a loss curve that ends lower for a larger lr, and prints
// what a hostile run could.
const uiFit = `for s in 1 2 3 4 5; do
  echo "{\"name\":\"loss\",\"value\":$(awk "BEGIN{print 1/($1*$s+0.01)}"),\"step\":$s}" >> "$TRAINRUN_METRICS_FILE"
done
echo '<script>window.__xss=1</script> <img src=x onerror="window.__xss=2">'
printf 'colour \033[31mred\033[0m\n'
`

// live.sh prints a line and appends a metric every 200 ms, for 10 minutes
// at most: the test cancels it.
const uiLive = `i=0
while [ $i -lt 3000 ]; do
  i=$((i+1))
  echo "tick $i at $(date +%s%3N)"
  echo "{\"name\":\"loss\",\"value\":$(awk "BEGIN{print 1/$i}"),\"step\":$i}" >> "$TRAINRUN_METRICS_FILE"
  sleep 0.2
done
`

// chromiumPath finds Debian's Chromium, or skips (fails under
// TRAINRUN_REQUIRE_INTEGRATION=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH: scripts/test-deps.sh installs Debian's chromium"
	if os.Getenv("TRAINRUN_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts a headless Chromium with a fresh profile and records the
// URL of every request any of its pages makes.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	var mu sync.Mutex
	var requests []string
	if err := chromedp.Do(ctx); err != nil {
		msg := fmt.Sprintf("chromium does not start: %v", err)
		if os.Getenv("TRAINRUN_REQUIRE_INTEGRATION") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(requests)
	}
}

// startUI runs trainrun ui on a free loopback port and returns its URL.
func startUI(t *testing.T, p *project, args ...string) string {
	t.Helper()
	cmd := p.command(nil, append([]string{"ui", "-addr", "127.0.0.1:0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := regexp.MustCompile(`on (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	select {
	case u := <-urls:
		return u
	case <-time.After(2 * time.Minute):
		t.Fatalf("trainrun ui did not say where it serves; stderr:\n%s", stderr.String())
	}
	return ""
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitJS waits until the expression is true in the page, across
// navigations.
func waitJS(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	var err error
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var ok bool
		if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	t.Fatalf("waiting for %s (%s): %v\npage:\n%s", what, js, err, html)
}

func TestUIInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser and a 10-minute run (cancelled): not with -short")
	}
	ctx, requests := browser(t)
	p := newProject(t, map[string]string{"trainrun.hcl": uiConfig, "src/fit.sh": uiFit, "src/live.sh": uiLive})
	apply := p.command(nil, "apply", "-auto-approve")
	var applyOut syncBuffer
	apply.Stdout, apply.Stderr = &applyOut, &applyOut
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	applyDone := make(chan error, 1)
	go func() { applyDone <- apply.Wait() }()
	t.Cleanup(func() { _ = apply.Process.Kill() })
	base := startUI(t, p)
	shots := t.TempDir()
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv("TRAINRUN_UI_SCREENSHOTS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644)
		}
	}
	t.Logf("screenshots in %s", shots)

	// Instances: they appear, and change state, without a reload.
	if err := chromedp.Do(ctx, chromedp.Navigate(base)); err != nil {
		t.Fatal(err)
	}
	eval[int](t, ctx, `window.__page = 1`)
	waitJS(t, ctx, "the sweep succeeded and the live run running, on the instances page",
		`(() => { const rows = [...document.querySelectorAll('#instance-rows tr')];
		  const st = a => (rows.find(r => r.textContent.includes(a)) || {textContent: ''}).textContent;
		  return rows.filter(r => r.textContent.includes('experiment.sweep') && r.textContent.includes('succeeded')).length == 4 &&
		    st('experiment.live').includes('running') })()`)
	if eval[int](t, ctx, `window.__page || 0`) != 1 {
		t.Error("the instances page reloaded to show new states")
	}
	shot("instances")

	// Follow the link to the live run: its log and its chart, growing.
	eval[bool](t, ctx, `(() => { [...document.querySelectorAll('#instance-rows tr')].find(r => r.textContent.includes('experiment.live')).querySelector('a.run-link').click(); return true })()`)
	waitJS(t, ctx, "the run page with a chart", `location.pathname.startsWith('/run/') && document.querySelector('#run-charts figure svg polyline') !== null`)
	runURL := eval[string](t, ctx, `location.href`)
	eval[int](t, ctx, `window.__page = 2`)
	// How long after the run wrote a line the page shows it: each line
	// carries the time it was written (same machine, same clock).
	eval[bool](t, ctx, `(() => { window.__lat = []; new MutationObserver(() => {
		const m = document.querySelector('#log').textContent.trimEnd().split('\n').pop().match(/ at (\d+)$/);
		if (m) window.__lat.push(Date.now() - +m[1]); }).observe(document.querySelector('#log'), {childList: true}); return true })()`)
	lines := eval[int](t, ctx, `document.querySelector('#log').textContent.split('\n').length`)
	points := eval[int](t, ctx, `+document.querySelector('#run-charts figure').dataset.points`)
	waitJS(t, ctx, "the log and the chart to grow", fmt.Sprintf(
		`document.querySelector('#log').textContent.split('\n').length > %d && +document.querySelector('#run-charts figure').dataset.points > %d`, lines+5, points+5))
	if eval[int](t, ctx, `window.__page || 0`) != 2 {
		t.Error("the run page reloaded to grow")
	}
	lat := eval[[]int](t, ctx, `window.__lat`)
	if len(lat) < 5 {
		t.Fatalf("only %d lines arrived live", len(lat))
	}
	slices.Sort(lat)
	t.Logf("live tail: a line the run wrote showed in the page after %d ms (median), %d ms (max) over %d lines", lat[len(lat)/2], lat[len(lat)-1], len(lat))
	if lat[len(lat)/2] > 5000 {
		t.Errorf("the live tail is %d ms behind the run (median)", lat[len(lat)/2])
	}
	logText := eval[string](t, ctx, `document.querySelector('#log').textContent`)
	if !regexp.MustCompile(`(?m)^tick 1 at \d+$`).MatchString(logText) || !strings.Contains(logText, "tick "+strconv.Itoa(lines+5)+" at") {
		t.Errorf("the log does not hold the run's lines in order:\n%s", logText)
	}
	shot("run")

	// A finished run: what it printed shows as text, nothing of it runs.
	sweepRun, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch('/api/instances').then(r => r.json()).then(rows => rows.find(r => r.address.includes('0.001')).run_id)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if sweepRun == "" {
		t.Fatal("no run of the sweep in /api/instances")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"run/"+sweepRun)); err != nil {
		t.Fatal(err)
	}
	logText = eval[string](t, ctx, `document.querySelector('#log').textContent`)
	if !strings.Contains(logText, "<script>window.__xss=1</script>") || !strings.Contains(logText, "␛[31mred") {
		t.Errorf("the hostile lines do not show as text:\n%q", logText)
	}
	if eval[bool](t, ctx, `window.__xss !== undefined || document.querySelectorAll('#log *').length > 0`) {
		t.Error("a run's output ran in the page")
	}

	// The experiment: sort the compare table by a param and by the metric.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"experiment/sweep")); err != nil {
		t.Fatal(err)
	}
	column := func(name string) []float64 {
		t.Helper()
		vals := eval[[]string](t, ctx, fmt.Sprintf(`(() => { const ths = [...document.querySelectorAll('#compare thead th')];
			const i = ths.findIndex(th => th.textContent.trim().startsWith(%q));
			return [...document.querySelectorAll('#compare tbody tr')].map(r => r.cells[i].dataset.v) })()`, name))
		var out []float64
		for _, v := range vals {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("column %s: %q", name, v)
			}
			out = append(out, f)
		}
		return out
	}
	clickHeader := func(name string) {
		t.Helper()
		eval[bool](t, ctx, fmt.Sprintf(`(() => { [...document.querySelectorAll('#compare thead th')].find(th => th.textContent.trim().startsWith(%q)).querySelector('button').click(); return true })()`, name))
	}
	clickHeader("lr")
	if lr := column("lr"); !slices.IsSorted(lr) || len(lr) != 4 {
		t.Errorf("sorted by lr ascending: %v", lr)
	}
	clickHeader("lr")
	if lr := column("lr"); !slices.IsSortedFunc(lr, func(a, b float64) int { return -cmpF(a, b) }) {
		t.Errorf("sorted by lr descending: %v", lr)
	}
	clickHeader("loss")
	loss := column("loss")
	if !slices.IsSorted(loss) {
		t.Errorf("sorted by loss ascending: %v", loss)
	}
	if best := eval[string](t, ctx, `document.querySelector('#compare td.best').dataset.v`); best != strconv.FormatFloat(loss[0], 'g', -1, 64) {
		t.Errorf("best loss marked %s, want the lowest, %v", best, loss[0])
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('.charts svg polyline').length`); n != 4 {
		t.Errorf("%d curves overlaid, want the 4 instances'", n)
	}
	shot("experiment")

	for _, pg := range []struct{ path, check string }{
		{"plan", `document.querySelector('#plan').textContent.includes('Plan:')`},
		// The sweep's 4 instances, each a focusable link to its run, in
		// the colour the legend gives succeeded.
		{"graph", `(() => { const g = document.querySelector('svg.graph g[data-node="experiment.sweep"]'); if (!g) return false;
		  const ok = getComputedStyle(document.querySelector('.legend .state-succeeded')).color;
		  const ins = [...g.querySelectorAll('a[href^="/run/"] > g.inst.state-succeeded')].filter(i => getComputedStyle(i).color === ok);
		  if (ins.length != 4) return false;
		  const a = ins[0].parentNode; a.focus(); return document.activeElement === a })()`},
		{"runs", `document.querySelectorAll('#runs tbody tr').length == 5`},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+pg.path)); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, "the "+pg.path+" page", pg.check)
		shot(pg.path)
	}
	// A phone's width: nothing wider than the screen but the tables' own
	// scrolling.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(runURL)); err != nil {
		t.Fatal(err)
	}
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the run page is %d px wide on a 390 px screen", w)
	}
	shot("run-phone")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 1000)); err != nil {
		t.Fatal(err)
	}

	// Cancel the live run from its page.
	if err := chromedp.Do(ctx, chromedp.Navigate(runURL), chromedp.Click(`#cancel`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the page to say cancelled", `document.querySelector('#status-badge') && document.querySelector('#status-badge').textContent.includes('cancelled')`)
	if !waitFor(3*time.Minute, func() bool {
		for _, s := range p.status(nil) {
			if s.Address == "experiment.live" {
				return s.Status == "cancelled"
			}
		}
		return false
	}) {
		t.Fatalf("trainrun status does not show the live run cancelled:\n%s", p.must(0, nil, "status").stdout)
	}
	select {
	case <-applyDone:
	case <-time.After(3 * time.Minute):
		t.Fatalf("apply did not end after the cancel:\n%s", applyOut.String())
	}

	// With a token: 401 without it, then once by URL and a cookie.
	tokURL := startUI(t, p, "-token", "tok-5ecret")
	u, _ := url.Parse(tokURL)
	bare := u.Scheme + "://" + u.Host + "/"
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(bare))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 401 {
		t.Errorf("without the token: %d, want 401", resp.Status)
	}
	resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(tokURL))
	if err != nil || resp.Status != 200 {
		t.Fatalf("with the token in the URL: %v %v", resp, err)
	}
	if href := eval[string](t, ctx, `location.href`); strings.Contains(href, "tok-5ecret") {
		t.Errorf("the token stays in the address bar: %s", href)
	}
	if c := eval[string](t, ctx, `document.cookie`); strings.Contains(c, "tok-5ecret") {
		t.Errorf("the token cookie is readable by scripts: %q", c)
	}
	resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(bare+"runs"))
	if err != nil || resp.Status != 200 {
		t.Fatalf("with the cookie: %v %v", resp, err)
	}

	// No request left the machine.
	reqs := requests()
	if len(reqs) < 10 {
		t.Fatalf("recorded only %d requests: %v", len(reqs), reqs)
	}
	for _, r := range reqs {
		ru, err := url.Parse(r)
		if err != nil || ru.Scheme != "data" && ru.Hostname() != "127.0.0.1" {
			t.Errorf("a request left 127.0.0.1: %s", r)
		}
	}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
