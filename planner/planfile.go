package planner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/lang"
)

// planFileVersion is the format of saved plans.
const planFileVersion = "trainrun-plan-1"

// File is a saved plan: enough to load the same configuration again and
// to tell whether planning it now still gives the same plan.
type File struct {
	Version string  `json:"version"`
	Lineage string  `json:"lineage"`
	Serial  uint64  `json:"serial"`
	Options Options `json:"options"`
	// Vars holds every non-sensitive variable's value as a -var argument.
	// Sensitive values are never written: apply takes them from the
	// environment or -var again, and the fingerprint check catches a
	// different one.
	Vars    []string     `json:"vars"`
	Actions []fileAction `json:"actions"`
	// Environments are the environment actions: the same environments
	// must be made the same way.
	Environments []fileEnvAction `json:"environments,omitempty"`
	// Attach lists the computes to attach (compute.NAME).
	Attach []string `json:"attach,omitempty"`
	// Reasons are the reasons the plan gave for each action, by address
	// (an environment's as "environment.NAME on compute.C"), for 'trainrun
	// show PLANFILE'. Plans saved before they were kept have none.
	Reasons map[string][]string `json:"reasons,omitempty"`
}

type fileEnvAction struct {
	Address     string `json:"address"`
	Compute     string `json:"compute"`
	Action      string `json:"action"`
	Fingerprint string `json:"fingerprint"`
}

type fileAction struct {
	Address     string `json:"address"`
	Action      string `json:"action"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Partial stands for the fingerprint of an action waiting for
	// upstream outputs: everything else it hashes.
	Partial string `json:"partial,omitempty"`
}

// ErrStale says a saved plan no longer describes what apply would do.
var ErrStale = errors.New("saved plan is stale")

// Save writes p, planned from cfg with opts, to path.
func Save(path string, cfg *lang.Config, p *Plan, opts Options) error {
	f := File{Version: planFileVersion, Lineage: p.Lineage, Serial: p.Serial, Options: opts, Vars: VarArgs(cfg), Reasons: map[string][]string{}}
	f.Options.DataDir = ""
	reasons := func(key string, rs []string) {
		if len(rs) > 0 {
			f.Reasons[key] = rs
		}
	}
	for _, a := range p.Actions {
		f.Actions = append(f.Actions, fileAction{a.Address, a.Action, a.Fingerprint, a.partial})
		reasons(a.Address, a.Reasons)
	}
	for _, a := range p.Environments {
		f.Environments = append(f.Environments, fileEnvAction{a.Address, a.Compute, a.Action, a.Fingerprint})
		reasons(a.Address+" on compute."+a.Compute, a.Reasons)
	}
	for _, a := range p.Computes {
		f.Attach = append(f.Attach, a.Address)
		reasons(a.Address, a.Reasons)
	}
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	if opts.DataDir != "" {
		if err := recordPlanFile(opts.DataDir, path); err != nil {
			return fmt.Errorf("save plan: %w", err)
		}
	}
	return nil
}

// VarArgs renders every non-sensitive variable's value as NAME=VALUE, the
// value as an HCL expression unless the variable is a string.
func VarArgs(cfg *lang.Config) []string {
	var out []string
	for name, v := range cfg.Variables {
		if v.Sensitive || v.Value.IsMarked() || !v.Value.IsWhollyKnown() {
			continue
		}
		val := v.Value
		var text string
		if val.Type() == cty.String && !val.IsNull() && (v.Type == cty.String || v.Type == cty.DynamicPseudoType) {
			text = val.AsString()
		} else {
			text = strings.TrimSpace(string(hclwrite.TokensForValue(val).Bytes()))
		}
		out = append(out, name+"="+text)
	}
	sort.Strings(out)
	return out
}

// Read loads a saved plan.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil || f.Version != planFileVersion {
		return nil, fmt.Errorf("read plan %s: not a trainrun plan file", path)
	}
	return &f, nil
}

// Plan is the saved plan as planning made it: its actions, with their
// reasons, for showing it. It cannot be applied: apply plans again and
// Checks the result.
func (f *File) Plan() *Plan {
	p := &Plan{Lineage: f.Lineage, Serial: f.Serial}
	for _, a := range f.Actions {
		p.Actions = append(p.Actions, &Action{Address: a.Address, Kind: "run", Action: a.Action, Reasons: f.Reasons[a.Address], Fingerprint: a.Fingerprint})
	}
	for _, a := range f.Environments {
		p.Environments = append(p.Environments, &EnvAction{Address: a.Address, Kind: "environment", Compute: a.Compute, Action: a.Action,
			Reasons: f.Reasons[a.Address+" on compute."+a.Compute], Fingerprint: a.Fingerprint})
	}
	for _, addr := range f.Attach {
		p.Computes = append(p.Computes, &ComputeAction{Address: addr, Kind: "compute", Action: Attach, Reasons: f.Reasons[addr]})
	}
	return p
}

// Check compares a fresh plan with the saved one: the state must not have
// moved, and every action and fingerprint must be the same.
func (f *File) Check(p *Plan) error {
	if p.Lineage != f.Lineage && f.Lineage != "" {
		return fmt.Errorf("%w: it was made for different state (lineage %s, now %s); run trainrun plan again", ErrStale, f.Lineage, p.Lineage)
	}
	if p.Serial != f.Serial {
		return fmt.Errorf("%w: the state changed since it was made (serial %d, now %d); run trainrun plan again", ErrStale, f.Serial, p.Serial)
	}
	if len(p.Actions) != len(f.Actions) {
		return fmt.Errorf("%w: the configuration changed since it was made; run trainrun plan again", ErrStale)
	}
	for i, a := range p.Actions {
		s := f.Actions[i]
		if a.Address != s.Address || a.Action != s.Action || a.Fingerprint != s.Fingerprint || a.partial != s.Partial {
			return fmt.Errorf("%w: %s changed since it was made; run trainrun plan again", ErrStale, a.Address)
		}
	}
	if len(p.Environments) != len(f.Environments) {
		return fmt.Errorf("%w: the environments to make changed since it was made; run trainrun plan again", ErrStale)
	}
	for i, a := range p.Environments {
		if (fileEnvAction{a.Address, a.Compute, a.Action, a.Fingerprint}) != f.Environments[i] {
			return fmt.Errorf("%w: %s on compute.%s changed since it was made; run trainrun plan again", ErrStale, a.Address, a.Compute)
		}
	}
	if len(p.Computes) != len(f.Attach) {
		return fmt.Errorf("%w: the computes to attach changed since it was made; run trainrun plan again", ErrStale)
	}
	for i, a := range p.Computes {
		if a.Address != f.Attach[i] {
			return fmt.Errorf("%w: the computes to attach changed since it was made; run trainrun plan again", ErrStale)
		}
	}
	return nil
}
