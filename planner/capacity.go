package planner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Capacity is the most one run can be given on a compute, as far as is
// known at plan time. Unknown fields are 0, GPUs -1.
type Capacity struct {
	GPUs   int   // the GPUs the compute schedules; -1: unknown
	CPUs   int   // on its largest machine
	Memory int64 // bytes, on its largest machine
	// Where says what CPUs and Memory are of: "this machine", a host.
	Where string
}

// A CapacityResolver says what a compute has without starting anything. A
// ComputeResolver that implements it has the plan refuse a run that asks
// for more than its compute can give: such a run could only fail.
type CapacityResolver interface {
	Capacity(ctx context.Context, compute string) Capacity
}

// checkCapacity refuses the runs to start whose resources their compute
// cannot give. CPUs and memory of machines trainrun attaches to come from
// the plan's attach actions or the recorded facts; the resolver says the
// rest. A compute that cannot say is not checked.
func checkCapacity(ctx context.Context, p *Plan, res ComputeResolver, recs state.ComputeRecords) error {
	cr, ok := res.(CapacityResolver)
	if !ok {
		return nil
	}
	caps := map[string]Capacity{}
	capOf := func(name string) Capacity {
		if c, ok := caps[name]; ok {
			return c
		}
		c := cr.Capacity(ctx, name)
		if facts := hostFacts(p, recs, name); len(facts) > 0 {
			c.CPUs, c.Memory, c.Where = 0, 0, ""
			for _, f := range facts {
				if f.CPUs > c.CPUs {
					c.CPUs = f.CPUs
				}
				if f.Memory > c.Memory {
					c.Memory, c.Where = f.Memory, f.Host
				}
			}
			if len(facts) > 1 {
				c.Where = "its largest machine, " + c.Where
			}
		}
		caps[name] = c
		return c
	}
	type problem struct {
		where, first, what string
		n                  int
	}
	var problems []*problem
	seen := map[string]*problem{}
	for _, a := range p.Actions {
		if a.Action != Submit && a.Action != Pending || a.Instance == nil {
			continue
		}
		inst := a.Instance
		r := inst.Resources
		if r.GPUs <= 0 && r.CPUs <= 0 && r.Memory <= 0 {
			continue // asks for nothing: the compute is not asked either
		}
		c := capOf(inst.Compute)
		var whats []string
		if r.GPUs > 0 && c.GPUs >= 0 && r.GPUs > c.GPUs {
			has := "schedules no GPU"
			if c.GPUs > 0 {
				has = "schedules " + plural.Count(c.GPUs, "GPU")
			}
			whats = append(whats, fmt.Sprintf("gpus = %d }, but compute.%s %s", r.GPUs, inst.Compute, has))
		}
		if r.CPUs > 0 && c.CPUs > 0 && r.CPUs > c.CPUs {
			whats = append(whats, fmt.Sprintf("cpus = %d }, but compute.%s has %s (%s)", r.CPUs, inst.Compute, plural.Count(c.CPUs, "CPU"), c.Where))
		}
		if r.Memory > 0 && c.Memory > 0 && r.Memory > c.Memory {
			whats = append(whats, fmt.Sprintf("memory = %q }, but compute.%s has %s (%s)", bytesString(r.Memory), inst.Compute, bytesString(c.Memory), c.Where))
		}
		for _, what := range whats {
			key := inst.Experiment + "\x00" + what
			if pr := seen[key]; pr != nil {
				pr.n++
				continue
			}
			where := ""
			if rg := inst.DeclRange; rg.Filename != "" {
				where = fmt.Sprintf("%s:%d: ", rg.Filename, rg.Start.Line)
			}
			pr := &problem{where: where, first: inst.Address, what: what, n: 1}
			seen[key] = pr
			problems = append(problems, pr)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].first < problems[j].first })
	var b strings.Builder
	b.WriteString("runs ask for more than their compute has:")
	for _, pr := range problems {
		more := ""
		if pr.n > 1 {
			more = fmt.Sprintf(" and %s", plural.Count(pr.n-1, "other instance"))
		}
		fmt.Fprintf(&b, "\n  %s%s%s: resources { %s", pr.where, pr.first, more, pr.what)
	}
	b.WriteString("\nAsk for what the compute has, or run them on another compute.")
	return errors.New(b.String())
}

// hostFacts are the facts of compute's machines: as this plan asked them,
// else as recorded.
func hostFacts(p *Plan, recs state.ComputeRecords, name string) []providers.HostFacts {
	for _, a := range p.Computes {
		if a.Name == name && len(a.Hosts) > 0 {
			return a.Hosts
		}
	}
	if recs != nil {
		if rec := recs.Get(name); rec != nil {
			return rec.Hosts
		}
	}
	return nil
}

// bytesString is a memory size as resources write it: "23.5GiB".
func bytesString(n int64) string {
	switch {
	case n >= 1<<40:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<40)), ".0") + "TiB"
	case n >= 1<<30:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<30)), ".0") + "GiB"
	default:
		return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
	}
}
