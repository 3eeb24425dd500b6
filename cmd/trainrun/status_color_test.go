package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestStatusColor runs status on a terminal: each status coloured as plan
// and apply colour them, the columns still aligned; with -no-color or
// NO_COLOR, no colour.
func TestStatusColor(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": `compute "local" "here" {}

experiment "good" {
  compute = compute.here
  shell   = "true"
}

experiment "bad" {
  compute = compute.here
  shell   = "exit 2"
}

experiment "later" {
  compute = compute.here
  shell   = "true"
  depends_on = [experiment.bad]
}
`})
	p.must(1, nil, "apply", "-auto-approve", "-target", "experiment.good", "-target", "experiment.bad")
	p.env = slices.DeleteFunc(p.env, func(e string) bool { return strings.HasPrefix(e, "NO_COLOR=") })

	term := startInPTY(t, p, 120, 30, "status")
	if code := term.wait(t); code != 0 {
		t.Fatalf("status exited %d:\n%s", code, term.raw())
	}
	raw := term.raw()
	for _, want := range []string{"\x1b[32msucceeded\x1b[0m", "\x1b[31mfailed (exit 2)\x1b[0m", "\x1b[2mnever run\x1b[0m"} {
		if !strings.Contains(raw, want) {
			t.Errorf("status on a terminal does not say %q:\n%q", want, raw)
		}
	}
	// Without the escapes, the columns line up as tabwriter's would.
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(raw, "")
	lines := strings.Split(strings.ReplaceAll(plain, "\r\n", "\n"), "\n")
	col := -1
	for _, l := range lines {
		if l == "" {
			continue
		}
		i := strings.Index(l, "  ") // the end of the address column
		for i < len(l) && l[i] == ' ' {
			i++
		}
		j := strings.Index(l[i:], "  ") + i // the end of the status column
		for j < len(l) && l[j] == ' ' {
			j++
		}
		if col >= 0 && j != col {
			t.Errorf("the RUN column starts at %d on %q, at %d above:\n%s", j, l, col, plain)
		}
		col = j
	}

	for _, args := range [][]string{{"-no-color", "status"}, {"status"}} {
		env := p.env
		if len(args) == 1 {
			p.env = append(slices.Clone(env), "NO_COLOR=1")
		}
		term := startInPTY(t, p, 120, 30, args...)
		term.wait(t)
		p.env = env
		if raw := term.raw(); strings.Contains(raw, "\x1b[") || !strings.Contains(raw, "succeeded") {
			t.Errorf("trainrun %s (NO_COLOR=%v) on a terminal: %q", strings.Join(args, " "), len(args) == 1, raw)
		}
	}
}
