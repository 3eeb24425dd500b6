package views

import (
	"strings"
	"testing"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// A plan with nothing to do but live runs to wait for does not call
// everything up to date: apply waits for them.
func TestPlanNoChangesWaits(t *testing.T) {
	live := func(addr string) *planner.Action {
		return &planner.Action{Address: addr, Action: planner.NoOp, Instance: &lang.Instance{Address: addr, Experiment: "train"},
			Prior: &state.Run{ID: "3f2a9c1b0d4e", Address: addr, Status: providers.Running}}
	}
	for _, tc := range []struct {
		name    string
		actions []*planner.Action
		want    string
	}{
		{name: "none live", want: "No changes. Everything is up to date.\n"},
		{name: "one live", actions: []*planner.Action{live("experiment.a")}, want: "No changes. apply waits for the live run above and uses its result.\n"},
		{name: "two live", actions: []*planner.Action{live("experiment.a"), live("experiment.b")}, want: "No changes. apply waits for the 2 live runs above and uses their results.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			Plan(&b, &planner.Plan{Actions: tc.actions}, false, false)
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("plan says:\n%s\nwant a line %q", b.String(), tc.want)
			}
		})
	}
}
