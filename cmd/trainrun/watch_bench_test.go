package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkWatchLatency measures, over 20 edits, the time from writing a
// source file to the process of the run it causes starting, on the local
// compute, with trainrun watch -auto-approve and its default debounce.
// Each edit supersedes the live run of the one before, which is cancelled.
// The target is a median of at most 300 ms.
func BenchmarkWatchLatency(b *testing.B) {
	if goruntime.GOOS != "linux" {
		b.Skip("watch latency is measured on Linux")
	}
	const edits = 20
	for range b.N {
		lat := watchLatencies(b, edits)
		sorted := slices.Sorted(slices.Values(lat))
		median := (sorted[(edits-1)/2] + sorted[edits/2]) / 2
		b.ReportMetric(float64(median)/1e6, "ms-median")
		b.ReportMetric(float64(sorted[edits-1])/1e6, "ms-max")
		b.ReportMetric(float64(sorted[0])/1e6, "ms-min")
		b.Logf("write → run's process started, over %d edits: median %v, max %v, min %v", edits, median.Round(time.Millisecond), sorted[edits-1].Round(time.Millisecond), sorted[0].Round(time.Millisecond))
	}
}

func watchLatencies(b *testing.B, edits int) []time.Duration {
	dir := b.TempDir()
	files := map[string]string{
		"trainrun.hcl": `compute "local" "here" {}

experiment "train" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "train.sh", path.root]
}
`,
		// The run notes when its process started, then holds until it is
		// superseded (or told to go).
		"src/train.sh": `t=$(date +%s%N)
echo "$t" > "$1/started-$(cat v.txt)"
i=0
while [ ! -f "$1/go" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
`,
		"src/v.txt": "0\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cmd := exec.Command("trainrun", "watch", "-auto-approve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("start trainrun watch (testscript.Main puts it on PATH): %v", err)
	}
	defer func() {
		os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
		time.Sleep(200 * time.Millisecond)
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("trainrun watch: %v\n%s", err, out.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			b.Errorf("trainrun watch did not stop\n%s", out.String())
		}
	}()
	started := func(v int) time.Time {
		p := filepath.Join(dir, "started-"+strconv.Itoa(v))
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if data, err := os.ReadFile(p); err == nil {
				if ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil {
					return time.Unix(0, ns)
				}
			}
			time.Sleep(time.Millisecond)
		}
		b.Fatalf("the run of edit %d did not start\n%s", v, out.String())
		return time.Time{}
	}
	started(0)
	time.Sleep(300 * time.Millisecond) // past the first cycle's own events
	b.ResetTimer()
	lat := make([]time.Duration, 0, edits)
	for i := 1; i <= edits; i++ {
		t0 := time.Now()
		if err := os.WriteFile(filepath.Join(dir, "src", "v.txt"), []byte(fmt.Sprintf("%d\n", i)), 0o644); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, started(i).Sub(t0))
		time.Sleep(150 * time.Millisecond)
	}
	b.StopTimer()
	return lat
}
