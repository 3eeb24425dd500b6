package lang

import (
	"strings"
	"testing"
)

// maskConfig declares a sensitive token beside an ordinary lr.
const maskConfig = `variable "token" {
  type      = string
  sensitive = true
}
variable "lr" {
  type = number
}
compute "local" "laptop" {}
`

// TestVarFileSyntaxErrorHidesSensitive: a var-file that does not parse, or
// whose sensitive value is not a constant, is quoted in diagnostics
// without the value: the lines that assign the sensitive variable show
// "(sensitive)", and so does everything after the line of the first syntax
// error, where which value is whose is no longer known.
func TestVarFileSyntaxErrorHidesSensitive(t *testing.T) {
	const secret = `hunter2-"x\y`
	tests := []struct {
		name   string
		file   string   // s.tfvars, or s.json when it starts with {
		config string   // default: maskConfig
		shown  []string // lines of the file the diagnostics quote
		hidden []string // parts of the file they must not show, beside the secret
	}{
		{
			name:  "unterminated string",
			file:  "lr = 0.5\ntoken = \"hunter2-\\\"x\\\\y\n",
			shown: []string{"   2: token = (sensitive)\n"},
		},
		{
			name:  "junk after the value",
			file:  "token = \"hunter2-\\\"x\\\\y\" }\nlr = 0.5\n",
			shown: []string{"   1: token = (sensitive)\n"},
		},
		{
			name:  "not a constant",
			file:  "lr = 0.5\ntoken = hunter2-x\n",
			shown: []string{"   2: token = (sensitive)\n"},
			// The value evaluates to nothing, so only its place says
			// it is secret.
			hidden: []string{"hunter2"},
		},
		{
			name:  "operator without operand",
			file:  "token = \"hunter2-\\\"x\\\\y\" +\n",
			shown: []string{"   1: token = (sensitive)\n"},
		},
		{
			name: "heredoc, error later",
			file: "token = <<EOT\nlr = hunter2-\"x\\y\nEOT\nlr = 1 +\n",
			// The heredoc's lines are its value, whatever they look like.
			shown: []string{"   4: lr = 1 +\n"},
		},
		{
			name: "an ordinary string left open swallows the next line",
			file: "lr = \"0.5\ntoken = \"hunter2-\\\"x\\\\y\"\n",
			// After the line of the first error, nothing is shown.
			shown: []string{"   1: lr = \"0.5\n", "   2: (sensitive)\n"},
		},
		{
			name:  "a bracket left open",
			file:  "lr = [1,\ntoken = \"hunter2-\\\"x\\\\y\"\n",
			shown: []string{"   1: lr = [1,\n", "   2: token = (sensitive)\n"},
		},
		{
			name:  "a misspelt name is as secret",
			file:  "tokn = \"hunter2-\\\"x\\\\y\"\nlr = )\n",
			shown: []string{"   2: lr = )\n"},
		},
		{
			name:   "JSON that does not parse shows nothing",
			file:   `{"lr": 0.5, "token": "hunter2-\"x\\y",}`,
			shown:  []string{"   1: (sensitive)\n"},
			hidden: []string{"0.5"},
		},
		{
			name:   "a configuration that does not parse: any variable may be sensitive",
			config: maskConfig + "variable \"x\" {\n",
			file:   "lr = 0.5 +\n",
			shown:  []string{"   1: lr = (sensitive)\n"},
			hidden: []string{"0.5"},
		},
		{
			name:   "a variable block that cannot be read may be sensitive",
			config: maskConfig + "variable \"other\" {\n  sensitive = true\n  bogus = 1\n}\n",
			file:   "other = hunter2\n",
			hidden: []string{"hunter2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "s.tfvars"
			if strings.HasPrefix(tt.file, "{") {
				name = "s.json"
			}
			config := tt.config
			if config == "" {
				config = maskConfig
			}
			opts := testOptions()
			opts.VarFiles = []string{name}
			opts.Vars = []string{"lr=1", "token=other"}
			cfg, diags := loadErrors(t, map[string]string{"trainrun.hcl": config, name: tt.file}, opts)
			text := renderDiags(cfg, diags)
			js := string(DiagnosticsJSON(diags))
			if !strings.Contains(text, name+":") {
				t.Errorf("no diagnostic quotes %s:\n%s", name, text)
			}
			for _, out := range []string{text, js} {
				for _, h := range append(tt.hidden, secret, "hunter2-") {
					if strings.Contains(out, h) {
						t.Errorf("the diagnostics show %q:\n%s", h, out)
					}
				}
				for _, f := range SecretForms([]string{secret}) {
					if strings.Contains(out, f) {
						t.Errorf("the diagnostics show the secret as %q:\n%s", f, out)
					}
				}
			}
			for _, line := range tt.shown {
				if !strings.Contains(text, line) {
					t.Errorf("the diagnostics lack %q:\n%s", line, text)
				}
			}
			if f := cfg.Files[name]; f == nil || strings.Contains(string(f.Bytes), "hunter2") {
				t.Errorf("Config.Files[%s] holds the value", name)
			}
		})
	}
}

// TestVarFileNoSensitiveShowsAll: without sensitive variables a broken
// var-file is quoted as it is.
func TestVarFileNoSensitiveShowsAll(t *testing.T) {
	opts := testOptions()
	opts.VarFiles = []string{"s.tfvars"}
	cfg, diags := loadErrors(t, map[string]string{
		"trainrun.hcl": base,
		"s.tfvars":     "lr = \"0.5\nother = 1\n",
	}, opts)
	text := renderDiags(cfg, diags)
	if !strings.Contains(text, "   1: lr = \"0.5\n") || strings.Contains(text, Redacted) {
		t.Errorf("the var-file is not quoted as it is:\n%s", text)
	}
}

// TestSensitiveMapKeysNotInDiagnostics: a sensitive map's keys are part of
// its value; a value that does not convert is reported without them.
func TestSensitiveMapKeysNotInDiagnostics(t *testing.T) {
	config := base + "variable \"m\" {\n  type      = map(number)\n  sensitive = true\n}\n"
	for _, val := range []string{`{ hunterkey = "x" }`, `{ hunterkey = [1] }`, `{ a = 1, hunterkey = { b = 2 } }`} {
		opts := testOptions()
		opts.Vars = []string{"m=" + val}
		cfg, diags := loadErrors(t, one(config), opts)
		text := renderDiags(cfg, diags) + string(DiagnosticsJSON(diags))
		if strings.Contains(text, "hunterkey") {
			t.Errorf("-var m=%s: the diagnostics show a key:\n%s", val, text)
		}
		if !strings.Contains(text, "is not a valid map(number)") {
			t.Errorf("-var m=%s: the error is missing:\n%s", val, text)
		}
	}
}

func TestViewPos(t *testing.T) {
	src := []byte("token = hunter2 # c\n")
	v := newView(src, 0, 19, []span{{8, 15}})
	if v.text != "token = (sensitive) # c" {
		t.Fatalf("text = %q", v.text)
	}
	for _, tt := range []struct {
		off  int
		end  bool
		want int
	}{
		{0, false, 0}, {8, false, 8}, {8, true, 8}, {10, false, 8}, {10, true, 19},
		{15, false, 19}, {15, true, 19}, {17, false, 21}, {19, true, 23},
	} {
		if got := v.pos(tt.off, tt.end); got != tt.want {
			t.Errorf("pos(%d, %v) = %d; want %d", tt.off, tt.end, got, tt.want)
		}
	}
}
