package lang

import (
	"strings"
	"testing"
	"time"
)

// nested wraps inner in n levels of open and close.
func nested(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// Deeply nested input used to overflow the parser's stack, which Go cannot
// recover from: trainrun crashed instead of reporting it.
func TestNestingTooDeep(t *testing.T) {
	const deep = 5 * maxNesting
	tests := []struct {
		name  string
		files map[string]string
		vars  []string // -var-file names
		want  string   // position of the diagnostic
	}{
		{"list", one("locals { x = " + nested("[", "", "]", deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"object", one("locals { x = " + nested("{a=", "1", "}", deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"parens", one("locals { x = " + nested("(", "1", ")", deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"calls", one("locals { x = " + nested("abs(", "1", ")", deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"interpolation", one("locals { x = " + nested(`"${`, "1", `}"`, deep) + " }\n"), nil, "trainrun.hcl:1,"},
		{"blocks", one(`experiment "x" {` + "\n" + nested("resources {\n", "", "}\n", deep) + "}\n"), nil, "trainrun.hcl:1001,11"},
		{"json", map[string]string{"x.trainrun.json": `{"locals": {"x": ` + nested("[", "", "]", deep) + `}}`}, nil, "x.trainrun.json:1,"},
		{"var-file", map[string]string{
			"trainrun.hcl": "variable \"x\" {\n  default = 1\n}\n",
			"x.tfvars":     "x = " + nested("[", "", "]", deep) + "\n",
		}, []string{"x.tfvars"}, "x.tfvars:1,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.VarFiles = tt.vars
			cfg, diags := loadErrors(t, tt.files, opts)
			out := renderDiags(cfg, diags)
			if !strings.Contains(out, "Error: Nesting too deep") || !strings.Contains(out, "on "+tt.want) {
				t.Errorf("want a nesting error at %s, got:\n%.2000s", tt.want, out)
			}
		})
	}
}

// Brackets in strings, comments and heredocs do not nest, and nesting up
// to the limit is fine.
func TestNestingWithinLimit(t *testing.T) {
	brackets := strings.Repeat("[{(", maxNesting)
	src := `
# ` + brackets + `
/* ` + brackets + ` */
compute "local" "l" {}
locals {
  deep = ` + nested("[", "1", "]", maxNesting-1) + `
  text = "` + brackets + `${"` + brackets + `"}"
  doc  = <<EOT
` + brackets + `
EOT
}
experiment "e" {
  compute = compute.l
  command = ["echo", length(local.deep), local.text, local.doc]
}
`
	mustLoad(t, one(src), testOptions())
	if _, diags := Format("trainrun.hcl", []byte(strings.TrimLeft(src, "\n"))); diags.HasErrors() {
		t.Fatalf("Format: %v", diags)
	}
}

func TestFormatNestingTooDeep(t *testing.T) {
	src := "locals { x = " + nested("[", "", "]", 5*maxNesting) + " }\n"
	out, diags := Format("trainrun.hcl", []byte(src))
	if out != nil || !diags.HasErrors() || diags[0].Summary != "Nesting too deep" {
		t.Fatalf("Format = %d bytes, %v; want a nesting error", len(out), diags)
	}
}

// TestDeepDataRefusedEarly: JSON or YAML data nested a million deep (2 MB)
// is refused by a linear scan before any decoder recurses into it, by
// jsondecode and yamldecode too; data people write passes.
func TestDeepDataRefusedEarly(t *testing.T) {
	const n = 1000000
	for _, tc := range []struct {
		name string
		src  string
		yaml bool
	}{
		{"json", nested("[", "", "]", n), false},
		{"yaml flow", nested("[", "", "]", n), true},
		{"yaml block sequences", strings.Repeat("- ", n) + "x\n", true},
		{"yaml indentation", "a:\n" + strings.Repeat(" ", 2000) + "b: 1\n", true},
	} {
		start := time.Now()
		err := CheckDataNesting([]byte(tc.src), tc.yaml)
		if err == nil || !strings.Contains(err.Error(), "nests more than") {
			t.Errorf("%s: CheckDataNesting = %v; want a refusal", tc.name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", tc.name, d)
		}
	}
	for _, ok := range []struct {
		src  string
		yaml bool
	}{
		{`{"a": [1, 2, {"b": "[[[[[["}]}` + strings.Repeat(" ", 2000), false},
		{"a:\n  b:\n    - c: 1\n    - [1, 2]\n" + strings.Repeat("# [[[[\n", 10) + strings.Repeat("x: 1\n", 500), true},
	} {
		if err := CheckDataNesting([]byte(ok.src), ok.yaml); err != nil {
			t.Errorf("CheckDataNesting(%.40q) = %v; want it taken", ok.src, err)
		}
	}
	// Through the functions, in a configuration.
	deep := nested("[", "", "]", n)
	for _, fn := range []string{"jsondecode", "yamldecode"} {
		files := one("locals { x = " + fn + "(file(\"deep.txt\")) }\n")
		files["deep.txt"] = deep
		start := time.Now()
		cfg, diags := loadErrors(t, files, testOptions())
		if out := renderDiags(cfg, diags); !strings.Contains(out, "nests more than") {
			t.Errorf("%s of deep data: want a refusal, got:\n%.500s", fn, out)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s of deep data took %v", fn, d)
		}
	}
}
