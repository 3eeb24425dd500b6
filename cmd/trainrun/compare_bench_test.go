package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// compareProject records n runs of one experiment, each with points
// metric points in its collected metrics.jsonl (loss, accuracy and epoch
// time alternating) and their latest values in its record, as apply does.
func compareProject(tb testing.TB, n, points int) string {
	tb.Helper()
	dir := tb.TempDir()
	data := filepath.Join(dir, ".trainrun")
	st, err := state.Open(data)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	if err := st.Lock(state.Holder{Command: "bench"}); err != nil {
		tb.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := make([]*state.Run, n)
	names := []string{"loss", "accuracy", "epoch_time"}
	for i := range runs {
		id := fmt.Sprintf("%012x", i+1)
		lr, batch := fmt.Sprintf("%g", 0.0001*float64(i+1)), 32<<(i%3)
		r := &state.Run{
			ID: id, Experiment: "train", Fingerprint: strings.Repeat("f", 64), Compute: "here",
			Address:   fmt.Sprintf(`experiment.train["batch=%d,lr=%s"]`, batch, lr),
			Params:    map[string]json.RawMessage{"lr": json.RawMessage(lr), "batch": json.RawMessage(fmt.Sprint(batch)), "epochs": json.RawMessage("100")},
			Status:    providers.Succeeded,
			CreatedAt: start.Add(time.Duration(i) * time.Second),
			Dir:       filepath.Join(data, "runs", id),
			Metrics:   map[string]state.Metric{},
		}
		var b strings.Builder
		for p := range points {
			step := float64(p / len(names))
			v := 1 / (1 + step + float64(i%97))
			name := names[p%len(names)]
			fmt.Fprintf(&b, `{"name":%q,"value":%g,"step":%g}`+"\n", name, v, step)
			r.Metrics[name] = state.Metric{Value: v, Step: &step}
		}
		if err := os.MkdirAll(r.Dir, 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.Dir, "metrics.jsonl"), []byte(b.String()), 0o600); err != nil {
			tb.Fatal(err)
		}
		runs[i] = r
	}
	if err := st.Put(runs...); err != nil {
		tb.Fatal(err)
	}
	if err := st.Sync(); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// BenchmarkCompare1000 is the whole compare command over 1000 instances
// with 100 metric points each (target: ≤ 200 ms; scripts/bench.sh times
// the binary too).
func BenchmarkCompare1000(b *testing.B) {
	dir := compareProject(b, 1000, 100)
	for _, args := range [][]string{{"-sort", "-accuracy", "experiment.train"}, {"-json", "experiment.train"}} {
		b.Run(strings.Join(args[:len(args)-1], " "), func(b *testing.B) {
			for b.Loop() {
				c := &cli{stdout: io.Discard, stderr: os.Stderr, getenv: func(string) string { return "" }, dir: dir}
				if code := cmdCompare(c, args); code != 0 {
					b.Fatalf("compare exited %d", code)
				}
			}
		})
	}
}

// TestCompareMany checks the benchmark's project: every instance listed,
// the best marked once per metric.
func TestCompareMany(t *testing.T) {
	dir := compareProject(t, 200, 30)
	var out strings.Builder
	c := &cli{stdout: &out, stderr: os.Stderr, getenv: func(string) string { return "" }, dir: dir}
	if code := cmdCompare(c, []string{"-sort", "loss", "experiment.train"}); code != 0 {
		t.Fatalf("compare exited %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4+200 {
		t.Fatalf("%d lines, want 4 + 200 rows:\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[4], "000000000061 ") || !strings.Contains(lines[4], "*") || strings.Count(out.String(), "*") != 1+2+2+3 { // the legend; loss and epoch_time: i%97 == 96 (2 rows); accuracy: i%97 == 0 (3 rows)
		t.Errorf("first row %q: want the lowest loss, marked", lines[4])
	}
}
