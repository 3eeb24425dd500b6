package planner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// Action names, as SPEC §6 lists them.
const (
	Create    = "create"
	Attach    = "attach"
	Configure = "configure"
	Submit    = "submit"
	// Restore is an instance whose fingerprint an earlier succeeded run
	// has, of any address, with its outputs still in the content store:
	// apply records a run with that run's outputs and metrics and runs
	// nothing (the run cache, SPEC §8).
	Restore = "restore"
	Update  = "update"
	Destroy = "destroy"
	NoOp    = "no-op"
	// Pending is an instance that is unchanged unless the upstream
	// instances that run before it in the same apply produce different
	// outputs: apply decides once they have (Action.Resolve).
	Pending = "pending"
)

// ActionNames lists the actions in the order summaries show them.
var ActionNames = []string{Create, Attach, Configure, Submit, Restore, Update, Destroy, NoOp, Pending}

// Options select what a plan covers.
type Options struct {
	Targets  []string // -target: these addresses and what they depend on
	Excludes []string // -exclude: these addresses and what depends on them
	Replace  []string // -replace: run these again even if unchanged
	// NoCache (-no-cache) runs what changed even when an earlier run with
	// the same fingerprint could be restored.
	NoCache bool `json:",omitempty"`
	// DataDir is the project's .trainrun directory: stat caches and the
	// content store (for explaining source changes) live there.
	DataDir string
	// Environments, when set, says what environments are on computes
	// (see EnvironmentResolver), and EnvironmentRecords what was prepared
	// where: the plan then has environment actions. Without them an
	// environment's fingerprint hashes its declared values.
	Environments       EnvironmentResolver      `json:"-"`
	EnvironmentRecords state.EnvironmentRecords `json:"-"`
	// Computes, when set, says which computes attach to machines and what
	// those are, and ComputeRecords which are attached: the plan then has
	// attach actions.
	Computes       ComputeResolver      `json:"-"`
	ComputeRecords state.ComputeRecords `json:"-"`
	// Store, when set, is the content store (with its remote, if any);
	// otherwise the one in DataDir, when there is one.
	Store *snapshot.Store `json:"-"`
}

// Plan is what apply will do.
type Plan struct {
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
	// Actions holds one action per selected instance, in dependency order.
	Actions []*Action `json:"actions"`
	// Environments holds one action per environment and compute that the
	// runs to start use, made before them.
	Environments []*EnvAction `json:"-"`
	// Computes holds an attach action per compute first used by the runs
	// to start.
	Computes []*ComputeAction `json:"-"`
	// Snapshots maps each source directory to its scanned manifest.
	Snapshots map[string]*snapshot.Manifest `json:"-"`
	// Warnings are things a person should know before applying (huge
	// snapshots).
	Warnings []string `json:"-"`
	// Sweeps holds the policy of each sweep whose runs the plan starts
	// or waits for: early stopping, successive halving.
	Sweeps []*Sweep `json:"-"`
}

// Action is what happens to one instance and why.
type Action struct {
	Address string   `json:"address"`
	Kind    string   `json:"kind"` // "run"
	Action  string   `json:"action"`
	Reasons []string `json:"reasons"`
	// Notes say what changed without changing the action (a host
	// environment's packages, not fingerprinted): a plan shows them even
	// for a no-op.
	Notes []string `json:"notes,omitempty"`
	// Fingerprint is "" while Pending is not empty: it hashes the
	// upstream outputs, known only once those instances have run.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Pending lists the upstream instances that run (or may run) earlier
	// in the same apply. Apply calls Resolve once they succeeded.
	Pending []string `json:"pending_upstream,omitempty"`

	Instance *lang.Instance           `json:"-"`
	Inputs   *state.FingerprintInputs `json:"-"`
	Settings state.Settings           `json:"-"`
	// Prior is the instance's latest recorded run, if any.
	Prior *state.Run `json:"-"`
	// CachedFrom is, for a restore, the run whose outputs are restored.
	CachedFrom string `json:"cached_from,omitempty"`

	// cache finds a run to restore for a fingerprint; nil when the
	// instance may not be restored (-no-cache, cache = false). replace
	// says -replace asked for a run.
	cache   func(fp string) *state.Run
	replace bool
	// cachedOutputs is the outputs hash a restore gives the instance.
	cachedOutputs string
	// EarlyStopping is the early-stopping policy of the instance's sweep
	// (policy.Stopping.String), "" without one: recorded with its run.
	EarlyStopping string `json:"-"`
	// AwaitsPromotion, for an instance above the first rung of successive
	// halving, says it runs only if apply promotes its point from the
	// instance at the rung below (From) as that rung fills. The action is
	// Pending meanwhile.
	AwaitsPromotion *Promotion `json:"awaits_promotion,omitempty"`
	// Promotion says what the promotion of an instance above the first
	// rung rests on, once it is promoted.
	Promotion *Promotion `json:"promotion,omitempty"`

	// For Resolve and saved plans, while Pending is not empty: the
	// outputs hashes of the other upstream instances, the fingerprint with
	// the pending ones left blank, and what explains source changes.
	known    map[string]string
	partial  string
	manifest *snapshot.Manifest
	store    *snapshot.Store
}

// Summary counts actions by name.
func (p *Plan) Summary() map[string]int {
	m := make(map[string]int, len(ActionNames))
	for _, n := range ActionNames {
		m[n] = 0
	}
	for _, a := range p.Actions {
		m[a.Action]++
	}
	for _, a := range p.Environments {
		if a.Action != NoOp { // "unchanged" counts instances
			m[a.Action]++
		}
	}
	for _, a := range p.Computes {
		m[a.Action]++
	}
	return m
}

// Changes reports whether applying the plan would do anything.
func (p *Plan) Changes() bool {
	for _, a := range p.Actions {
		if a.Action != NoOp {
			return true
		}
	}
	for _, a := range p.Environments {
		if a.Action != NoOp {
			return true
		}
	}
	return len(p.Computes) > 0
}

// Waits reports whether applying the plan waits for live runs that an
// earlier apply started (it re-attaches to them), even with no changes.
func (p *Plan) Waits() bool {
	for _, a := range p.Actions {
		if a.Action == NoOp && a.Prior != nil && a.Prior.Live() {
			return true
		}
	}
	return false
}

// Runs counts the runs that applying the plan starts or waits for: apply
// streams the log of the run when there is one.
func (p *Plan) Runs() int {
	n := 0
	for _, a := range p.Actions {
		if a.Action == Submit || a.Action == Pending || (a.Action == NoOp && a.Prior != nil && a.Prior.Live()) {
			n++
		}
	}
	return n
}

// State is the recorded state a plan is made against: a *state.Store, or a
// view of it with live runs refreshed.
type State interface {
	Latest(address string) *state.Run
	// WithFingerprint returns the runs recorded with fingerprint fp,
	// newest first (the run cache).
	WithFingerprint(fp string) ([]*state.Run, error)
	Serial() uint64
	Lineage() string
}

// Build plans cfg against the recorded state st. Resolving environments
// and asking machines what they are (opts.Environments, opts.Computes)
// stop with ctx, and so does Build, with ctx's error.
func Build(ctx context.Context, cfg *lang.Config, st State, opts Options) (*Plan, error) {
	selected, err := selectInstances(cfg, opts.Targets, opts.Excludes)
	if err != nil {
		return nil, err
	}
	for _, r := range opts.Replace {
		if !matchesAny(cfg, r) {
			return nil, unknownAddress(cfg, "-replace", r)
		}
	}
	snaps, warnings, err := scanSources(cfg, selected, opts.DataDir)
	if err != nil {
		return nil, err
	}
	p := &Plan{Lineage: st.Lineage(), Serial: st.Serial(), Snapshots: snaps, Warnings: warnings}

	store := opts.Store
	if store == nil && opts.DataDir != "" {
		if _, err := os.Stat(filepath.Join(opts.DataDir, "store")); err == nil {
			store, _ = snapshot.OpenStore(filepath.Join(opts.DataDir, "store"))
		}
	}

	byAddr := make(map[string]*lang.Instance, len(cfg.Instances))
	for _, in := range cfg.Instances {
		byAddr[in.Address] = in
	}
	planned := make(map[string]*Action, len(cfg.Instances))
	lookup := lookupFor(st, planned)
	envs := newEnvPlanner(cfg, opts)
	if err := envs.resolve(ctx, cfg.Instances, selected); err != nil {
		return nil, err
	}
	for _, inst := range order(cfg.Instances, byAddr) {
		// What an instance depends on is always selected with it
		// (-target takes dependencies, -exclude dependents).
		if !selected[inst.Address] {
			continue
		}
		envFP := envs.fingerprint(inst)
		var known map[string]string
		upstream, pending, err := upstreamOutputs(inst, func(addr string) (string, bool, error) {
			h, p, err := lookup(addr)
			if err == nil && !p {
				if known == nil {
					known = make(map[string]string)
				}
				known[addr] = h
			}
			return h, p, err
		})
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", inst.Address, err)
		}
		snap := snaps[inst.SourceKey()]
		if snap == nil {
			return nil, fmt.Errorf("plan %s: %s was not scanned", inst.Address, inst.SourceDir)
		}
		in := Inputs(cfg, inst, snap.ID, envFP, upstream)
		a := &Action{
			Address:  inst.Address,
			Kind:     "run",
			Instance: inst,
			Inputs:   in,
			Settings: SettingsOf(inst),
			Prior:    st.Latest(inst.Address),
		}
		if exp := cfg.Experiments[inst.Experiment]; exp != nil {
			a.EarlyStopping = exp.EarlyStopping.String()
		}
		replace := matchesList(inst, opts.Replace)
		a.replace = replace
		if !opts.NoCache && !inst.NoCache {
			a.cache = cacheLookup(ctx, st, store)
		}
		if len(pending) == 0 {
			a.Fingerprint = Fingerprint(in)
			decide(a, replace, snap, store)
		} else {
			decidePending(a, pending, known, replace, snap, store)
		}
		planned[inst.Address] = a
		p.Actions = append(p.Actions, a)
	}
	planHalving(cfg, st, p.Actions)
	p.Sweeps = sweeps(cfg, p.Actions)
	p.Environments = envs.actions(p.Actions)
	kinds := make(map[string]string, len(cfg.Computes))
	for name, b := range cfg.Computes {
		kinds[name] = b.Kind
	}
	if p.Computes, err = attachActions(ctx, kinds, p.Actions, opts.Computes, opts.ComputeRecords); err != nil {
		return nil, err
	}
	if err := checkCapacity(ctx, p, opts.Computes, opts.ComputeRecords); err != nil {
		return nil, err
	}
	return p, nil
}

// SettingsOf returns what of inst may change without a re-run.
func SettingsOf(inst *lang.Instance) state.Settings {
	s := state.Settings{Compute: inst.Compute, Resources: inst.Resources, Retries: inst.Retries}
	if inst.Timeout > 0 {
		s.Timeout = inst.Timeout.String()
	}
	return s
}

// decidePending plans an instance some of whose upstream instances run
// first: if they produce the outputs it last ran with, would it run? If not,
// it is Pending, decided by apply; if so, it is a submit all the same, its
// fingerprint known only then.
func decidePending(a *Action, pending []string, known map[string]string, replace bool, snap *snapshot.Manifest, store *snapshot.Store) {
	in := a.Inputs
	a.Pending, a.known, a.partial, a.manifest, a.store = pending, known, Fingerprint(in), snap, store
	hypo := *in
	hypo.Upstream = assumeUnchanged(in, a.Prior)
	a.Inputs, a.Fingerprint = &hypo, Fingerprint(&hypo)
	cache := a.cache
	a.cache = nil // the hypothetical fingerprint is not the one to look up
	decide(a, replace, snap, store)
	a.cache = cache
	a.Inputs, a.Fingerprint = in, ""
	switch a.Action {
	case NoOp:
		a.Action, a.Reasons = Pending, []string{pendingReason(pending)}
	case Update:
		a.Action, a.Reasons = Pending, append([]string{pendingReason(pending)}, a.Reasons...)
	}
}

// decide sets a's action and reasons from its prior run.
func decide(a *Action, replace bool, manifest *snapshot.Manifest, store *snapshot.Store) {
	prior := a.Prior
	switch {
	case replace:
		a.Action, a.Reasons = Submit, []string{"replace requested"}
	case prior == nil:
		a.Action, a.Reasons = Submit, []string{"new"}
	case prior.Fingerprint != a.Fingerprint:
		a.Action, a.Reasons = Submit, explain(prior, a.Instance, a.Inputs, manifest, store)
		if prior.Live() {
			a.Reasons = append(a.Reasons, fmt.Sprintf("supersedes live run %s", prior.ID))
		}
	case prior.Status == providers.Failed:
		a.Action, a.Reasons = Submit, []string{"last run failed" + because(prior)}
	case prior.Status == providers.Cancelled:
		a.Action, a.Reasons = Submit, []string{"last run cancelled"}
	case prior.Status == providers.Stopped && prior.EarlyStopping != a.EarlyStopping:
		a.Action, a.Reasons = Submit, []string{stoppingChanged(prior.EarlyStopping, a.EarlyStopping)}
	case prior.Status == providers.Stopped:
		a.Action, a.Reasons = NoOp, []string{"stopped early" + because(prior)}
	case prior.Live():
		a.Action, a.Reasons = NoOp, []string{fmt.Sprintf("run %s is %s; apply waits for it", prior.ID, prior.Status)}
	case prior.Settings != a.Settings:
		a.Action, a.Reasons = Update, settingsReasons(prior.Settings, a.Settings)
	default:
		a.Action, a.Reasons = NoOp, []string{"up to date"}
	}
	if a.Action == Submit && !replace {
		restoreIfCached(a)
	}
}

// restoreIfCached turns a submit into a restore when an earlier run has
// its fingerprint (the run cache).
func restoreIfCached(a *Action) {
	if a.cache == nil || a.Fingerprint == "" {
		return
	}
	if r := a.cache(a.Fingerprint); r != nil {
		a.Action, a.CachedFrom, a.cachedOutputs = Restore, r.ID, r.Outputs
		a.Reasons = append(slices.Clip(a.Reasons), "same fingerprint as run "+r.ID)
	}
}

// cacheLookup returns how the run cache finds a run to restore: the newest
// succeeded run with the fingerprint, of any address, whose outputs the
// content store still holds whole.
func cacheLookup(ctx context.Context, st State, store *snapshot.Store) func(fp string) *state.Run {
	return func(fp string) *state.Run {
		runs, err := st.WithFingerprint(fp)
		if err != nil {
			return nil // a cache that cannot be asked: the instance runs
		}
		for _, r := range runs {
			if r.Status == providers.Succeeded && OutputsHeld(ctx, store, r.Outputs) {
				return r
			}
		}
		return nil
	}
}

// OutputsHeld reports whether the content store can have the outputs
// whose content hash is hash whole: it holds their manifest and every blob
// it names, or its remote does (see snapshot.Store.Available).
func OutputsHeld(ctx context.Context, store *snapshot.Store, hash string) bool {
	if hash == EmptyOutputs {
		return true
	}
	if hash == "" || strings.HasPrefix(hash, "run:") || store == nil {
		return false
	}
	return store.Available(ctx, hash)
}

// stoppingChanged says why a stopped run runs again: its sweep's policy is
// not the one that stopped it.
func stoppingChanged(old, new string) string {
	switch {
	case new == "":
		return "stopped early, and early_stopping is gone"
	case old == "":
		return "stopped early, and early_stopping changed: now " + new
	}
	return fmt.Sprintf("stopped early, and early_stopping changed: %s → %s", old, new)
}

func because(r *state.Run) string {
	if r.Reason != "" {
		return ": " + r.Reason
	}
	return ""
}

func settingsReasons(old, new state.Settings) []string {
	var rs []string
	if old.Compute != new.Compute {
		rs = append(rs, fmt.Sprintf("compute changed: %s → %s (no re-run needed)", old.Compute, new.Compute))
	}
	if old.Resources != new.Resources {
		rs = append(rs, "resources changed (no re-run needed)")
	}
	if old.Timeout != new.Timeout {
		rs = append(rs, fmt.Sprintf("timeout changed: %s → %s (no re-run needed)", orNone(old.Timeout), orNone(new.Timeout)))
	}
	if old.Retries != new.Retries {
		rs = append(rs, fmt.Sprintf("retries changed: %d → %d (no re-run needed)", old.Retries, new.Retries))
	}
	return rs
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// explain lists why the fingerprint changed, input by input.
func explain(prior *state.Run, inst *lang.Instance, in *state.FingerprintInputs, manifest *snapshot.Manifest, store *snapshot.Store) []string {
	old := prior.Inputs
	if old == nil {
		return []string{"fingerprint changed"}
	}
	var rs []string
	if old.Snapshot != in.Snapshot {
		rs = append(rs, sourceReason(old.Snapshot, manifest, store, inst.Include))
	}
	if !equalStrings(old.Command, in.Command) {
		rs = append(rs, "command changed")
	}
	if old.Shell != in.Shell {
		rs = append(rs, "shell command changed")
	}
	rs = append(rs, mapReasons("env", old.Env, in.Env, func(k, a, b string) string { return fmt.Sprintf("env %s changed", k) })...)
	rs = append(rs, mapReasons("param", rawToString(old.Params), rawToString(in.Params), func(k, a, b string) string {
		return fmt.Sprintf("param %s: %s → %s", k, a, b)
	})...)
	if old.Environment != in.Environment {
		rs = append(rs, "environment changed")
	}
	rs = append(rs, upstreamReasons(inst, old, in)...)
	if old.SecretsHash != in.SecretsHash {
		rs = append(rs, "a sensitive value changed")
	}
	if len(rs) == 0 {
		rs = append(rs, "fingerprint changed")
	}
	return rs
}

// sourceReason names the files that changed when the old manifest is still
// in the content store.
func sourceReason(oldID string, nm *snapshot.Manifest, store *snapshot.Store, incs []lang.Include) string {
	if store != nil && nm != nil {
		if om, err := store.LoadManifest(oldID); err == nil {
			c := snapshot.Diff(om, nm)
			s := "source changed: " + c.String()
			// Name what changed of what is included, as written.
			var changed []string
			for _, inc := range incs {
				for _, p := range slices.Concat(c.Modified, c.Added, c.Removed) {
					if p == inc.Name || strings.HasPrefix(p, inc.Name+"/") {
						changed = append(changed, inc.Given)
						break
					}
				}
			}
			if len(changed) > 0 {
				s += " (included " + strings.Join(changed, ", ") + ")"
			}
			return s
		}
	}
	return "source changed"
}

func mapReasons(what string, old, new map[string]string, changed func(k, a, b string) string) []string {
	var rs []string
	for _, k := range unionKeys(old, new) {
		a, inOld := old[k]
		b, inNew := new[k]
		switch {
		case !inOld:
			rs = append(rs, fmt.Sprintf("%s %s added", what, k))
		case !inNew:
			rs = append(rs, fmt.Sprintf("%s %s removed", what, k))
		case a != b:
			rs = append(rs, changed(k, a, b))
		}
	}
	return rs
}

func rawToString(m map[string]json.RawMessage) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var keys []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// order returns instances so that each comes after everything it depends
// on. lang has already refused cycles.
// Order returns the configuration's instances in the order plans list
// them: each after the instances it depends on, otherwise by address.
func Order(cfg *lang.Config) []*lang.Instance {
	byAddr := make(map[string]*lang.Instance, len(cfg.Instances))
	for _, in := range cfg.Instances {
		byAddr[in.Address] = in
	}
	return order(cfg.Instances, byAddr)
}

func order(insts []*lang.Instance, byAddr map[string]*lang.Instance) []*lang.Instance {
	out := make([]*lang.Instance, 0, len(insts))
	done := make(map[string]bool, len(insts))
	var visit func(in *lang.Instance)
	visit = func(in *lang.Instance) {
		if done[in.Address] {
			return
		}
		done[in.Address] = true
		deps := in.DependsOn
		if !slices.IsSortedFunc(deps, lang.CompareAddresses) {
			deps = slices.SortedFunc(slices.Values(deps), lang.CompareAddresses)
		}
		for _, d := range deps {
			if up := byAddr[d]; up != nil {
				visit(up)
			}
		}
		out = append(out, in)
	}
	for _, in := range insts {
		visit(in)
	}
	return out
}

// matches reports whether addr names inst: its own address or its
// experiment's.
func matches(inst *lang.Instance, addr string) bool {
	return addr == inst.Address || addr == "experiment."+inst.Experiment
}

func matchesList(inst *lang.Instance, addrs []string) bool {
	for _, a := range addrs {
		if matches(inst, a) {
			return true
		}
	}
	return false
}

func matchesAny(cfg *lang.Config, addr string) bool {
	for _, in := range cfg.Instances {
		if matches(in, addr) {
			return true
		}
	}
	return false
}

// selectInstances applies -target (with dependencies) and -exclude (with
// dependents).
func selectInstances(cfg *lang.Config, targets, excludes []string) (map[string]bool, error) {
	for _, given := range []struct {
		flag  string
		addrs []string
	}{{"-target", targets}, {"-exclude", excludes}} {
		for _, a := range given.addrs {
			if !matchesAny(cfg, a) {
				return nil, unknownAddress(cfg, given.flag, a)
			}
		}
	}
	byAddr := make(map[string]*lang.Instance, len(cfg.Instances))
	for _, in := range cfg.Instances {
		byAddr[in.Address] = in
	}
	sel := make(map[string]bool, len(cfg.Instances))
	if len(targets) == 0 {
		for _, in := range cfg.Instances {
			sel[in.Address] = true
		}
	} else {
		var add func(in *lang.Instance)
		add = func(in *lang.Instance) {
			if sel[in.Address] {
				return
			}
			sel[in.Address] = true
			for _, d := range in.DependsOn {
				if up := byAddr[d]; up != nil {
					add(up)
				}
			}
		}
		for _, in := range cfg.Instances {
			if matchesList(in, targets) {
				add(in)
			}
		}
	}
	if len(excludes) > 0 {
		// Walk in dependency order so dependents of excluded instances
		// are excluded too.
		excluded := make(map[string]bool)
		for _, in := range order(cfg.Instances, byAddr) {
			ex := matchesList(in, excludes)
			for _, d := range in.DependsOn {
				ex = ex || excluded[d]
			}
			if ex {
				excluded[in.Address] = true
				delete(sel, in.Address)
			}
		}
	}
	return sel, nil
}

// ScanInstance snapshots the source of one instance now, as a plan does
// (Plan.Snapshots[in.SourceKey()]).
func ScanInstance(cfg *lang.Config, in *lang.Instance, dataDir string) (*snapshot.Manifest, error) {
	snaps, _, err := scanSources(cfg, map[string]bool{in.Address: true}, dataDir)
	if err != nil {
		return nil, err
	}
	if m := snaps[in.SourceKey()]; m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("no snapshot of %s", in.SourceDir)
}

// scanSources snapshots every source directory of the selected instances
// once, the directories in parallel, and every directory and file they
// include. The result maps each instance's SourceKey to its snapshot.
func scanSources(cfg *lang.Config, selected map[string]bool, dataDir string) (map[string]*snapshot.Manifest, []string, error) {
	var dirs []string
	seen := make(map[string]bool)
	add := func(dir string) {
		if !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	for _, in := range cfg.Instances {
		if !selected[in.Address] {
			continue
		}
		add(in.SourceDir)
		for _, inc := range in.Include {
			add(inc.Path)
		}
	}
	sort.Strings(dirs)
	manifests := make([]*snapshot.Manifest, len(dirs))
	warnings := make([]string, len(dirs))
	errs := make([]error, len(dirs))
	var planFiles []planFileRecord
	if dataDir != "" {
		planFiles = loadPlanFiles(dataDir)
	}
	var wg sync.WaitGroup
	for i, dir := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if fi, err := os.Stat(dir); err == nil && !fi.IsDir() { // an included file
				var e snapshot.Entry
				e, errs[i] = snapshot.ScanFile(dir, filepath.Base(dir))
				manifests[i] = snapshot.NewManifest([]snapshot.Entry{e})
				return
			}
			manifests[i], warnings[i], errs[i] = scanSource(dir, dataDir, planFilesIn(dir, planFiles))
		}()
	}
	wg.Wait()
	out := make(map[string]*snapshot.Manifest, len(dirs))
	var warns []string
	for i, dir := range dirs {
		if errs[i] != nil {
			return nil, nil, errs[i]
		}
		out[dir] = manifests[i]
		if warnings[i] != "" {
			warns = append(warns, fmt.Sprintf("source_dir %s: %s", dir, warnings[i]))
		}
	}
	for _, in := range cfg.Instances {
		if !selected[in.Address] || len(in.Include) == 0 || out[in.SourceKey()] != nil {
			continue
		}
		m, err := withIncludes(in, out)
		if err != nil {
			return nil, nil, fmt.Errorf("plan %s: %w", in.Address, err)
		}
		out[in.SourceKey()] = m
	}
	return out, warns, nil
}

// withIncludes is the snapshot of in's working directory: its source_dir's
// snapshot, with each file or directory it includes at the top under its
// own name. An included name that source_dir has too is refused: which
// one the run should see is not for trainrun to guess.
func withIncludes(in *lang.Instance, scanned map[string]*snapshot.Manifest) (*snapshot.Manifest, error) {
	src := scanned[in.SourceDir]
	entries := slices.Clone(src.Entries)
	for _, inc := range in.Include {
		for _, e := range src.Entries {
			if e.Path == inc.Name || strings.HasPrefix(e.Path, inc.Name+"/") {
				return nil, fmt.Errorf("include %q would be %s in the working directory, which source_dir %s has already (%s): rename one, or leave it out of source_dir (.trainrunignore)",
					inc.Given, inc.Name, in.SourceDir, e.Path)
			}
		}
		for _, e := range scanned[inc.Path].Entries {
			if inc.Dir {
				e.Path = inc.Name + "/" + e.Path
			}
			entries = append(entries, e)
		}
	}
	return snapshot.NewManifest(entries), nil
}

// PutSnapshot copies into the store every file of m, the snapshot of in's
// working directory (Plan.Snapshots[in.SourceKey()]), from where it is:
// source_dir, or a file or directory it includes; then m itself.
func PutSnapshot(store *snapshot.Store, in *lang.Instance, m *snapshot.Manifest) error {
	roots := map[string][]snapshot.Entry{}
	for _, e := range m.Entries {
		root := in.SourceDir
		for _, inc := range in.Include {
			if e.Path == inc.Name || strings.HasPrefix(e.Path, inc.Name+"/") {
				root = filepath.Dir(inc.Path) // its name is its base name
				break
			}
		}
		roots[root] = append(roots[root], e)
	}
	for _, root := range slices.Sorted(maps.Keys(roots)) {
		if err := store.Put(root, snapshot.NewManifest(roots[root])); err != nil {
			return err
		}
	}
	return store.PutManifest(m)
}

// scanSource snapshots dir, leaving out the files in skip.
func scanSource(dir, dataDir string, skip map[string]bool) (*snapshot.Manifest, string, error) {
	var cache *snapshot.StatCache
	var cachePath string
	if dataDir != "" {
		cachePath = statCachePath(dataDir, dir)
		cache, _ = snapshot.LoadStatCache(cachePath) // a bad cache is only slower
	}
	m, stats, err := snapshot.Scan(dir, snapshot.ScanOptions{Cache: cache, Skip: skip})
	if err != nil {
		return nil, "", fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if cache != nil {
		if err := os.MkdirAll(filepath.Dir(cachePath), 0o700); err == nil {
			_ = cache.Save(cachePath) // best effort: the next plan rehashes
		}
	}
	return m, stats.Warning(), nil
}

// statCachePath is where the stat cache of one source directory lives.
func statCachePath(dataDir, dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(dataDir, "statcache", hex.EncodeToString(sum[:8]))
}
