package planner_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
)

const cacheConfig = `
variable "seed" {
  type = number
}

compute "local" "a" {}

experiment "train" {
  compute = compute.a
  command = ["sh", "-c", "true"]
  params  = { seed = var.seed }
}
`

// TestRunCache: an instance whose fingerprint an earlier succeeded run
// has, with outputs the store holds, is restored; -replace, -no-cache,
// cache = false, a failed run and outputs the store lost are not.
func TestRunCache(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		opts    planner.Options
		setup   func(p *project) // after seed=1 then seed=2 were applied
		restore bool
		reasons []string
	}{
		{name: "restored", restore: true},
		{name: "-no-cache", opts: planner.Options{NoCache: true}},
		{name: "-replace", opts: planner.Options{Replace: []string{"experiment.train"}}},
		{name: "cache = false", config: strings.Replace(cacheConfig, `params  = { seed = var.seed }`, "params  = { seed = var.seed }\n  cache   = false", 1)},
		{name: "the last run failed, an earlier one succeeded", setup: func(p *project) {
			p.vars = []string{"seed=1"}
			p.record(p.plan(planner.Options{Replace: []string{"experiment.train"}}), providers.Failed, "exit code 1")
		}, restore: true, reasons: []string{"last run failed: exit code 1"}},
		{name: "the earlier run failed", setup: func(p *project) {
			p.vars = []string{"seed=3"}
			p.record(p.plan(planner.Options{}), providers.Failed, "exit code 1")
			p.vars = []string{"seed=2"}
		}},
		{name: "outputs gone from the store", setup: func(p *project) {
			// A run whose outputs hash names no manifest in the store.
			p.vars = []string{"seed=3"}
			p.outputs["experiment.train"] = hashOf("ab")
			p.apply()
			delete(p.outputs, "experiment.train")
			p.vars = []string{"seed=2"}
			if a := action(t, p.apply(), "experiment.train"); a.Action != planner.Restore {
				t.Fatalf("back to seed 2: %s, want restore", a.Action)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.config
			if cfg == "" {
				cfg = cacheConfig
			}
			p := newProject(t, map[string]string{"trainrun.hcl": cfg})
			for _, seed := range []string{"seed=1", "seed=2"} {
				p.vars = []string{seed}
				p.apply()
			}
			first := p.open().ByAddress()["experiment.train"][0]
			if tt.setup != nil {
				tt.setup(p)
			}
			target := "seed=1"
			if tt.name == "the earlier run failed" || tt.name == "outputs gone from the store" {
				target = "seed=3"
			}
			p.vars = []string{target}
			a := action(t, p.plan(tt.opts), "experiment.train")
			if !tt.restore {
				if a.Action != planner.Submit || a.CachedFrom != "" {
					t.Errorf("%s cached from %q (%q), want submit", a.Action, a.CachedFrom, a.Reasons)
				}
				return
			}
			want := append(tt.reasons, "same fingerprint as run "+first.ID)
			if tt.reasons == nil {
				want = []string{"param seed: 2 → 1", "same fingerprint as run " + first.ID}
			}
			if a.Action != planner.Restore || a.CachedFrom != first.ID || !slices.Equal(a.Reasons, want) || a.Fingerprint != first.Fingerprint {
				t.Errorf("%s from %q %q fingerprint %s, want restore from %s %q", a.Action, a.CachedFrom, a.Reasons, a.Fingerprint, first.ID, want)
			}
		})
	}
}
