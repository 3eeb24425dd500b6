package views

import (
	"regexp"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/planner"
)

func TestWatchLines(t *testing.T) {
	var out, errs strings.Builder
	v := NewWatchLines(&out, &errs, false, false)
	v.Say("Change 1: a.hcl")
	v.Error("Error: boom")
	v.Broken(true)
	v.Broken(false)
	v.Plan("First plan", &planner.Plan{Warnings: []string{"big snapshot"}}, true)
	v.Close()
	v.Close() // twice is fine
	stamped := regexp.MustCompile(`^\d\d:\d\d:\d\d `)
	lines := strings.Split(out.String(), "\n")
	for _, want := range []string{
		"Change 1: a.hcl",
		"The configuration has errors (above): nothing changes until a save fixes them; the last good configuration stays in force.",
		"The configuration has errors (above): fix them and save; watching goes on.",
	} {
		found := false
		for _, l := range lines {
			if stamped.MatchString(l) && strings.HasSuffix(l, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("stdout has no timestamped line %q:\n%s", want, out.String())
		}
	}
	for _, want := range []string{"No changes. Everything is up to date.", "Press Enter to apply this plan"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout does not say %q:\n%s", want, out.String())
		}
	}
	if want := "Error: boom\nWarning: big snapshot\n"; errs.String() != want {
		t.Errorf("stderr %q, want %q", errs.String(), want)
	}
}
