package views

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/internal/termtext"
	"github.com/trainrun/trainrun/planner"
)

// planJSON is the -json form of a plan (SPEC §6).
type planJSON struct {
	FormatVersion string         `json:"format_version"`
	Actions       []any          `json:"actions"` // environment actions first, then runs
	Summary       map[string]int `json:"summary"`
	// Sweeps are the policies of the sweeps whose runs the plan starts.
	Sweeps []*planner.Sweep `json:"sweeps,omitempty"`
}

// PlanJSON writes the -json form of p.
func PlanJSON(w io.Writer, p *planner.Plan) {
	actions := []any{}
	for _, a := range p.Computes {
		actions = append(actions, a)
	}
	for _, a := range p.Environments {
		if a.Action != planner.NoOp {
			actions = append(actions, a)
		}
	}
	for _, a := range p.Actions {
		actions = append(actions, a)
	}
	b, _ := json.MarshalIndent(planJSON{FormatVersion: "1", Actions: actions, Summary: p.Summary(), Sweeps: p.Sweeps}, "", "  ")
	fmt.Fprintf(w, "%s\n", b)
}

// symbols mark each action in the human plan, as Terraform's do.
var symbols = map[string]string{
	planner.Create: "+", planner.Attach: "+", planner.Configure: "~",
	planner.Submit: "+", planner.Restore: "<", planner.Update: "~", planner.Destroy: "-", planner.NoOp: " ",
	planner.Pending: "?",
}

var actionColor = map[string]string{
	planner.Create: "32", planner.Attach: "32", planner.Configure: "33",
	planner.Submit: "32", planner.Restore: "36", planner.Update: "33", planner.Destroy: "31", planner.NoOp: "2",
	planner.Pending: "36",
}

// Paint colours s with the SGR code when on.
func Paint(on bool, code, s string) string {
	if !on || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Plan prints one line per action: symbol, action, address and the
// reasons, then the summary line.
func Plan(w io.Writer, p *planner.Plan, showAll, color bool) {
	listed, waits := 0, 0
	// Computes to attach, then environments: before the runs that use them.
	for _, a := range p.Computes {
		if listed == 0 {
			fmt.Fprintln(w, "trainrun will perform these actions:")
			fmt.Fprintln(w)
		}
		listed++
		fmt.Fprintf(w, "  %s %s\n", Paint(color, actionColor[a.Action], symbols[a.Action]+" "+a.Action), termtext.Escape(a.Address))
		for _, r := range a.Reasons {
			fmt.Fprintf(w, "        %s\n", termtext.Escape(r))
		}
	}
	// Environments first: they are made before the runs that use them.
	for _, a := range p.Environments {
		if a.Action == planner.NoOp && !showAll {
			continue
		}
		if listed == 0 {
			fmt.Fprintln(w, "trainrun will perform these actions:")
			fmt.Fprintln(w)
		}
		listed++
		fmt.Fprintf(w, "  %s %s on compute.%s\n", Paint(color, actionColor[a.Action], symbols[a.Action]+" "+a.Action), a.Address, a.Compute)
		for _, r := range a.Reasons {
			fmt.Fprintf(w, "        %s\n", termtext.Escape(r))
		}
	}
	awaiting := map[string]int{} // by experiment: instances waiting for a promotion
	var awaitOrder []string
	for _, a := range p.Actions {
		if a.AwaitsPromotion != nil && !showAll {
			if awaiting[a.Instance.Experiment] == 0 {
				awaitOrder = append(awaitOrder, a.Instance.Experiment)
			}
			awaiting[a.Instance.Experiment]++
			continue
		}
		if a.Action == planner.NoOp && !showAll && (a.Prior == nil || !a.Prior.Live()) && len(a.Notes) == 0 {
			continue
		}
		if listed == 0 {
			fmt.Fprintln(w, "trainrun will perform these actions:")
			fmt.Fprintln(w)
		}
		listed++
		verb := a.Action
		if a.Action == planner.NoOp && a.Prior != nil && a.Prior.Live() {
			verb = "wait"
			waits++
		}
		fmt.Fprintf(w, "  %s %s\n", Paint(color, actionColor[a.Action], symbols[a.Action]+" "+verb), termtext.Escape(a.Address))
		for _, r := range append(slices.Clip(a.Reasons), a.Notes...) {
			fmt.Fprintf(w, "        %s\n", termtext.Escape(r))
		}
	}
	for _, name := range awaitOrder {
		if listed == 0 {
			fmt.Fprintln(w, "trainrun will perform these actions:")
			fmt.Fprintln(w)
		}
		listed++
		fmt.Fprintf(w, "  %s experiment.%s: %s\n", Paint(color, actionColor[planner.Pending], symbols[planner.Pending]+" await"), name,
			plural.Phrase(awaiting[name], "instance at a higher rung waits", "instances at higher rungs wait")+" for promotion (-show-unchanged lists them)")
	}
	if listed > 0 {
		fmt.Fprintln(w)
	}
	for _, s := range p.Sweeps {
		fmt.Fprintf(w, "%s sweeps with %s.\n", s.Experiment, s)
	}
	if len(p.Sweeps) > 0 {
		fmt.Fprintln(w)
	}
	switch {
	case p.Changes():
	case waits > 0:
		// Not "up to date": live runs have yet to end.
		if waits == 1 {
			fmt.Fprintln(w, "No changes. apply waits for the live run above and uses its result.")
		} else {
			fmt.Fprintf(w, "No changes. apply waits for the %d live runs above and uses their results.\n", waits)
		}
	default:
		fmt.Fprintln(w, "No changes. Everything is up to date.")
	}
	fmt.Fprintln(w, summaryLine(p))
}

func summaryLine(p *planner.Plan) string {
	s := p.Summary()
	var parts []string
	for _, n := range []string{planner.Create, planner.Attach, planner.Configure} {
		if s[n] > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", s[n], n))
		}
	}
	parts = append(parts, fmt.Sprintf("%d to submit", s[planner.Submit]))
	if s[planner.Restore] > 0 {
		parts = append(parts, fmt.Sprintf("%d to restore", s[planner.Restore]))
	}
	parts = append(parts,
		fmt.Sprintf("%d to update", s[planner.Update]),
		fmt.Sprintf("%d to destroy", s[planner.Destroy]))
	promotions := 0
	for _, a := range p.Actions {
		if a.AwaitsPromotion != nil {
			promotions++
		}
	}
	if n := s[planner.Pending] - promotions; n > 0 {
		parts = append(parts, fmt.Sprintf("%d pending upstream", n))
	}
	if promotions > 0 {
		parts = append(parts, fmt.Sprintf("%d awaiting promotion", promotions))
	}
	return fmt.Sprintf("Plan: %s, %d unchanged.", strings.Join(parts, ", "), s[planner.NoOp])
}
