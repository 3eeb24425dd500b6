package runtime

import (
	"fmt"
	"strings"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// resolve decides an action that waited for upstream outputs, now that its
// upstream instances succeeded, and says what it decided and why when the
// plan left it open. It
// reports false when the action cannot go on (then reported skipped).
func (r *Runtime) resolve(a *planner.Action, outcomes map[string]*outcome) bool {
	wasPending := a.Action == planner.Pending // else it runs anyway, as the plan said
	err := a.Resolve(func(addr string) (string, error) {
		var run *state.Run
		if o := outcomes[addr]; o != nil {
			run = o.run
		} else {
			run = r.State.Latest(addr)
		}
		if run == nil || run.Status != providers.Succeeded {
			return "", fmt.Errorf("upstream %s has no successful run", addr)
		}
		return planner.OutputsHash(run), nil
	})
	if err != nil {
		r.emit(Event{Type: RunSkipped, Address: a.Address, Reason: err.Error()})
		return false
	}
	if !wasPending || a.Promotion != nil && a.Action == planner.Submit {
		return true // the plan, or its promotion, said it runs
	}
	ev := Event{Type: RunDecided, Address: a.Address, Action: a.Action, Reason: strings.Join(a.Reasons, "; ")}
	if a.Prior != nil {
		ev.RunID = a.Prior.ID
	}
	r.emit(ev)
	return true
}

// skipReason says why an action does not start after upstream (at address
// dep) ended without success.
func skipReason(dep string, up *outcome) string {
	switch {
	case up.skipped:
		return fmt.Sprintf("upstream %s was skipped", dep)
	case up.run == nil:
		return fmt.Sprintf("upstream %s did not start", dep)
	case up.run.Status == providers.Succeeded:
		return fmt.Sprintf("upstream %s did not succeed", dep)
	case up.run.Reason != "":
		return fmt.Sprintf("upstream %s %s (run %s): %s", dep, up.run.Status, up.run.ID, up.run.Reason)
	}
	return fmt.Sprintf("upstream %s %s (run %s)", dep, up.run.Status, up.run.ID)
}
