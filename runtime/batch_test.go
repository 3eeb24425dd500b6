package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/local"
)

// batchKind is the local compute kind whose computes also submit in
// batches (one Submit per run, as a test double for a job array), recording
// every batch.
type batchKind struct{ rec *batchRecord }

type batchRecord struct {
	mu       sync.Mutex
	batches  []providers.Batch
	attempts []string // TRAINRUN_ATTEMPT of each batched spec, when it was submitted
	submits  int
}

func (k batchKind) Schema() providers.Schema                        { return local.Kind().Schema() }
func (k batchKind) Validate(v providers.Values) []providers.Problem { return local.Kind().Validate(v) }
func (k batchKind) Open(name string, v providers.Values, env providers.Env) (providers.Compute, error) {
	c, err := local.Kind().Open(name, v, env)
	if err != nil {
		return nil, err
	}
	return &batchCompute{Compute: c, rec: k.rec}, nil
}

type batchCompute struct {
	providers.Compute
	rec *batchRecord
}

func (c *batchCompute) Submit(ctx context.Context, spec *providers.RunSpec) (providers.Handle, error) {
	c.rec.mu.Lock()
	c.rec.submits++
	c.rec.mu.Unlock()
	return c.Compute.Submit(ctx, spec)
}

func (c *batchCompute) SubmitBatch(ctx context.Context, b providers.Batch) ([]providers.Handle, error) {
	c.rec.mu.Lock()
	c.rec.batches = append(c.rec.batches, b)
	for _, s := range b.Specs {
		c.rec.attempts = append(c.rec.attempts, strconv.Itoa(s.Attempt)+"/"+s.Env["TRAINRUN_ATTEMPT"])
	}
	c.rec.mu.Unlock()
	hs := make([]providers.Handle, len(b.Specs))
	for i, s := range b.Specs {
		h, err := c.Compute.Submit(ctx, s)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return hs, nil
}

func newBatchProject(t *testing.T, config string) (*project, *batchRecord) {
	t.Helper()
	p := newProject(t, oneExperiment)
	rec := &batchRecord{}
	p.reg.Computes["batchy"] = batchKind{rec}
	p.write("trainrun.hcl", config)
	cfg := p.load()
	p.rt.Config = cfg
	p.rt.Computes = NewComputes(cfg, p.reg, p.rt.Computes.env)
	return p, rec
}

func TestSweepIsSubmittedAsOneBatch(t *testing.T) {
	p, rec := newBatchProject(t, `
compute "batchy" "cluster" {
  max_runs = 1
}
experiment "prep" {
  compute    = compute.cluster
  source_dir = "src"
  command    = ["true"]
}
experiment "sweep" {
  compute    = compute.cluster
  source_dir = "src"
  command    = ["sh", "-c", "echo $TRAINRUN_PARAM_I > \"$TRAINRUN_OUTPUTS_DIR/i\"; test $TRAINRUN_PARAM_I != 3 || test $TRAINRUN_ATTEMPT = 2"]
  retries    = 1
  depends_on = [experiment.prep]
  sweep {
    grid           = { i = range(6) }
    max_concurrent = 2
  }
}
`)
	res, err := p.rt.Apply(context.Background(), p.plan(p.rt.Config), Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Succeeded != 7 || !res.OK() {
		t.Fatalf("result %+v", res)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.batches) != 1 {
		t.Fatalf("%d batches, want 1", len(rec.batches))
	}
	b := rec.batches[0]
	if b.Experiment != "sweep" || b.MaxConcurrent != 2 || len(b.Specs) != 6 {
		t.Errorf("batch of %s, max_concurrent %d, %d runs", b.Experiment, b.MaxConcurrent, len(b.Specs))
	}
	for _, a := range rec.attempts {
		if a != "1/1" {
			t.Errorf("a batched run was submitted as attempt/TRAINRUN_ATTEMPT %s", a)
		}
	}
	// Besides the batch, prep alone and the retry of i=3, one by one.
	if rec.submits != 2 {
		t.Errorf("%d Submit calls, want 2", rec.submits)
	}
	for _, run := range p.st.Runs() {
		if run.Experiment != "sweep" {
			continue
		}
		want := 1
		if run.Params["i"] != nil && string(run.Params["i"]) == "3" {
			want = 2
		}
		if run.Attempts != want || run.Handle == nil {
			t.Errorf("%s: %d attempts, handle %v", run.Address, run.Attempts, run.Handle)
		}
		if _, err := os.Stat(filepath.Join(p.dir, ".trainrun", "runs", run.ID, "outputs", "i")); err != nil {
			t.Errorf("%s: outputs not collected: %v", run.Address, err)
		}
	}
}

func TestSingleRunIsNotBatched(t *testing.T) {
	p, rec := newBatchProject(t, `
compute "batchy" "cluster" {}
experiment "one" {
  compute    = compute.cluster
  source_dir = "src"
  command    = ["true"]
}
`)
	res, err := p.rt.Apply(context.Background(), p.plan(p.rt.Config), Options{})
	if err != nil || !res.OK() || res.Succeeded != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if len(rec.batches) != 0 || rec.submits != 1 {
		t.Errorf("%d batches, %d submits", len(rec.batches), rec.submits)
	}
}

func TestStoppedBatchStartsNothing(t *testing.T) {
	p, rec := newBatchProject(t, `
compute "batchy" "cluster" {}
experiment "sweep" {
  compute    = compute.cluster
  source_dir = "src"
  command    = ["true"]
  sweep {
    grid = { i = range(3) }
  }
}
`)
	stop := make(chan struct{})
	close(stop)
	res, err := p.rt.Apply(context.Background(), p.plan(p.rt.Config), Options{Stop: stop})
	if err != nil {
		t.Fatal(err)
	}
	if res.Succeeded != 0 || len(rec.batches) != 0 || rec.submits != 0 {
		t.Errorf("result %+v, %d batches, %d submits", res, len(rec.batches), rec.submits)
	}
}
