package views

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

func testRun() *state.Run {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	finished := created.Add(90 * time.Second)
	code := 0
	return &state.Run{ID: "0123456789ab", Address: "experiment.a\x1b[31m", Experiment: "a", Status: providers.Succeeded,
		ExitCode: &code, Attempts: 1, CreatedAt: created, StartedAt: &created, FinishedAt: &finished, Dir: "/p/.trainrun/runs/0123456789ab"}
}

func TestRunShown(t *testing.T) {
	var b strings.Builder
	step := 3.0
	Run(&b, RunDetails{Run: testRun(), Metrics: map[string]state.Metric{"loss": {Value: 0.5, Step: &step}},
		Curves: map[string][]float64{"loss": {1, 0.7, 0.5}}, Outputs: []string{"model.bin"}})
	out := b.String()
	for _, want := range []string{"Run 0123456789ab\n", "  address:     experiment.a", "  environment: host (default)\n",
		"  loss         0.5 (step 3)", "\nOutputs:\n  model.bin\n", "\nLog: /p/.trainrun/runs/0123456789ab/log\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("show wrote an escape sequence from the run's record:\n%q", out)
	}
}

func TestRunsTable(t *testing.T) {
	var b strings.Builder
	r := testRun()
	u := testRun()
	u.ID, u.Uncollected = "ba9876543210", true
	RunsTable(&b, []*state.Run{r, u})
	out := b.String()
	if !strings.HasPrefix(out, "RUN ") || !strings.Contains(out, "0123456789ab") || !strings.Contains(out, "ba9876543210") {
		t.Errorf("runs table:\n%s", out)
	}
	if !strings.HasSuffix(out, "not collected: "+NotCollected+".\n") {
		t.Errorf("the table does not explain 'not collected':\n%s", out)
	}
}

func TestRecordJSON(t *testing.T) {
	var b strings.Builder
	JSON(&b, []RunRecord{Record(testRun())})
	var got []map[string]any
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["id"] != "0123456789ab" || got[0]["duration_s"] != 90.0 {
		t.Errorf("runs -json: %s", b.String())
	}
}
