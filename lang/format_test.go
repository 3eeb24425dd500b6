package lang

import (
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"aligns equals", "compute \"local\" \"l\" {\nmax_runs=2\n  gpus = 0\n}\n",
			"compute \"local\" \"l\" {\n  max_runs = 2\n  gpus     = 0\n}\n"},
		{"already canonical", "variable \"lr\" {\n  default = 0.1\n}\n", "variable \"lr\" {\n  default = 0.1\n}\n"},
		{"nested blocks and lists", "experiment \"e\" {\ncommand=[\"a\",\"b\"]\nsweep {\ngrid={lr=[1,2]}\n}\n}\n",
			"experiment \"e\" {\n  command = [\"a\", \"b\"]\n  sweep {\n    grid = { lr = [1, 2] }\n  }\n}\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := Format("trainrun.hcl", []byte(tt.in))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if string(got) != tt.want {
				t.Errorf("Format:\n%s\nwant:\n%s", got, tt.want)
			}
			again, _ := Format("trainrun.hcl", got)
			if string(again) != string(got) {
				t.Errorf("Format is not idempotent:\n%s\nthen:\n%s", got, again)
			}
		})
	}
}

func TestFormatSyntaxError(t *testing.T) {
	out, diags := Format("x.trainrun.hcl", []byte("compute \"local\" \"l\" {\n  max_runs = \n"))
	if out != nil {
		t.Errorf("output on a syntax error: %q", out)
	}
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Filename != "x.trainrun.hcl" {
		t.Errorf("diags = %v", diags)
	}
}

func FuzzFormat(f *testing.F) {
	f.Add([]byte("compute \"local\" \"l\" {\nmax_runs=2\n}\n"))
	f.Add([]byte(specExample))
	f.Add([]byte("x = \"${a}\" # c\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		out, diags := Format("f.hcl", src)
		if diags.HasErrors() {
			if out != nil {
				t.Fatalf("output with errors")
			}
			return
		}
		// Canonical output is stable.
		again, diags := Format("f.hcl", out)
		if diags.HasErrors() {
			t.Fatalf("formatted output does not parse: %v\n%s", diags, out)
		}
		if strings.TrimSpace(string(again)) != strings.TrimSpace(string(out)) {
			t.Logf("not idempotent:\n%q\n%q", out, again)
		}
	})
}
