package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// ComputeAttached is emitted when apply records a compute's machines, the
// first time the compute is used. Address is compute.NAME.
const ComputeAttached EventType = "compute_attached"

// AttachTimeout bounds asking a compute's machines what they are: a plan
// never waits longer for a machine that does not answer.
const AttachTimeout = 30 * time.Second

// Attach says which computes attach to machines and what those are
// (planner.ComputeResolver), through the computes of comps.
type Attach struct {
	comps *Computes
	// Offline asks no machine (plan -refresh=false).
	Offline bool
	Timeout time.Duration // default AttachTimeout
}

var _ planner.ComputeResolver = (*Attach)(nil)

// NewAttach returns the resolver over comps.
func NewAttach(comps *Computes) *Attach { return &Attach{comps: comps} }

func (a *Attach) attacher(compute string) (providers.Attacher, bool) {
	comp, err := a.comps.Get(compute)
	if err != nil {
		return nil, false
	}
	at, ok := comp.(providers.Attacher)
	return at, ok
}

// Hosts opens the compute (which contacts nothing) and asks its kind.
func (a *Attach) Hosts(compute string) ([]string, bool) {
	at, ok := a.attacher(compute)
	if !ok {
		return nil, false
	}
	return at.Hosts(), true
}

// Facts asks the compute's machines, within the timeout.
func (a *Attach) Facts(ctx context.Context, compute string) ([]providers.HostFacts, bool, error) {
	at, ok := a.attacher(compute)
	if !ok {
		return nil, false, fmt.Errorf("compute %s attaches to no machine", compute)
	}
	if a.Offline {
		return nil, true, nil
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = AttachTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	facts, err := at.Facts(ctx)
	if err != nil {
		return nil, false, err
	}
	return facts, false, nil
}

// recordAttach records the plan's attach actions before any run starts:
// their machines' facts as the plan found them, or, when the plan did not
// ask (-refresh=false), as they are asked now. A compute whose machines
// cannot say is not recorded (the next plan shows it again); its runs fail
// on their own.
func (r *Runtime) recordAttach(ctx context.Context, p *planner.Plan) {
	if len(p.Computes) == 0 {
		return
	}
	recs, err := r.State.Computes()
	if err != nil {
		r.emit(Event{Type: Warning, Message: err.Error()})
		return
	}
	for _, a := range p.Computes {
		facts := a.Hosts
		if len(facts) == 0 {
			res := NewAttach(r.Computes)
			if facts, _, err = res.Facts(ctx, a.Name); err != nil {
				r.emit(Event{Type: Warning, Address: a.Address, Message: "attach: " + err.Error()})
				continue
			}
		}
		rec := &state.Compute{Name: a.Name, Kind: a.ComputeKind, Hosts: facts, AttachedAt: time.Now().UTC()}
		if old := recs.Get(a.Name); old != nil {
			// A pool that grew: keep what is known of the others.
			for _, h := range old.Hosts {
				if rec.Host(h.Host) == nil {
					rec.Hosts = append(rec.Hosts, h)
				}
			}
		}
		if err := recs.Put(rec); err != nil {
			r.emit(Event{Type: Warning, Address: a.Address, Message: err.Error()})
			continue
		}
		r.emit(Event{Type: ComputeAttached, Address: a.Address, Compute: a.Name, Message: attachedMessage(len(facts))})
	}
}

func attachedMessage(n int) string {
	if n == 1 {
		return "attached; what its machine is was recorded"
	}
	return fmt.Sprintf("attached; what its %s %s was recorded", plural.Count(n, "machine"), plural.Noun(n, "is"))
}

var _ planner.CapacityResolver = (*Attach)(nil)

// Capacity says what one run can have on compute: the GPUs it schedules
// and, for a local compute, this machine's CPUs and memory. Machines
// trainrun attaches to are described by their facts, which the planner
// has; a Slurm cluster's nodes are not asked (sbatch refuses what no node
// has).
func (a *Attach) Capacity(ctx context.Context, compute string) planner.Capacity {
	c := planner.Capacity{GPUs: -1}
	comp, err := a.comps.Get(compute)
	if err != nil {
		return c
	}
	if a.Offline && a.kind(compute) != "local" {
		return c // -refresh=false: the machines are not asked (nvidia-smi)
	}
	c.GPUs = comp.GPUs(ctx)
	if a.kind(compute) == "local" {
		c.CPUs, c.Where = goruntime.NumCPU(), "this machine"
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil {
			c.Memory = int64(si.Totalram) * int64(si.Unit)
		}
	}
	return c
}

func (a *Attach) kind(compute string) string {
	if cfg := a.comps.config(); cfg == nil || cfg.Computes[compute] == nil {
		return ""
	}
	return a.comps.config().Computes[compute].Kind
}
