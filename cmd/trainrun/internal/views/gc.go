package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/runtime"
)

// GCPlan shows what gc removes (or, with dryRun, would remove) and why the
// rest is kept.
func GCPlan(w io.Writer, p *runtime.GCPlan, keepDays int, dryRun, color bool) {
	young := ""
	if keepDays > 0 {
		young = ", runs younger than " + plural.Count(keepDays, "day")
	}
	kept := fmt.Sprintf("%s kept: the latest of each instance and its latest succeeded one, live runs%s, and their inputs",
		plural.Count(len(p.Kept), "run"), young)
	if p.Empty() {
		fmt.Fprintf(w, "Nothing to remove: every run directory and stored file is needed (%s).\n", kept)
		return
	}
	verb := "removes"
	if dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(w, "trainrun gc %s what no kept run needs (%s):\n\n", verb, kept)
	for _, r := range p.RunDirs {
		fmt.Fprintf(w, "  %s run directory %s of %s on %s\n", Paint(color, "31", "-"), r.Handle.Dir, r.ID, r.Handle.Compute)
	}
	for _, r := range p.Collected {
		fmt.Fprintf(w, "  %s collected outputs of %s (%s); its log and metrics stay\n", Paint(color, "31", "-"), r.ID, r.Address)
	}
	if n := len(p.Manifests) + len(p.Blobs); n > 0 {
		fmt.Fprintf(w, "  %s %s and %s from the content store\n", Paint(color, "31", "-"),
			plural.Count(len(p.Manifests), "snapshot"), plural.Count(len(p.Blobs), "stored file"))
	}
	fmt.Fprintln(w)
	if dryRun {
		fmt.Fprintf(w, "gc -dry-run: would free %s%s; nothing was removed.\n", plural.Bytes(p.Bytes), remoteBytes(p.Remote, p.RemoteBytes))
	}
}

// GCDone sums up what gc removed: res, and checkpoints checkpoint
// directories no run will resume from.
func GCDone(w io.Writer, p *runtime.GCPlan, res runtime.GCResult, checkpoints int) {
	done := removed(res)
	if checkpoints > 0 {
		done += ", " + plural.Count(checkpoints, "checkpoint directory")
	}
	fmt.Fprintf(w, "gc complete: %s removed; %s freed%s.\n", done, plural.Bytes(res.Bytes), remoteBytes(p.Remote, res.RemoteBytes))
}

// removed says what gc removed, leaving out what it had none of.
func removed(r runtime.GCResult) string {
	var parts []string
	for _, p := range []struct {
		n    int
		noun string
	}{{r.RunDirs, "run directory"}, {r.Collected, "collected output directory"}, {r.Manifests, "snapshot"}, {r.Blobs, "stored file"}} {
		if p.n > 0 {
			parts = append(parts, plural.Count(p.n, p.noun))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// remoteBytes is what run directories on other machines add, where known.
func remoteBytes(n int, bytes int64) string {
	switch {
	case n == 0:
		return " on this machine"
	case bytes == 0:
		return fmt.Sprintf(" on this machine, and %s on other machines", plural.Count(n, "run directory"))
	}
	return fmt.Sprintf(" on this machine, and %s in %s on other machines", plural.Bytes(bytes), plural.Count(n, "run directory"))
}
