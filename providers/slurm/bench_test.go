package slurm

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/slurmtest"
	"github.com/trainrun/trainrun/providers"
)

// BenchmarkSweep1000 submits a 1000-run sweep of trivial runs to the test
// cluster as one job array and waits for every run, as apply does: one
// Wait per run, all of them at once. It reports the sbatch and squeue
// calls made and how long submitting alone took.
func BenchmarkSweep1000(b *testing.B) {
	const n = 1000
	slurmtest.Start(b)
	var submit time.Duration
	var sbatch, squeue int
	for i := range b.N {
		b.StopTimer()
		e := &countingExec{}
		c := New(Options{Name: "bench", Exec: e, Workdir: b.TempDir(), MaxRuns: -1, GPUs: -1})
		batch := providers.Batch{Experiment: "bench"}
		for j := range n {
			id := "b" + strconv.Itoa(i) + "-" + strconv.Itoa(j)
			s := &providers.RunSpec{RunID: id, Address: "experiment.bench[\"i=" + strconv.Itoa(j) + "\"]", Attempt: 1,
				Command: []string{"true"}, Env: map[string]string{"TRAINRUN_PARAM_I": strconv.Itoa(j)}}
			batch.Specs = append(batch.Specs, s)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		b.StartTimer()
		start := time.Now()
		hs, err := c.SubmitBatch(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		submit += time.Since(start)
		var wg sync.WaitGroup
		for _, h := range hs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st, err := c.Wait(ctx, h); err != nil || st.State != providers.Succeeded {
					b.Errorf("%s: %+v %v", h.ID, st, err)
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		cancel()
		sbatch += e.count("sbatch")
		squeue += e.count("squeue")
	}
	b.ReportMetric(float64(sbatch)/float64(b.N), "sbatch-calls/op")
	b.ReportMetric(float64(squeue)/float64(b.N), "squeue-calls/op")
	b.ReportMetric(submit.Seconds()/float64(b.N), "submit-s/op")
}
