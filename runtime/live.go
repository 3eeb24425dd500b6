package runtime

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Live metrics
//
// While apply waits for a run, it reads the run's metrics file from its
// compute as the run writes it (providers.MetricsReader: the local file,
// streamed over SSH, read from Slurm's shared workdir). Every line is
// copied to the run's directory of results (.trainrun/runs/ID/metrics.jsonl,
// where the collected file lands when the run ends), so that status,
// compare and the web UI read a live run's latest metrics where they read a
// finished run's: LiveMetrics is that one place. Every point goes to the
// sweep's early-stopping policy, if it has one, and the latest values
// reach the views as RunMetrics events, at most once a second per run.

// metricsFile is the name of a run's metrics in its directory of results.
const metricsFile = "metrics.jsonl"

// metricsEvery bounds how often a live run's latest metrics are sent as an
// event.
const metricsEvery = time.Second

// LiveMetrics returns the latest value of each metric of run: what its
// record holds once it ended; while it is live, what the apply that follows
// it has copied so far under dataDir (the project's .trainrun). Nil when
// there is none.
func LiveMetrics(dataDir string, run *state.Run) map[string]state.Metric {
	if !run.Live() || dataDir == "" {
		return run.Metrics
	}
	f, err := openNoFollow(filepath.Join(dataDir, "runs", run.ID, metricsFile), os.O_RDONLY, 0)
	if err != nil {
		return run.Metrics
	}
	defer f.Close()
	m, _ := latestMetrics(f, "")
	if m == nil {
		return run.Metrics
	}
	return m
}

// openNoFollow opens a file of trainrun's own, never through a symlink.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
}

// followMetrics reads the metrics of run, whose current attempt h is, from
// comp until the run is final or ctx is done; then done is closed. Each
// point goes to the run's sweep (if its experiment has a policy) and, at
// most once a second, the latest values to the views.
func (r *apply) followMetrics(ctx context.Context, comp providers.Compute, run *state.Run, h providers.Handle) (done <-chan struct{}) {
	ch := make(chan struct{})
	mr, ok := comp.(providers.MetricsReader)
	if !ok {
		close(ch)
		return ch
	}
	sw := r.sweepOf(run.Experiment)
	id, addr := run.ID, run.Address
	go func() {
		defer close(ch)
		rc, err := mr.Metrics(ctx, h, 0, true)
		if err != nil {
			if ctx.Err() == nil {
				r.emit(Event{Type: Warning, Address: addr, RunID: id, Message: "follow metrics: " + err.Error()})
			}
			return
		}
		defer rc.Close()
		var copyTo io.Writer = io.Discard
		dir := r.runDir(id)
		if err := os.MkdirAll(dir, 0o700); err == nil {
			// Each attempt starts its file anew: an earlier attempt's goes
			// now, and this one's is made at its first point (most runs
			// write none: a file made and removed again per run was 1% of
			// a trivial sweep's CPU).
			path := filepath.Join(dir, metricsFile)
			if err := os.Remove(path); err == nil || errors.Is(err, fs.ErrNotExist) {
				c := &lazyCopy{path: path}
				defer c.Close()
				copyTo = c
			}
		}
		lm := &liveMetrics{r: r.Runtime, id: id, addr: addr, sw: sw, counts: map[string]float64{}}
		readPoints(io.TeeReader(rc, copyTo), "", lm.point)
		lm.flush()
	}()
	return ch
}

// lazyCopy writes a live run's copy of its metrics a few times a second,
// not at every read: a thousand runs writing a line every 100 ms are a
// thousand writes less each time.
type lazyCopy struct {
	path    string   // the copy, made at the first write
	f       *os.File // nil until then
	err     error    // of making it
	buf     []byte
	written time.Time
}

// copyEvery is how stale a live run's copy of its metrics may be.
const copyEvery = 250 * time.Millisecond

func (c *lazyCopy) Write(b []byte) (int, error) {
	c.buf = append(c.buf, b...)
	if now := time.Now(); now.Sub(c.written) >= copyEvery || len(c.buf) >= 64<<10 {
		c.written = now
		return len(b), c.flush()
	}
	return len(b), nil
}

func (c *lazyCopy) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	if c.f == nil && c.err == nil {
		c.f, c.err = openNoFollow(c.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	if c.err != nil {
		c.buf = c.buf[:0]
		return c.err
	}
	_, err := c.f.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

func (c *lazyCopy) Close() error {
	err := c.flush()
	if c.f == nil {
		return err
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// liveMetrics takes the points of one run's metrics as they come.
type liveMetrics struct {
	r      *Runtime
	id     string
	addr   string
	sw     *stopper
	counts map[string]float64 // reports per metric: the step of a point without one

	latest  map[string]state.Metric
	changed bool
	sent    time.Time
}

func (lm *liveMetrics) point(p Point) {
	lm.counts[p.Name]++
	step := lm.counts[p.Name]
	if p.Step != nil {
		step = *p.Step
	}
	if lm.sw != nil && p.Name == lm.sw.metric() {
		lm.sw.report(lm.id, step, p.Value)
	}
	if lm.latest == nil {
		lm.latest = map[string]state.Metric{}
	}
	lm.latest[p.Name] = state.Metric{Value: p.Value, Step: p.Step, Time: p.Time}
	lm.changed = true
	if now := time.Now(); now.Sub(lm.sent) >= metricsEvery {
		lm.flush()
	}
}

// flush sends the latest values, if they changed since last sent.
func (lm *liveMetrics) flush() {
	if !lm.changed {
		return
	}
	m := make(map[string]state.Metric, len(lm.latest))
	for k, v := range lm.latest {
		m[k] = v
	}
	lm.changed, lm.sent = false, time.Now()
	lm.r.emit(Event{Type: RunMetrics, Address: lm.addr, RunID: lm.id, Metrics: m})
}

// drain waits for a follower to read what is left once its run ended, for
// at most logDrain; then it stops it.
func drain(done <-chan struct{}, stop context.CancelFunc) {
	select {
	case <-done:
	case <-time.After(logDrain):
		stop()
		<-done
	}
}

// MetricCurves reads every value of each metric of run, in the order it
// recorded them: from its directory of results, where the apply that
// follows a live run copies them and where they are collected.
func MetricCurves(dataDir string, run *state.Run) map[string][]float64 {
	dir := run.Dir
	if dir == "" {
		dir = filepath.Join(dataDir, "runs", run.ID)
	}
	p := filepath.Join(dir, "metrics.jsonl")
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string][]float64{}
	EachPoint(f, func(pt Point) { out[pt.Name] = append(out[pt.Name], pt.Value) })
	return out
}

// OutputFiles lists the files of a run's collected outputs/, relative to
// it.
func OutputFiles(run *state.Run) []string {
	if run.Dir == "" {
		return nil
	}
	dir := filepath.Join(run.Dir, "outputs")
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}
