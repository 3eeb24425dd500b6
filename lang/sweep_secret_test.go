package lang

import (
	"strings"
	"testing"
)

// A sensitive value may not be a sweep point: addresses show sweep points.
func TestSensitiveSweepPointRefused(t *testing.T) {
	files := map[string]string{"trainrun.hcl": `
variable "tok" {
  sensitive = true
}
compute "local" "l" {}
experiment "e" {
  compute = compute.l
  command = ["true"]
  sweep {
    grid = { t = [var.tok, "x"] }
  }
}
`}
	opts := Options{Registry: testRegistry(), Getenv: func(k string) string {
		if k == "TRAINRUN_VAR_tok" {
			return "hunter2"
		}
		return ""
	}}
	cfg, diags := loadErrors(t, files, opts)
	text := renderDiags(cfg, diags)
	if !strings.Contains(text, "Sensitive value in a sweep grid") || !strings.Contains(text, "trainrun.hcl:10,12") {
		t.Errorf("diagnostics:\n%s", text)
	}
	if strings.Contains(text, "hunter2") {
		t.Errorf("the secret is shown:\n%s", text)
	}
}
