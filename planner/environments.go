package planner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// EnvironmentResolver says what an environment is on a compute: its
// declaration normalized and, for a host environment, the interpreter the
// compute has. The runtime implements it, contacting computes as needed.
type EnvironmentResolver interface {
	Spec(ctx context.Context, env, compute string) (providers.EnvSpec, error)
}

// EnvAction is what happens to one environment on one compute, before the
// runs that use it start, and why.
type EnvAction struct {
	Address     string   `json:"address"` // environment.NAME
	Kind        string   `json:"kind"`    // "environment"
	Compute     string   `json:"compute"`
	Action      string   `json:"action"` // Create, Configure or NoOp
	Reasons     []string `json:"reasons"`
	Fingerprint string   `json:"fingerprint"` // what runs using it hash

	Name string            `json:"-"` // the environment block
	Spec providers.EnvSpec `json:"-"`
}

// envKey is one environment on one compute.
type envKey struct{ env, compute string }

// envPlanner resolves the environments of a plan's instances, once per
// environment and compute.
type envPlanner struct {
	cfg  *lang.Config
	res  EnvironmentResolver
	recs state.EnvironmentRecords

	specs    map[envKey]providers.EnvSpec
	declared map[string]string // EnvironmentFingerprint by name, without a resolver
	locks    map[string]string // package sets read from recs, by hash
}

func newEnvPlanner(cfg *lang.Config, opts Options) *envPlanner {
	return &envPlanner{cfg: cfg, res: opts.Environments, recs: opts.EnvironmentRecords,
		specs: map[envKey]providers.EnvSpec{}, declared: map[string]string{}}
}

// resolved reports whether inst's environment is resolved on its compute
// (not the default host environment, and there is a resolver).
func (e *envPlanner) resolved(inst *lang.Instance) bool {
	return e.res != nil && inst.Environment != "" && e.cfg.Environments[inst.Environment] != nil
}

// resolve asks for the spec of every environment the selected instances
// use, on their computes, all at once: a host environment on a remote
// compute costs a round trip.
func (e *envPlanner) resolve(ctx context.Context, insts []*lang.Instance, selected map[string]bool) error {
	var keys []envKey
	seen := map[envKey]bool{}
	for _, inst := range insts {
		k := envKey{inst.Environment, inst.Compute}
		if selected[inst.Address] && e.resolved(inst) && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].env < keys[j].env || keys[i].env == keys[j].env && keys[i].compute < keys[j].compute
	})
	specs := make([]providers.EnvSpec, len(keys))
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			specs[i], errs[i] = e.res.Spec(ctx, k.env, k.compute)
		}()
	}
	wg.Wait()
	for i, k := range keys {
		if errs[i] != nil {
			return fmt.Errorf("environment.%s on compute.%s: %w", k.env, k.compute, errs[i])
		}
		e.specs[k] = specs[i]
	}
	return nil
}

// fingerprint is what inst's runs hash for its environment.
func (e *envPlanner) fingerprint(inst *lang.Instance) string {
	if e.resolved(inst) {
		if s, ok := e.specs[envKey{inst.Environment, inst.Compute}]; ok {
			return s.Fingerprint()
		}
	}
	fp, ok := e.declared[inst.Environment]
	if !ok {
		fp = EnvironmentFingerprint(e.cfg, inst.Environment)
		e.declared[inst.Environment] = fp
	}
	return fp
}

// actions plans each environment that the runs about to start (or that may
// start) use, on each of their computes, and says what changed in the
// environments of runs planned again because of them.
func (e *envPlanner) actions(actions []*Action) []*EnvAction {
	var out []*EnvAction
	planned := map[envKey]*EnvAction{}
	for _, a := range actions {
		if e.resolved(a.Instance) {
			e.packagesNote(a, e.specs[envKey{a.Instance.Environment, a.Instance.Compute}])
		}
	}
	for _, a := range actions {
		if a.Action != Submit && a.Action != Pending || !e.resolved(a.Instance) {
			continue
		}
		k := envKey{a.Instance.Environment, a.Instance.Compute}
		spec := e.specs[k]
		e.explain(a, spec)
		if planned[k] != nil {
			continue
		}
		ea := &EnvAction{Address: "environment." + k.env, Kind: "environment", Compute: k.compute,
			Fingerprint: spec.Fingerprint(), Name: k.env, Spec: spec}
		ea.Action, ea.Reasons = e.decide(k, spec)
		planned[k] = ea
		out = append(out, ea)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Address < out[j].Address || out[i].Address == out[j].Address && out[i].Compute < out[j].Compute
	})
	return out
}

// decide says whether the environment must be made on the compute.
func (e *envPlanner) decide(k envKey, spec providers.EnvSpec) (string, []string) {
	if !spec.Builds {
		return NoOp, []string{"user-managed: nothing to build"}
	}
	if e.recs == nil {
		return Create, []string{"new"}
	}
	if rec := e.recs.Find(k.compute, spec.ID, ""); rec != nil {
		if rec.Removed {
			return Create, []string{"removed by destroy; made again"}
		}
		return NoOp, []string{"up to date"}
	}
	last := e.recs.Last(k.env, k.compute)
	if last == nil {
		return Create, []string{"new"}
	}
	changes := spec.Changes(last.Spec)
	if len(changes) == 0 {
		changes = []string{"definition changed"}
	}
	return Configure, changes
}

// explain replaces a run's bare "environment changed" by what changed in
// it, when the environment it last ran with is on record.
func (e *envPlanner) explain(a *Action, spec providers.EnvSpec) {
	if e.recs == nil || a.Prior == nil || a.Prior.Inputs == nil {
		return
	}
	i := indexOf(a.Reasons, "environment changed")
	if i < 0 {
		return
	}
	_, oldID, _ := strings.Cut(a.Prior.Inputs.Environment, ":")
	old, ok := e.recs.Spec(oldID)
	if !ok {
		return
	}
	if changes := spec.Changes(old); len(changes) > 0 {
		for j, c := range changes {
			if c == "packages changed" { // host, lock = true
				if d := e.packagesDiff(a.Prior, spec); d != "" {
					changes[j] = "packages changed: " + d
				}
			}
		}
		a.Reasons[i] = fmt.Sprintf("environment %s changed: %s", a.Instance.Environment, strings.Join(changes, "; "))
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// packagesDiff says how spec's packages differ from those prior ran with,
// when both are known.
func (e *envPlanner) packagesDiff(prior *state.Run, spec providers.EnvSpec) string {
	if e.recs == nil || prior == nil || prior.Env == nil || prior.Env.Lock == "" || spec.Packages == "" {
		return ""
	}
	old, ok := e.locks[prior.Env.Lock]
	if !ok { // read once per plan: many instances share one
		var err error
		if old, err = e.recs.Lock(prior.Env.Lock); err != nil {
			return ""
		}
		if e.locks == nil {
			e.locks = map[string]string{}
		}
		e.locks[prior.Env.Lock] = old
	}
	return providers.PackagesDiff(old, spec.Packages)
}

// packagesNote says, informationally, that the packages of a host
// environment that does not fingerprint them (lock = false) changed since
// the instance's latest run.
func (e *envPlanner) packagesNote(a *Action, spec providers.EnvSpec) {
	if spec.Packages == "" || spec.Attrs["packages.sha256"] != "" {
		return
	}
	if d := e.packagesDiff(a.Prior, spec); d != "" {
		a.Notes = append(a.Notes, "environment packages changed: "+d+" (not fingerprinted: lock = false)")
	}
}
