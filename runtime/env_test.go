package runtime

import (
	"testing"

	"github.com/trainrun/trainrun/lang"
)

func TestRunEnvPythonUnbuffered(t *testing.T) {
	inst := &lang.Instance{Experiment: "e", Address: "experiment.e"}
	if got := RunEnv(inst, "r1")["PYTHONUNBUFFERED"]; got != "1" {
		t.Fatalf("PYTHONUNBUFFERED = %q, want 1", got)
	}
	inst.Env = map[string]string{"PYTHONUNBUFFERED": ""}
	if got := RunEnv(inst, "r1")["PYTHONUNBUFFERED"]; got != "" {
		t.Fatalf("the experiment's env does not win: PYTHONUNBUFFERED = %q", got)
	}
}
