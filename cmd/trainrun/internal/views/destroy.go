package views

import (
	"fmt"
	"io"

	"github.com/trainrun/trainrun/state"
)

// Destroy lists what destroy removes from computes, as a plan.
func Destroy(w io.Writer, envs []*state.Environment, runs []*state.Run, color bool) {
	targets := runs
	fmt.Fprintln(w, "trainrun will destroy:")
	fmt.Fprintln(w)
	for _, e := range envs {
		fmt.Fprintf(w, "  %s environment %s (%s %s) on %s\n", Paint(color, "31", "- destroy"), e.Name, e.Spec.Kind, e.Location, e.Compute)
	}
	for _, r := range targets {
		fmt.Fprintf(w, "  %s run directory %s of %s on %s\n", Paint(color, "31", "- destroy"), r.Handle.Dir, r.ID, r.Handle.Compute)
	}
	fmt.Fprintf(w, "\nPlan: 0 to submit, 0 to update, %d to destroy. Recorded runs and collected results stay.\n", len(targets)+len(envs))
}
