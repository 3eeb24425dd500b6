package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

const secret = "hunter2-s3cr3t"

// project is a recorded state with one finished run that printed and
// recorded hostile strings, and a secret in its env and its log.
func project(t *testing.T) (Source, *state.Run) {
	t.Helper()
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, ".trainrun"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	runDir := filepath.Join(dir, ".trainrun", "runs", "r1")
	if err := os.MkdirAll(filepath.Join(runDir, "outputs", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(runDir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("log", "step 1\n<script>alert(1)</script>\ntoken="+secret+"\n\x1b[31mred\x1b[0m\n")
	write("metrics.jsonl", `{"name":"loss","value":1.5,"step":1}`+"\n"+`{"name":"loss","value":0.5,"step":2}`+"\n"+`{"name":"<b>acc</b>","value":0.7}`+"\n")
	write("outputs/model.bin", "weights")
	write("outputs/sub/notes.txt", "notes")
	if err := os.WriteFile(filepath.Join(dir, "outside"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "outside"), filepath.Join(runDir, "outputs", "link")); err != nil {
		t.Fatal(err)
	}
	fin := now
	run := &state.Run{ID: "r1", Address: `experiment.train["lr=0.1"]`, Experiment: "train", Fingerprint: "fp1", Compute: "local",
		Status: providers.Succeeded, CreatedAt: now.Add(-time.Minute), StartedAt: &now, FinishedAt: &fin, Dir: runDir, Outputs: "out1",
		Params: map[string]json.RawMessage{"lr": json.RawMessage(`0.1`), "note": json.RawMessage(`"<script>alert(2)</script>"`)},
		Inputs: &state.FingerprintInputs{Snapshot: "snap", Command: []string{"python3", "train.py"}, Env: map[string]string{"API_KEY": secret}}}
	live := &state.Run{ID: "r2", Address: `experiment.train["lr=1"]`, Experiment: "train", Fingerprint: "fp2", Compute: "local",
		Status: providers.Running, CreatedAt: now, Params: map[string]json.RawMessage{"lr": json.RawMessage(`1`)}}
	if err := st.Put(run, live); err != nil {
		t.Fatal(err)
	}
	cfg := &lang.Config{Secrets: []string{secret}}
	return Source{State: st, DataDir: filepath.Join(dir, ".trainrun"), Config: func() *lang.Config { return cfg }}, run
}

func serve(t *testing.T, src Source, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

func get(t *testing.T, c *http.Client, u string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:7070", "", true},
		{"localhost:0", "", true},
		{"[::1]:7070", "", true},
		{"0.0.0.0:7070", "", false},
		{":7070", "", false},
		{"192.168.1.5:7070", "", false},
		{"0.0.0.0:7070", "tok", true},
		{"nonsense", "", false},
	} {
		err := CheckAddr(tc.addr, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%q, %q) = %v, want ok=%v", tc.addr, tc.token, err, tc.ok)
		}
		if err != nil && strings.Contains(tc.addr, "0.0.0.0") && !strings.Contains(err.Error(), "TRAINRUN_UI_TOKEN") {
			t.Errorf("CheckAddr(%q): %v does not say how to give a token", tc.addr, err)
		}
	}
}

func TestTokenRequired(t *testing.T) {
	src, _ := project(t)
	_, hs := serve(t, src, Options{Token: "tok123"})
	for _, p := range []string{"/", "/runs", "/run/r1", "/api/run/r1", "/static/app.js", "/events/instances"} {
		if code, _ := get(t, nil, hs.URL+p); code != http.StatusUnauthorized {
			t.Errorf("GET %s without token: %d, want 401", p, code)
		}
		if code, _ := get(t, nil, hs.URL+p, "Authorization", "Bearer wrong"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", p, code)
		}
	}
	if code, _ := get(t, nil, hs.URL+"/runs", "Authorization", "Bearer tok123"); code != 200 {
		t.Errorf("GET /runs with the token in the header: %d", code)
	}
	// Once by URL: a cookie, and a redirect that drops the token.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(hs.URL + "/runs?token=tok123")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "tok123") {
		t.Fatalf("?token=: %d to %q, want a redirect without the token", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie = %+v, want one HttpOnly SameSite=Strict", cookies)
	}
	if code, _ := get(t, nil, hs.URL+"/runs", "Cookie", cookies[0].Name+"="+cookies[0].Value); code != 200 {
		t.Errorf("GET /runs with the cookie: %d", code)
	}
}

func TestLoopbackRefusesOtherHosts(t *testing.T) {
	src, _ := project(t)
	_, hs := serve(t, src, Options{})
	req, _ := http.NewRequest("GET", hs.URL+"/", nil)
	req.Host = "evil.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("Host evil.example: %d, want 403 (DNS rebinding)", resp.StatusCode)
	}
}

func TestPagesEscapeAndRedact(t *testing.T) {
	src, _ := project(t)
	_, hs := serve(t, src, Options{})
	for _, p := range []string{"/", "/runs", "/run/r1", "/run/r2", "/api/run/r1", "/api/instances", "/experiment/train", "/graph", "/plan"} {
		code, body := get(t, nil, hs.URL+p)
		if code != 200 {
			t.Errorf("GET %s: %d %s", p, code, body)
			continue
		}
		for _, bad := range []string{secret, "<script>alert", "<b>acc", "\x1b"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s shows %q in clear", p, bad)
			}
		}
	}
	_, body := get(t, nil, hs.URL+"/run/r1")
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "API_KEY=(sensitive)", "token=(sensitive)", `id="chart-`, "<polyline", "model.bin", "sub/notes.txt", "trainrun checkout r1 DIR"} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if strings.Contains(body, ">link<") {
		t.Error("run page lists a symbolic link among the outputs")
	}
}

func TestDownloadConfinedToOutputs(t *testing.T) {
	src, _ := project(t)
	_, hs := serve(t, src, Options{})
	if code, body := get(t, nil, hs.URL+"/run/r1/outputs/sub/notes.txt"); code != 200 || body != "notes" {
		t.Errorf("download sub/notes.txt: %d %q", code, body)
	}
	for _, p := range []string{"/run/r1/outputs/link", "/run/r1/outputs/../log", "/run/r1/outputs/%2e%2e/log", "/run/r1/outputs/..%2f..%2foutside", "/run/..%2fr1/outputs/model.bin", "/run/r1/outputs/", "/run/nope/outputs/model.bin"} {
		code, body := get(t, nil, hs.URL+p)
		if code == 200 || strings.Contains(body, "outside") || strings.Contains(body, "step 1") {
			t.Errorf("GET %s: %d %q, want it refused", p, code, body)
		}
	}
}

func TestCancelNeedsCSRF(t *testing.T) {
	src, _ := project(t)
	var cancelled []string
	src.Cancel = func(_ context.Context, run *state.Run) error { cancelled = append(cancelled, run.ID); return nil }
	s, hs := serve(t, src, Options{})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(form url.Values, origin string, header ...string) int {
		req, _ := http.NewRequest("POST", hs.URL+"/run/r2/cancel", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(url.Values{}, ""); code != http.StatusForbidden {
		t.Errorf("cancel without CSRF token: %d", code)
	}
	if code := post(url.Values{"csrf": {"wrong"}}, ""); code != http.StatusForbidden {
		t.Errorf("cancel with a wrong CSRF token: %d", code)
	}
	if code := post(url.Values{"csrf": {s.csrf}}, "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("cancel from another origin: %d", code)
	}
	if code := post(url.Values{"csrf": {s.csrf}}, "", "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("cancel from another site: %d", code)
	}
	if len(cancelled) != 0 {
		t.Fatalf("cancelled %v without a valid request", cancelled)
	}
	if code, _ := get(t, nil, hs.URL+"/run/r2/cancel"); code == 200 || len(cancelled) != 0 {
		t.Fatalf("GET cancels: %d %v", code, cancelled)
	}
	_, page := get(t, nil, hs.URL+"/run/r2")
	if !strings.Contains(page, `name="csrf" value="`+s.csrf+`"`) {
		t.Fatal("the live run's page has no cancel form with the CSRF token")
	}
	if code := post(url.Values{"csrf": {s.csrf}}, hs.URL, "Sec-Fetch-Site", "same-origin"); code != http.StatusSeeOther || len(cancelled) != 1 || cancelled[0] != "r2" {
		t.Errorf("cancel with the token: %d, cancelled %v", code, cancelled)
	}
}

func TestDownsampleKeepsExtremes(t *testing.T) {
	n := 100000
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i], y[i] = float64(i), math.Sin(float64(i)/1000)
	}
	y[4321], y[77777] = 50, -50
	dx, dy := downsample(x, y, maxDrawn)
	if len(dx) > maxDrawn+4 || len(dx) < maxDrawn/4 {
		t.Fatalf("downsampled to %d points", len(dx))
	}
	var hi, lo bool
	for i := range dy {
		hi = hi || dy[i] == 50 && dx[i] == 4321
		lo = lo || dy[i] == -50 && dx[i] == 77777
		if i > 0 && dx[i] < dx[i-1] {
			t.Fatalf("out of order at %d", i)
		}
	}
	if !hi || !lo || dx[0] != 0 || dx[len(dx)-1] != float64(n-1) {
		t.Errorf("extremes lost: spike %v dip %v first %v last %v", hi, lo, dx[0], dx[len(dx)-1])
	}
}

func TestRunsPaging(t *testing.T) {
	src, _ := project(t)
	var runs []*state.Run
	base := time.Now().Add(-time.Hour)
	for i := range 250 {
		runs = append(runs, &state.Run{ID: fmt.Sprintf("p%04d", i), Address: "experiment.sweep", Experiment: "sweep",
			Fingerprint: "f", Status: providers.Succeeded, CreatedAt: base.Add(time.Duration(i) * time.Second)})
	}
	if err := src.State.Put(runs...); err != nil {
		t.Fatal(err)
	}
	_, hs := serve(t, src, Options{})
	_, p1 := get(t, nil, hs.URL+"/runs?addr=experiment.sweep")
	_, p3 := get(t, nil, hs.URL+"/runs?addr=experiment.sweep&page=3")
	if !strings.Contains(p1, "/run/p0249") || strings.Contains(p1, "/run/p0149\"") || !strings.Contains(p1, `rel="next"`) {
		t.Error("page 1 is not the 100 newest, with a next link")
	}
	if !strings.Contains(p3, "/run/p0000") || strings.Contains(p3, `rel="next"`) || strings.Count(p3, `href="/run/p`) != 50 {
		t.Errorf("page 3 is not the 50 oldest (%d runs)", strings.Count(p3, `href="/run/p`))
	}
}

// TestPlanPlansAgainOnChange: the plan page's stream sends the plan again
// when a file it depends on changes, without a reload.
func TestPlanPlansAgainOnChange(t *testing.T) {
	src, _ := project(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "main.trainrun.hcl")
	if err := os.WriteFile(cfgFile, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	src.Plan = func(context.Context) (string, error) {
		b, err := os.ReadFile(cfgFile)
		return "Plan of <" + string(b) + ">", err
	}
	src.PlanTargets = func() fswatch.Targets {
		return fswatch.Targets{Dirs: []fswatch.Dir{{Path: dir, Match: func(string) bool { return true }}}}
	}
	_, hs := serve(t, src, Options{})
	if _, page := get(t, nil, hs.URL+"/plan"); !strings.Contains(page, "Plan of &lt;one&gt;") {
		t.Fatalf("plan page: %s", page)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/events/plan", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	// Write until the watcher, set up by the stream, has seen a change.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case d, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			var sw swap
			if err := json.Unmarshal([]byte(d), &sw); err != nil || sw.ID != "plan-body" || !strings.Contains(sw.HTML, "Plan of &lt;two") {
				t.Fatalf("event %s", d)
			}
			return
		case <-tick.C:
			if err := os.WriteFile(cfgFile, []byte("two"+strconv.Itoa(i)), 0o644); err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatal("no plan sent after the file changed")
		}
	}
}

func TestInstancesFilters(t *testing.T) {
	src, _ := project(t)
	_, hs := serve(t, src, Options{})
	for _, tc := range []struct {
		query     string
		want, not []string
	}{
		{"", []string{`lr=0.1`, `lr=1`}, nil},
		{"status=running", []string{`lr=1`}, []string{`lr=0.1`}},
		{"status=succeeded", []string{`lr=0.1`}, []string{`lr=1\"`}},
		{"q=LR%3D1", []string{`lr=1`}, []string{`lr=0.1`}},
		{"exp=other", nil, []string{`lr=0.1`, `lr=1`}},
	} {
		_, body := get(t, nil, hs.URL+"/api/instances?"+tc.query)
		var rows []instanceRow
		if err := json.Unmarshal([]byte(body), &rows); err != nil {
			t.Fatalf("%s: %v\n%s", tc.query, err, body)
		}
		text := fmt.Sprint(rows)
		if len(rows) > 0 && rows[0].Address == "" {
			t.Fatalf("?%s: rows without addresses: %s", tc.query, body)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("?%s lacks %s: %s", tc.query, w, text)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("?%s has %s: %s", tc.query, n, text)
			}
		}
	}
	// The page's live stream keeps the filters.
	_, page := get(t, nil, hs.URL+"/?status=running&q=lr")
	if !strings.Contains(page, `data-live="/events/instances?q=lr&amp;status=running"`) {
		t.Error("the live stream of a filtered page does not keep its filters")
	}
}

func TestGraphDrawsStates(t *testing.T) {
	src, _ := project(t)
	cfg := &lang.Config{Secrets: []string{secret}, Graph: map[string][]string{"experiment.eval": {"experiment.train"}, "experiment.train": {"compute.local"}}}
	src.Config = func() *lang.Config { return cfg }
	_, hs := serve(t, src, Options{})
	_, page := get(t, nil, hs.URL+"/graph")
	for _, want := range []string{`class="node state-running" data-node="experiment.train"`, "1 running, 1 succeeded", `href="/experiment/eval"`, `data-node="compute.local"`, `marker-end="url(#arrow)"`,
		// Instances known only from their runs are drawn too.
		`<a href="/run/r1"><g class="inst state-succeeded" data-address="experiment.train[&#34;lr=0.1&#34;]">`,
		`<a href="/run/r2"><g class="inst state-running" data-address="experiment.train[&#34;lr=1&#34;]">`} {
		if !strings.Contains(page, want) {
			t.Errorf("graph lacks %s", want)
		}
	}
	if n := strings.Count(page, "<line class=\"edge\""); n != 2 {
		t.Errorf("%d edges drawn, want 2", n)
	}
}

// TestGraphDrawsInstances checks the graph draws each instance in its
// experiment's box, coloured by its state and linked to its latest run or
// to itself on the instances page, pairs for_each instances, caps a large
// sweep with a "+N more" node, and escapes and redacts addresses.
func TestGraphDrawsInstances(t *testing.T) {
	src, _ := project(t)
	cfg := &lang.Config{Secrets: []string{secret}, Graph: map[string][]string{
		"experiment.train": {"compute.local"}, "experiment.eval": {"experiment.train"}, "experiment.big": {"compute.local"}}}
	add := func(addr, exp, each string) {
		cfg.Instances = append(cfg.Instances, &lang.Instance{Address: addr, Experiment: exp, Each: each})
	}
	add(`experiment.train["lr=0.1"]`, "train", "")
	add(`experiment.train["lr=1"]`, "train", "")
	add(`experiment.train["note=<b>x</b>"]`, "train", "")
	add(`experiment.train["tok=`+secret+`"]`, "train", "")
	add(`experiment.eval["lr=0.1"]`, "eval", `experiment.train["lr=0.1"]`)
	add(`experiment.eval["lr=1"]`, "eval", `experiment.train["lr=1"]`)
	for i := range graphCap + 3 {
		add(fmt.Sprintf(`experiment.big["i=%d"]`, i), "big", "")
	}
	src.Config = func() *lang.Config { return cfg }
	_, hs := serve(t, src, Options{})
	code, page := get(t, nil, hs.URL+"/graph")
	if code != http.StatusOK {
		t.Fatalf("GET /graph: %d\n%s", code, page)
	}
	for _, want := range []string{
		`<a href="/run/r1"><g class="inst state-succeeded" data-address="experiment.train[&#34;lr=0.1&#34;]"><title>experiment.train[&#34;lr=0.1&#34;]: succeeded</title>`,
		`<a href="/run/r2"><g class="inst state-running" data-address="experiment.train[&#34;lr=1&#34;]">`,
		// Never run: linked to the instances page filtered to it.
		`<a href="/?exp=eval&amp;q=experiment.eval%5B%22lr%3D1%22%5D"><g class="inst state-never-run" data-address="experiment.eval[&#34;lr=1&#34;]">`,
		`data-address="experiment.train[&#34;note=&lt;b&gt;x&lt;/b&gt;&#34;]"`,
		`<a href="/?exp=big"><g class="inst more"><title>3 more instances</title>`, ">+3 more</text>",
		`data-address="experiment.big[&#34;i=49&#34;]"`,
		`<a href="/experiment/big">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("graph lacks %s", want)
		}
	}
	for _, not := range []string{secret, "<b>x", `data-address="experiment.big[&#34;i=50&#34;]"`, `data-address="experiment.train["`} {
		if strings.Contains(page, not) {
			t.Errorf("graph has %s", not)
		}
	}
	for exp, want := range map[string]int{"train": 4, "eval": 2, "big": graphCap} {
		if n := strings.Count(page, `data-address="experiment.`+exp+`[`); n != want {
			t.Errorf("%d instances of %s drawn, want %d", n, exp, want)
		}
	}
	// One arrow per block dependency, one per for_each pair.
	if n := strings.Count(page, `<line class="edge"`); n != 3 {
		t.Errorf("%d block arrows, want 3", n)
	}
	if n := strings.Count(page, `<line class="edge each"`); n != 2 {
		t.Errorf("%d for_each arrows, want 2", n)
	}
}
