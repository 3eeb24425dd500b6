package planner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// EmptyOutputs is the content hash of a run that produced no outputs: the
// ID of the empty tree's manifest.
var EmptyOutputs = snapshot.ComputeID(nil)

// OutputsHash is what the fingerprints of downstream instances hash of an
// upstream run: the content hash (manifest ID) of its collected outputs,
// EmptyOutputs when it produced none. A run whose outputs hash was never
// recorded (storing them failed) stands only for itself, "run:ID", so that
// nothing downstream is ever taken as up to date by mistake.
func OutputsHash(r *state.Run) string {
	if r.Outputs != "" {
		return r.Outputs
	}
	return "run:" + r.ID
}

// outputsLookup says what an upstream instance's outputs hash is: known, or
// pending because the upstream runs (or may run) earlier in the same apply.
type outputsLookup func(addr string) (hash string, pending bool, err error)

// upstreamOutputs maps each of inst's inputs ("input.NAME", the hashes in
// the order of its upstream instances) and each other dependency (by
// address) to the outputs hashes of the instances they name. Pending
// upstream slots are left "" and their addresses returned.
func upstreamOutputs(inst *lang.Instance, lookup outputsLookup) (map[string][]string, []string, error) {
	if len(inst.DependsOn) == 0 {
		return nil, nil, nil
	}
	up := make(map[string][]string)
	var pending []string
	seen := make(map[string]bool)
	get := func(addr string) (string, error) {
		h, p, err := lookup(addr)
		if err != nil {
			return "", err
		}
		if p {
			if !seen[addr] {
				pending = append(pending, addr)
			}
			h = ""
		}
		seen[addr] = true
		return h, nil
	}
	named := make(map[string]bool)
	for _, name := range slices.Sorted(maps.Keys(inst.Inputs)) {
		for _, a := range inst.Inputs[name] {
			h, err := get(a)
			if err != nil {
				return nil, nil, err
			}
			up["input."+name] = append(up["input."+name], h)
			named[a] = true
		}
	}
	for _, a := range inst.DependsOn {
		if named[a] {
			continue
		}
		h, err := get(a)
		if err != nil {
			return nil, nil, err
		}
		up[a] = []string{h}
	}
	slices.Sort(pending)
	return up, pending, nil
}

// assumeUnchanged fills the pending slots of in.Upstream with the values
// prior ran with, where it has them: the fingerprint the instance has if
// its pending upstream instances produce the same outputs again. An input
// that names a whole sweep is matched by key, so that an instance the
// prior run did not have (a new sweep point) stays unknown.
func assumeUnchanged(in *state.FingerprintInputs, prior *state.Run) map[string][]string {
	if prior == nil || prior.Inputs == nil {
		return in.Upstream
	}
	out := make(map[string][]string, len(in.Upstream))
	for k, hs := range in.Upstream {
		old, oldKeys := prior.Inputs.Upstream[k], prior.Inputs.UpstreamKeys[k]
		hs = slices.Clone(hs)
		keys := in.UpstreamKeys[k]
		switch {
		case keys == nil && oldKeys == nil && len(old) == len(hs):
			for i := range hs {
				if hs[i] == "" {
					hs[i] = old[i]
				}
			}
		case keys != nil && len(oldKeys) == len(old):
			was := make(map[string]string, len(old))
			for i, key := range oldKeys {
				was[key] = old[i]
			}
			for i := range hs {
				if h, ok := was[keys[i]]; ok && hs[i] == "" {
					hs[i] = h
				}
			}
		}
		out[k] = hs
	}
	return out
}

// Resolve decides an action planned while some of its upstream instances
// were still to run (a.Pending), once they have: outputsOf returns each
// one's outputs hash now (OutputsHash of its latest successful run). The
// fingerprint becomes known; a pending action becomes a submit when the
// upstream outputs changed, else a no-op (or a state-only update), with
// the reasons. It is an error to resolve an action twice or one that is
// not waiting.
func (a *Action) Resolve(outputsOf func(addr string) (string, error)) error {
	if len(a.Pending) == 0 {
		return fmt.Errorf("resolve %s: nothing is pending", a.Address)
	}
	up, _, err := upstreamOutputs(a.Instance, func(addr string) (string, bool, error) {
		if h, ok := a.known[addr]; ok {
			return h, false, nil
		}
		h, err := outputsOf(addr)
		if err != nil {
			return "", false, err
		}
		return h, false, nil
	})
	if err != nil {
		return fmt.Errorf("resolve %s: %w", a.Address, err)
	}
	in := *a.Inputs
	in.Upstream = up
	a.Inputs = &in
	a.Fingerprint = Fingerprint(&in)
	switch a.Action {
	case Pending:
		decide(a, false, a.manifest, a.store)
		if a.Action == NoOp && a.Prior != nil && !a.Prior.Live() {
			a.Reasons = []string{"outputs of " + describeAddrs(a.Pending) + " unchanged"}
		}
	case Submit:
		if !a.replace {
			restoreIfCached(a)
		}
	}
	a.Pending = nil
	return nil
}

// pendingReason is what a pending action's plan entry says.
func pendingReason(pending []string) string {
	its := "its"
	if len(pending) > 1 {
		its = "their"
	}
	return fmt.Sprintf("pending upstream %s: runs again only if %s outputs change", describeAddrs(pending), its)
}

// describeAddrs names instance addresses briefly: at most three, and how
// many more.
func describeAddrs(addrs []string) string {
	const max = 3
	if len(addrs) <= max {
		return strings.Join(addrs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(addrs[:max], ", "), len(addrs)-max)
}

// upstreamReasons explains changed upstream outputs, naming the upstream
// instances whose outputs differ: by address, or by key for an input that
// names a whole sweep, with the instances added and removed.
func upstreamReasons(inst *lang.Instance, old, new *state.FingerprintInputs) []string {
	var rs []string
	for _, key := range unionKeys(old.Upstream, new.Upstream) {
		o, n := old.Upstream[key], new.Upstream[key]
		ok, nk := old.UpstreamKeys[key], new.UpstreamKeys[key]
		if equalStrings(o, n) && equalStrings(ok, nk) {
			continue
		}
		name, isInput := strings.CutPrefix(key, "input.")
		switch {
		case !isInput:
			rs = append(rs, fmt.Sprintf("outputs of upstream %s changed", key))
		case nk != nil && ok == nil && o != nil:
			rs = append(rs, fmt.Sprintf("input %s: its run was recorded without the keys of the upstream instances, which fingerprints now hash", name))
		case nk != nil || ok != nil:
			rs = append(rs, "input "+name+": "+keyedChanges(ok, o, nk, n))
		default:
			var addrs []string
			if inst != nil {
				addrs = inst.Inputs[name]
			}
			if len(o) != len(n) || len(addrs) != len(n) {
				rs = append(rs, fmt.Sprintf("input %s changed: now from %s, was %d", name, plural.Count(len(n), "upstream instance"), len(o)))
				continue
			}
			var changed []string
			for i := range n {
				if o[i] != n[i] {
					changed = append(changed, addrs[i])
				}
			}
			rs = append(rs, fmt.Sprintf("input %s changed: outputs of %s changed", name, describeAddrs(changed)))
		}
	}
	return rs
}

// keyedChanges says how the upstream instances of an input that names a
// whole sweep differ, by key: "x=3 added, x=2 removed, outputs of x=1
// changed".
func keyedChanges(oldKeys, oldHashes, newKeys, newHashes []string) string {
	was := make(map[string]string, len(oldKeys))
	for i, k := range oldKeys {
		if i < len(oldHashes) {
			was[k] = oldHashes[i]
		}
	}
	var added, changed []string
	now := make(map[string]bool, len(newKeys))
	for i, k := range newKeys {
		now[k] = true
		h, had := was[k]
		switch {
		case !had:
			added = append(added, k)
		case i < len(newHashes) && newHashes[i] != h:
			changed = append(changed, k)
		}
	}
	var removed []string
	for _, k := range oldKeys {
		if !now[k] {
			removed = append(removed, k)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, describeAddrs(added)+" added")
	}
	if len(removed) > 0 {
		parts = append(parts, describeAddrs(removed)+" removed")
	}
	if len(changed) > 0 {
		parts = append(parts, "outputs of "+describeAddrs(changed)+" changed")
	}
	if len(parts) == 0 {
		return "upstream instances changed"
	}
	return strings.Join(parts, ", ")
}

// lookupFor returns how Build finds upstream outputs: from the actions
// already planned (in dependency order) and, for instances not selected,
// their latest recorded run.
func lookupFor(st State, planned map[string]*Action) outputsLookup {
	return func(addr string) (string, bool, error) {
		if a, ok := planned[addr]; ok {
			switch {
			case a.Action == Restore:
				return a.cachedOutputs, false, nil
			case a.Action == Submit, a.Action == Pending, a.Prior != nil && a.Prior.Live():
				return "", true, nil
			case a.Prior != nil && a.Prior.Status == providers.Succeeded:
				return OutputsHash(a.Prior), false, nil
			}
			return "", false, fmt.Errorf("upstream %s has no successful run", addr)
		}
		prior := st.Latest(addr)
		if prior == nil || prior.Status != providers.Succeeded {
			return "", false, fmt.Errorf("upstream %s is not planned and has no successful run", addr)
		}
		return OutputsHash(prior), false, nil
	}
}
