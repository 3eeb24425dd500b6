package views

import (
	"fmt"
	"io"

	"github.com/trainrun/trainrun/runtime"
)

// ApplyComplete sums up what an apply did, as its last line.
func ApplyComplete(w io.Writer, res runtime.Result) {
	fmt.Fprintf(w, "\nApply complete: %d succeeded, %d failed, %d cancelled", res.Succeeded, res.Failed, res.Cancelled)
	if res.Stopped > 0 {
		fmt.Fprintf(w, ", %d stopped early", res.Stopped)
	}
	if res.Skipped > 0 {
		fmt.Fprintf(w, ", %d skipped (upstream did not succeed)", res.Skipped)
	}
	if res.NotStarted > 0 {
		fmt.Fprintf(w, ", %d not started (interrupted)", res.NotStarted)
	}
	if res.Detached > 0 {
		fmt.Fprintf(w, ", %d left running (re-attach: trainrun apply)", res.Detached)
	}
	if res.Updated > 0 {
		fmt.Fprintf(w, ", %d updated", res.Updated)
	}
	if res.ByOther > 0 {
		fmt.Fprintf(w, ", %d by another apply", res.ByOther)
	}
	if res.Restored > 0 {
		fmt.Fprintf(w, ", %d restored (same fingerprint as an earlier run)", res.Restored)
	}
	if res.Unchanged > 0 {
		fmt.Fprintf(w, ", %d unchanged (same upstream outputs)", res.Unchanged)
	}
	if res.NotPromoted > 0 {
		fmt.Fprintf(w, ", %d not promoted", res.NotPromoted)
	}
	fmt.Fprintln(w, ".")
}
