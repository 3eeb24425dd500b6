package arguments

import (
	"reflect"
	"testing"
)

// fakeSource answers with fixed addresses and runs, per directory.
type fakeSource struct{}

func (fakeSource) Addresses(dir string) []string {
	if dir == "other" {
		return []string{"experiment.elsewhere"}
	}
	return []string{"experiment.prep", "experiment.train", `experiment.train["lr=0.05"]`, `experiment.train["lr=0.5"]`}
}

func (fakeSource) Runs(dir string, live bool) []string {
	if live {
		return []string{"aaa111"}
	}
	return []string{"aaa111", "bbb222"}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		words []string
		cur   string
		want  Completed
	}{
		{nil, "st", Completed{Words: []string{"status", "state"}}},
		{nil, "", Completed{Words: []string{"init", "validate", "fmt", "plan", "apply", "watch", "status", "runs", "show", "logs", "compare", "cancel", "checkout", "outputs", "rerun", "destroy", "gc", "graph", "ui", "state", "completion", "version", "help"}}},
		{nil, "-", Completed{Words: []string{"-chdir=", "-no-color", "-help", "-version"}}},
		{[]string{"-chdir"}, "", Completed{Dirs: true}},
		{[]string{"help"}, "ap", Completed{Words: []string{"apply"}}},
		{[]string{"plan"}, "-ta", Completed{Words: []string{"-target"}}},
		{[]string{"plan", "-target"}, "experiment.t", Completed{Words: []string{"experiment.train", `experiment.train["lr=0.05"]`, `experiment.train["lr=0.5"]`}}},
		{[]string{"plan"}, "-target=experiment.p", Completed{Words: []string{"-target=experiment.prep"}}},
		{[]string{"plan", "-var-file"}, "", Completed{Files: true}},
		{[]string{"plan", "-var", "x=1"}, "-j", Completed{Words: []string{"-json"}}},
		{[]string{"status"}, "experiment.p", Completed{Words: []string{"experiment.prep"}}},
		{[]string{"status", "experiment.prep"}, "", Completed{}},
		{[]string{"-chdir=other", "status"}, "", Completed{Words: []string{"experiment.elsewhere"}}},
		{[]string{"-chdir", "other", "status"}, "", Completed{Words: []string{"experiment.elsewhere"}}},
		{[]string{"logs", "-f"}, "a", Completed{Words: []string{"aaa111"}}},
		{[]string{"show"}, "", Completed{Words: []string{"aaa111", "bbb222", "experiment.prep", "experiment.train", `experiment.train["lr=0.05"]`, `experiment.train["lr=0.5"]`}}},
		{[]string{"cancel", "aaa111"}, "", Completed{Words: []string{"aaa111"}}},
		{[]string{"checkout", "aaa111"}, "", Completed{Dirs: true}},
		{[]string{"compare"}, "", Completed{Words: []string{"experiment.prep", "experiment.train", "aaa111", "bbb222"}}},
		{[]string{"compare", "aaa111"}, "b", Completed{Words: []string{"bbb222"}}},
		{[]string{"compare", "experiment.train"}, "", Completed{}},
		{[]string{"compare", "aaa111", "bbb222"}, "", Completed{}},
		{[]string{"runs", "-status"}, "f", Completed{Words: []string{"failed"}}},
		{[]string{"apply"}, "", Completed{Files: true}},
		{[]string{"apply", "-parallelism"}, "", Completed{}},
		{[]string{"init", "-example"}, "d", Completed{Words: []string{"digits", "dvc-style"}}},
		{[]string{"completion"}, "", Completed{Words: []string{"bash", "zsh", "fish"}}},
		{[]string{"nosuch"}, "", Completed{}},
	}
	for _, tt := range tests {
		got := Complete(tt.words, tt.cur, fakeSource{})
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Complete(%q, %q) = %+v, want %+v", tt.words, tt.cur, got, tt.want)
		}
	}
}

// BashLine gets what bash gives a completion function: the line up to the
// cursor, and COMP_WORDS[COMP_CWORD], which bash also breaks at = (the
// fragments below are what bash 5.2 gives).
func TestBashLine(t *testing.T) {
	tests := []struct {
		line, fragment string
		want           []string
	}{
		{"trainrun st", "st", []string{"status", "state"}},
		{"trainrun status experiment.train", "experiment.train",
			[]string{"experiment.train", `'experiment.train["lr=0.05"]'`, `'experiment.train["lr=0.5"]'`}},
		{`trainrun status 'experiment.train["lr=0.0`, `'experiment.train["lr=0.0`, []string{`'experiment.train["lr=0.05"]'`}},
		{`trainrun status "experiment.train[\"lr=0.0`, `"experiment.train[\"lr=0.0`, []string{`"experiment.train[\"lr=0.05\"]"`}},
		{`trainrun status experiment.train\[\"lr=0.0`, `0.0`, []string{`0.05\"\]`}},
		{"trainrun plan -target=experiment.p", "experiment.p", []string{"experiment.prep"}},
		{"trainrun plan -target=", "=", []string{"=experiment.prep", "=experiment.train", `=experiment.train\[\"lr=0.05\"\]`, `=experiment.train\[\"lr=0.5\"\]`}},
		{`trainrun plan -target='experiment.train["lr=0.5`, `'experiment.train["lr=0.5`, []string{`'experiment.train["lr=0.5"]'`}},
		{"trainrun logs ", "", []string{"aaa111", "bbb222", "experiment.prep", "experiment.train", `'experiment.train["lr=0.05"]'`, `'experiment.train["lr=0.5"]'`}},
	}
	for _, tt := range tests {
		got := BashLine(tt.line, tt.fragment, fakeSource{}).Words
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("BashLine(%q, %q) = %q, want %q", tt.line, tt.fragment, got, tt.want)
		}
	}
}

func TestSplitLine(t *testing.T) {
	tests := []struct {
		line      string
		words     []string
		cur, raw  string
		openQuote byte
	}{
		{"a b ", []string{"a", "b"}, "", "", 0},
		{"a  b", []string{"a"}, "b", "b", 0},
		{`a 'x y' "p\"q" r\ s`, []string{"a", "x y", `p"q`}, "r s", `r\ s`, 0},
		{`a 'open`, []string{"a"}, "open", "'open", '\''},
		{`a "op\$en`, []string{"a"}, "op$en", `"op\$en`, '"'},
		{`a x'y`, []string{"a"}, "xy", "x'y", '\''},
	}
	for _, tt := range tests {
		words, cur, raw, q := splitLine(tt.line)
		if !reflect.DeepEqual(words, tt.words) || cur != tt.cur || raw != tt.raw || q != tt.openQuote {
			t.Errorf("splitLine(%q) = %q, %q, %q, %q; want %q, %q, %q, %q", tt.line, words, cur, raw, q, tt.words, tt.cur, tt.raw, tt.openQuote)
		}
	}
}
