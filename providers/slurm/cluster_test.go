package slurm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
)

func TestSingleRunSucceeds(t *testing.T) {
	c, e := cluster(t, Options{})
	spec := newSpec(t, "run-ok", map[string]string{"train.py": "print('hi')\n"},
		"sh", "-c", `cat train.py; echo "attempt=$TRAINRUN_ATTEMPT job=$SLURM_JOB_ID"; echo 42 > "$TRAINRUN_OUTPUTS_DIR/answer"`)
	spec.Outputs = []string{"train.py"}
	ctx := ctxFor(t, time.Minute)
	h, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if h.Kind != "slurm" || !validJobID(h.ID) || h.Dir == "" {
		t.Fatalf("handle %+v", h)
	}
	st := waitFor(t, c, h, time.Minute)
	if st.State != providers.Succeeded || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("status %+v\nlog:\n%s", st, readLog(h))
	}
	dst := t.TempDir()
	if err := c.Collect(ctx, h, spec, dst, true); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(dst, "log"))
	if !strings.Contains(string(log), "print('hi')") || !strings.Contains(string(log), "attempt=1 job="+h.ID) {
		t.Errorf("log:\n%s", log)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "outputs", "answer")); string(b) != "42\n" {
		t.Errorf("outputs/answer = %q", b)
	}
	if _, err := os.Stat(filepath.Join(dst, "outputs", "train.py")); err != nil {
		t.Errorf("declared output: %v", err)
	}
	if n := e.count("sbatch"); n != 1 {
		t.Errorf("%d sbatch calls", n)
	}
}
