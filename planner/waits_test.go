package planner

import (
	"testing"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

func TestPlanWaitsAndRuns(t *testing.T) {
	live := &state.Run{Status: providers.Running}
	ended := &state.Run{Status: providers.Succeeded}
	for _, tc := range []struct {
		name    string
		actions []*Action
		waits   bool
		runs    int
	}{
		{"nothing", nil, false, 0},
		{"unchanged", []*Action{{Action: NoOp, Prior: ended}}, false, 0},
		{"live run", []*Action{{Action: NoOp, Prior: live}, {Action: NoOp}}, true, 1},
		{"submit and pending", []*Action{{Action: Submit}, {Action: Pending}, {Action: Restore}}, false, 2},
	} {
		p := &Plan{Actions: tc.actions}
		if got := p.Waits(); got != tc.waits {
			t.Errorf("%s: Waits() = %v, want %v", tc.name, got, tc.waits)
		}
		if got := p.Runs(); got != tc.runs {
			t.Errorf("%s: Runs() = %d, want %d", tc.name, got, tc.runs)
		}
	}
}
