package planner

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// fakeComputes attaches "box" (one machine) and "pool" (two); "here" is
// local.
type fakeComputes struct {
	offline bool
	fail    error
	asked   atomic.Int32
}

func (f *fakeComputes) Hosts(c string) ([]string, bool) {
	switch c {
	case "box":
		return []string{"ml@box:22"}, true
	case "pool":
		return []string{"ml@a:22", "ml@b:22"}, true
	}
	return nil, false
}

func (f *fakeComputes) Facts(_ context.Context, c string) ([]providers.HostFacts, bool, error) {
	f.asked.Add(1)
	if f.fail != nil {
		return nil, false, f.fail
	}
	if f.offline {
		return nil, true, nil
	}
	hosts, _ := f.Hosts(c)
	var out []providers.HostFacts
	for _, h := range hosts {
		out = append(out, providers.HostFacts{Host: h, OS: "Debian GNU/Linux 12 (bookworm)", Arch: "x86_64", CPUs: 8, Memory: 32 << 30, GPUs: []string{"A100"}})
	}
	return out, false, nil
}

func runOn(compute, action string) *Action {
	return &Action{Address: "experiment." + compute, Action: action, Instance: &lang.Instance{Compute: compute}}
}

func TestAttachActions(t *testing.T) {
	kinds := map[string]string{"box": "ssh", "pool": "ssh", "here": "local"}
	recs, err := state.OpenComputes(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := recs.Put(&state.Compute{Name: "pool", Kind: "ssh", Hosts: []providers.HostFacts{{Host: "ml@a:22"}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		actions []*Action
		res     *fakeComputes
		want    []string // "address: reasons"
		err     string
	}{
		{"first use", []*Action{runOn("box", Submit), runOn("box", Submit), runOn("here", Submit)}, &fakeComputes{},
			[]string{"compute.box: ml@box:22: Debian GNU/Linux 12 (bookworm), x86_64, 8 CPUs, 32.0 GiB, 1 GPU (A100)"}, ""},
		{"a pool that grew", []*Action{runOn("pool", Pending)}, &fakeComputes{},
			[]string{"compute.pool: ml@a:22: Debian GNU/Linux 12 (bookworm), x86_64, 8 CPUs, 32.0 GiB, 1 GPU (A100); ml@b:22: Debian GNU/Linux 12 (bookworm), x86_64, 8 CPUs, 32.0 GiB, 1 GPU (A100)"}, ""},
		{"nothing to start", []*Action{runOn("box", NoOp), runOn("box", Update)}, &fakeComputes{}, nil, ""},
		{"offline", []*Action{runOn("box", Submit)}, &fakeComputes{offline: true},
			[]string{"compute.box: first use (not asked what its machines are: -refresh=false)"}, ""},
		{"unreachable", []*Action{runOn("box", Submit)}, &fakeComputes{fail: errors.New("host key verification failed")}, nil,
			"compute.box: host key verification failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := attachActions(t.Context(), kinds, tc.actions, tc.res, recs)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, a := range got {
				if a.Action != Attach || a.Kind != "compute" || a.ComputeKind != "ssh" {
					t.Errorf("action %+v", a)
				}
				lines = append(lines, a.Address+": "+strings.Join(a.Reasons, "; "))
			}
			if strings.Join(lines, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	// Attached: nothing is asked.
	if err := recs.Put(&state.Compute{Name: "box", Kind: "ssh", Hosts: []providers.HostFacts{{Host: "ml@box:22"}}}); err != nil {
		t.Fatal(err)
	}
	res := &fakeComputes{}
	if got, err := attachActions(t.Context(), kinds, []*Action{runOn("box", Submit)}, res, recs); err != nil || len(got) != 0 || res.asked.Load() != 0 {
		t.Fatalf("attached compute: %v, %v, asked %d times", got, err, res.asked.Load())
	}
}

func TestPlanSummaryCountsAttach(t *testing.T) {
	p := &Plan{Computes: []*ComputeAction{{Action: Attach}}}
	if p.Summary()[Attach] != 1 || !p.Changes() {
		t.Fatalf("summary %v, changes %v", p.Summary(), p.Changes())
	}
}
