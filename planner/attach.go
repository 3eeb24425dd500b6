package planner

import (
	"context"
	"fmt"
	"sort"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// ComputeResolver says which machines a compute attaches to and what they
// are. The runtime implements it: Hosts contacts nothing, Facts contacts
// the machines (within a timeout).
type ComputeResolver interface {
	// Hosts returns the machines of compute, and false when its kind
	// attaches to none (local).
	Hosts(compute string) ([]string, bool)
	// Facts asks the machines what they are. offline is true when it was
	// told not to ask (plan -refresh=false): the facts are then unknown.
	Facts(ctx context.Context, compute string) (facts []providers.HostFacts, offline bool, err error)
}

// ComputeAction is the first use of a compute on machines trainrun
// attaches to: apply records their facts before starting runs there.
type ComputeAction struct {
	Address string                `json:"address"` // compute.NAME
	Kind    string                `json:"kind"`    // "compute"
	Action  string                `json:"action"`  // Attach
	Reasons []string              `json:"reasons"`
	Hosts   []providers.HostFacts `json:"hosts,omitempty"` // empty when not asked (-refresh=false)

	Name        string `json:"-"` // the compute block
	ComputeKind string `json:"-"`
}

// DescribeFacts is one line about a machine for a plan: "Debian GNU/Linux
// 12 (bookworm), x86_64, 2 CPUs, 23.5 GiB, no GPU".
func DescribeFacts(f providers.HostFacts) string {
	s := f.OS
	add := func(x string) {
		if s != "" {
			s += ", "
		}
		s += x
	}
	if f.Arch != "" {
		add(f.Arch)
	}
	if f.CPUs > 0 {
		add(plural.Count(f.CPUs, "CPU"))
	}
	if f.Memory > 0 {
		add(fmt.Sprintf("%.1f GiB", float64(f.Memory)/(1<<30)))
	}
	switch len(f.GPUs) {
	case 0:
		add("no GPU")
	case 1:
		add("1 GPU (" + f.GPUs[0] + ")")
	default:
		add(fmt.Sprintf("%s (%s", plural.Count(len(f.GPUs), "GPU"), f.GPUs[0]))
		for _, g := range f.GPUs[1:] {
			s += "; " + g
		}
		s += ")"
	}
	return s
}

// attachActions plans an attach for every compute that the runs to start
// use, that attaches to machines, and that is not recorded with all of
// them yet. Facts are asked of all such computes at once.
func attachActions(ctx context.Context, cfgComputes map[string]string, actions []*Action, res ComputeResolver, recs state.ComputeRecords) ([]*ComputeAction, error) {
	if res == nil {
		return nil, nil
	}
	seen := map[string]bool{}
	var names []string
	for _, a := range actions {
		if a.Action != Submit && a.Action != Pending || a.Instance == nil {
			continue
		}
		name := a.Instance.Compute
		if seen[name] {
			continue
		}
		seen[name] = true
		hosts, ok := res.Hosts(name)
		if !ok || attached(recs, name, hosts) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]*ComputeAction, len(names))
	errs := make([]error, len(names))
	done := make(chan int)
	for i, name := range names {
		go func() {
			defer func() { done <- i }()
			facts, offline, err := res.Facts(ctx, name)
			if err != nil {
				errs[i] = fmt.Errorf("compute.%s: %w", name, err)
				return
			}
			a := &ComputeAction{Address: "compute." + name, Kind: "compute", Action: Attach, Name: name,
				ComputeKind: cfgComputes[name], Hosts: facts}
			if offline {
				a.Reasons = []string{"first use (not asked what its machines are: -refresh=false)"}
			}
			for _, f := range facts {
				a.Reasons = append(a.Reasons, f.Host+": "+DescribeFacts(f))
			}
			out[i] = a
		}()
	}
	for range names {
		<-done
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// attached reports whether every host is recorded for compute.
func attached(recs state.ComputeRecords, compute string, hosts []string) bool {
	if recs == nil {
		return false
	}
	rec := recs.Get(compute)
	if rec == nil {
		return false
	}
	for _, h := range hosts {
		if rec.Host(h) == nil {
			return false
		}
	}
	return true
}
