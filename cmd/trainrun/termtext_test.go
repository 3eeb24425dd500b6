package main

import (
	"strings"
	"testing"

	"github.com/trainrun/trainrun/internal/termtext"
)

// hostileRunConfig has a run report what a terminal would obey: escape
// sequences in a metric's name, its log and an output's name, a newline
// in a metric's name and one 100 KB long.
var hostileRunFiles = map[string]string{
	"trainrun.hcl": `
compute "local" "here" {}

experiment "evil" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "evil.sh"]
}
`,
	"src/evil.sh": `printf '\033[2J\033]0;pwned\007cleared\n'
printf '{"name":"\\u001b[31mred\\u001b]0;title\\u0007","value":1}\n' >> "$TRAINRUN_METRICS_FILE"
printf '{"name":"two\\nlines","value":2}\n' >> "$TRAINRUN_METRICS_FILE"
printf '{"name":"%s","value":3}\n' "$(head -c 102400 /dev/zero | tr '\0' x)" >> "$TRAINRUN_METRICS_FILE"
touch "$TRAINRUN_OUTPUTS_DIR/$(printf '\033[31mred')"
`,
}

// TestRunTextEscaped: what a run reports reaches no terminal view raw:
// apply, status, show, runs and compare show control characters escaped
// and long strings cut, with a note.
func TestRunTextEscaped(t *testing.T) {
	p := newProject(t, hostileRunFiles)
	res := p.must(0, nil, "apply", "-auto-approve")
	views := map[string]string{"apply": res.stdout + res.stderr}
	for _, args := range [][]string{{"status"}, {"show", "experiment.evil"}, {"runs"}, {"compare", "experiment.evil"}} {
		res := p.must(0, nil, args...)
		views[strings.Join(args, " ")] = res.stdout + res.stderr
	}
	for name, out := range views {
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s shows control characters raw:\n%q", name, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if len(l) > 4*termtext.Max+200 {
				t.Errorf("%s shows a line of %d bytes: %.100q…", name, len(l), l)
			}
		}
	}
	for _, name := range []string{"status", "show experiment.evil"} {
		if out := views[name]; !strings.Contains(out, `\x1b[31mred`) || !strings.Contains(out, "more bytes not shown]") {
			t.Errorf("%s does not show the metric names escaped and cut:\n%.2000s", name, out)
		}
	}
	if !strings.Contains(views["show experiment.evil"], `two\nlines`) {
		t.Errorf("show does not show the newline of a metric's name escaped:\n%.2000s", views["show experiment.evil"])
	}
	if !strings.Contains(views["apply"], `\x1b[2J\x1b]0;pwned\acleared`) {
		t.Errorf("apply does not show the run's escape sequences escaped:\n%q", views["apply"])
	}
}
