package planner_test

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// pipelineConfig: prep (a sweep of two shards) → train (one shard's
// outputs) → eval (train's outputs, and an ordering edge to prep).
const pipelineConfig = `
compute "local" "a" {}

experiment "prep" {
  compute    = compute.a
  source_dir = "prep"
  command    = ["sh", "prep.sh", param.shard]
  sweep {
    grid = { shard = [0, 1] }
  }
}

experiment "train" {
  compute    = compute.a
  source_dir = "train"
  command    = ["sh", "train.sh"]
  inputs     = { data = experiment.prep["shard=1"].outputs }
}

experiment "eval" {
  compute    = compute.a
  source_dir = "eval"
  command    = ["sh", "eval.sh"]
  inputs     = { model = experiment.train.outputs }
  depends_on = [experiment.prep["shard=0"]]
}
`

const (
	shard0 = `experiment.prep["shard=0"]`
	shard1 = `experiment.prep["shard=1"]`
)

func pipelineFiles() map[string]string {
	return map[string]string{
		"trainrun.hcl":   pipelineConfig,
		"prep/prep.sh":   "echo prep\n",
		"train/train.sh": "echo train\n",
		"eval/eval.sh":   "echo eval\n",
	}
}

func hashOf(s string) string { return strings.Repeat(s, 64/len(s)) }

// plannedActions maps each address to "action: reasons".
func plannedActions(pl *planner.Plan) map[string]string {
	m := map[string]string{}
	for _, a := range pl.Actions {
		m[a.Address] = a.Action + ": " + strings.Join(a.Reasons, "; ")
	}
	return m
}

// TestEarlyCutoff: downstream instances hash their upstream's outputs, so
// an upstream that re-runs with the same outputs leaves them alone, and one
// with new outputs re-runs them, whatever edge (input of a sweep point,
// whole experiment, depends_on) connects them.
func TestEarlyCutoff(t *testing.T) {
	p := newProject(t, pipelineFiles())
	p.apply()
	latest := func(addr string) *state.Run {
		t.Helper()
		r := p.open().Latest(addr)
		if r == nil {
			t.Fatalf("%s has no run", addr)
		}
		return r
	}
	trainRun, evalRun := latest(trainAddr).ID, latest("experiment.eval").ID

	// The prep script changes, not what it writes.
	p.write("prep/prep.sh", "# a comment\necho prep\n")
	pl := p.plan(planner.Options{})
	got := plannedActions(pl)
	want := map[string]string{
		shard0:            "submit: source changed: prep.sh modified",
		shard1:            "submit: source changed: prep.sh modified",
		trainAddr:         "pending: pending upstream " + shard1 + ": runs again only if its outputs change",
		"experiment.eval": "pending: pending upstream " + shard0 + ", " + trainAddr + ": runs again only if their outputs change",
	}
	for addr, w := range want {
		if got[addr] != w {
			t.Errorf("%s: %q, want %q", addr, got[addr], w)
		}
	}
	for _, a := range pl.Actions {
		if (a.Action == planner.Pending) != (a.Fingerprint == "") {
			t.Errorf("%s: %s with fingerprint %q: a fingerprint is unknown exactly while pending", a.Address, a.Action, a.Fingerprint)
		}
	}
	p.record(pl, providers.Succeeded, "")
	if a := action(t, pl, trainAddr); a.Action != planner.NoOp || !slices.Equal(a.Reasons, []string{"outputs of " + shard1 + " unchanged"}) {
		t.Errorf("train resolved to %s %q, want no-op: outputs unchanged", a.Action, a.Reasons)
	}
	if id := latest(trainAddr).ID; id != trainRun {
		t.Errorf("train ran again (run %s, was %s) though its input is the same", id, trainRun)
	}
	if id := latest("experiment.eval").ID; id != evalRun {
		t.Errorf("eval ran again (run %s, was %s) though its inputs are the same", id, evalRun)
	}
	if pl := p.plan(planner.Options{}); pl.Changes() {
		t.Errorf("after the cut-off, the plan has changes: %q", describe(pl))
	}

	// Shard 0 now writes something else: only eval (depends_on) follows.
	p.write("prep/prep.sh", "echo prep v2\n")
	p.outputs[shard0] = hashOf("0a")
	pl = p.plan(planner.Options{})
	p.record(pl, providers.Succeeded, "")
	if a := action(t, pl, trainAddr); a.Action != planner.NoOp {
		t.Errorf("train resolved to %s %q, want no-op: shard 1's outputs did not change", a.Action, a.Reasons)
	}
	if a := action(t, pl, "experiment.eval"); a.Action != planner.Submit || !slices.Equal(a.Reasons, []string{"outputs of upstream " + shard0 + " changed"}) || len(a.Fingerprint) != 64 {
		t.Errorf("eval resolved to %s %q fingerprint %q, want submit: shard 0's outputs changed", a.Action, a.Reasons, a.Fingerprint)
	}
	if r := latest("experiment.eval"); r.ID == evalRun || r.Fingerprint != action(t, pl, "experiment.eval").Fingerprint {
		t.Errorf("eval's run %s with fingerprint %s: want a new run with the resolved fingerprint", r.ID, r.Fingerprint)
	}

	// Shard 1's outputs change: train, then eval through train.
	p.write("prep/prep.sh", "echo prep v3\n")
	p.outputs[shard1] = hashOf("1b")
	p.outputs[trainAddr] = hashOf("2c")
	pl = p.plan(planner.Options{})
	p.record(pl, providers.Succeeded, "")
	if a := action(t, pl, trainAddr); a.Action != planner.Submit || !slices.Equal(a.Reasons, []string{"input data changed: outputs of " + shard1 + " changed"}) {
		t.Errorf("train resolved to %s %q, want submit: its input changed", a.Action, a.Reasons)
	}
	if a := action(t, pl, "experiment.eval"); a.Action != planner.Submit || !slices.Equal(a.Reasons, []string{"input model changed: outputs of " + trainAddr + " changed"}) {
		t.Errorf("eval resolved to %s %q, want submit: train's outputs changed", a.Action, a.Reasons)
	}
	if pl := p.plan(planner.Options{}); pl.Changes() {
		t.Errorf("after apply, the plan has changes: %q", describe(pl))
	}
}

// TestPendingFailedPrior: a downstream instance whose last run failed runs
// after its upstream whatever the upstream produces.
func TestPendingFailedPrior(t *testing.T) {
	p := newProject(t, pipelineFiles())
	p.apply()
	p.record(p.plan(planner.Options{Replace: []string{trainAddr}}), providers.Failed, "exit code 1")
	p.write("prep/prep.sh", "echo prep 2\n")
	a := action(t, p.plan(planner.Options{}), trainAddr)
	if a.Action != planner.Submit || !slices.Equal(a.Reasons, []string{"last run failed: exit code 1"}) || a.Fingerprint != "" || len(a.Pending) != 1 {
		t.Errorf("train: %s %q fingerprint %q pending %q, want submit [last run failed], fingerprint unknown, pending on shard 1", a.Action, a.Reasons, a.Fingerprint, a.Pending)
	}
}

func TestResolveErrors(t *testing.T) {
	p := newProject(t, pipelineFiles())
	pl := p.plan(planner.Options{})
	if err := action(t, pl, shard0).Resolve(func(string) (string, error) { return planner.EmptyOutputs, nil }); err == nil {
		t.Error("Resolve of an action that waits for nothing succeeded")
	}
	boom := errors.New("boom")
	a := action(t, pl, trainAddr)
	if err := a.Resolve(func(string) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("Resolve = %v, want the lookup's error", err)
	}
	if len(a.Pending) == 0 || a.Fingerprint != "" {
		t.Error("a failed Resolve changed the action")
	}
}

func TestOutputsHash(t *testing.T) {
	if want := snapshot.NewManifest(nil).ID; planner.EmptyOutputs != want {
		t.Errorf("EmptyOutputs = %s, want the empty manifest's ID %s", planner.EmptyOutputs, want)
	}
	tests := []struct {
		run  state.Run
		want string
	}{
		{state.Run{ID: "abc", Outputs: hashOf("ab")}, hashOf("ab")},
		{state.Run{ID: "abc", Outputs: planner.EmptyOutputs}, planner.EmptyOutputs},
		// Never recorded: stands for this run alone.
		{state.Run{ID: "abc"}, "run:abc"},
	}
	for _, tt := range tests {
		if got := planner.OutputsHash(&tt.run); got != tt.want {
			t.Errorf("OutputsHash(%+v) = %q, want %q", tt.run, got, tt.want)
		}
	}
}

// TestSavedPlanPending: a saved plan with actions waiting for upstream
// outputs is applied as it is, and refused when what those actions hash
// apart from the upstream outputs changed.
func TestSavedPlanPending(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(p *project) // before the plan is saved, after the first apply
		change  func(p *project) // after it is saved
		wantErr string
	}{
		{"pending, same", nil, func(p *project) {}, ""},
		{"pending, then its own source changed", nil, func(p *project) { p.write("train/train.sh", "echo train 2\n") },
			trainAddr + " changed since it was made"},
		{"submit waiting, same", func(p *project) { p.write("train/train.sh", "echo train 2\n") }, func(p *project) {}, ""},
		{"submit waiting, then its source changed again", func(p *project) { p.write("train/train.sh", "echo train 2\n") },
			func(p *project) { p.write("train/train.sh", "echo train 3\n") }, trainAddr + " changed since it was made"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProject(t, pipelineFiles())
			p.apply()
			p.write("prep/prep.sh", "echo prep 2\n")
			if tt.setup != nil {
				tt.setup(p)
			}
			saved := p.plan(planner.Options{})
			if a := action(t, saved, trainAddr); a.Fingerprint != "" || len(a.Pending) == 0 {
				t.Fatalf("train: %s, fingerprint %q: want it waiting for prep", a.Action, a.Fingerprint)
			}
			path := filepath.Join(t.TempDir(), "tr.plan")
			if err := planner.Save(path, p.load(), saved, planner.Options{}); err != nil {
				t.Fatal(err)
			}
			f, err := planner.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(p)
			err = f.Check(p.plan(f.Options))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Check = %v, want nil", err)
			case tt.wantErr != "" && (!errors.Is(err, planner.ErrStale) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Check = %v, want ErrStale saying %q", err, tt.wantErr)
			}
		})
	}
}

// keyedConfig: down takes every instance of the sweep up as one input.
const keyedConfig = `
variable "xs" {
  type = list(number)
}

compute "local" "a" {}

experiment "up" {
  compute    = compute.a
  source_dir = "up"
  command    = ["sh", "up.sh"]
  sweep {
    grid = { x = var.xs }
  }
}

experiment "down" {
  compute    = compute.a
  source_dir = "down"
  command    = ["sh", "down.sh"]
  inputs     = { u = experiment.up.outputs }
}
`

// TestKeyedFanIn: an input that names a whole sweep hashes each upstream
// instance's key with its outputs, so swapping an instance for another
// with the same outputs is a change, named by key (SPEC §8).
func TestKeyedFanIn(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": keyedConfig, "up/up.sh": "echo up\n", "down/down.sh": "echo down\n"})
	p.vars = []string{"xs=[1,2]"}
	p.apply() // every run's outputs: the empty tree, the same for x=1, 2 and 3
	first := p.open().Latest("experiment.down")
	if got := first.Inputs.UpstreamKeys["input.u"]; !slices.Equal(got, []string{"x=1", "x=2"}) {
		t.Fatalf("down's recorded keys = %q, want x=1 x=2", got)
	}

	p.vars = []string{"xs=[1,3]"}
	pl := p.plan(planner.Options{})
	down := action(t, pl, "experiment.down")
	if down.Action != planner.Submit || !slices.Equal(down.Reasons, []string{"input u: x=3 added, x=2 removed"}) {
		t.Errorf("down: %s %q, want submit [input u: x=3 added, x=2 removed]", down.Action, down.Reasons)
	}
	if !slices.Equal(down.Pending, []string{`experiment.up["x=3"]`}) || down.Fingerprint != "" {
		t.Errorf("down: pending %q fingerprint %q, want waiting for x=3", down.Pending, down.Fingerprint)
	}
	p.record(pl, providers.Succeeded, "")
	second := p.open().Latest("experiment.down")
	if second.ID == first.ID || second.Fingerprint == first.Fingerprint {
		t.Errorf("down did not run again with another fingerprint (run %s, fingerprint %s)", second.ID, second.Fingerprint)
	}
	if pl := p.plan(planner.Options{}); pl.Changes() {
		t.Errorf("after apply, the plan has changes: %q", describe(pl))
	}

	// Back: x=2's run is current again, down's is not, and its first run
	// had that fingerprint.
	p.vars = []string{"xs=[1,2]"}
	want := []string{"input u: x=2 added, x=3 removed", "same fingerprint as run " + first.ID}
	if a := action(t, p.plan(planner.Options{}), "experiment.down"); a.Action != planner.Restore || !slices.Equal(a.Reasons, want) || a.Fingerprint != first.Fingerprint {
		t.Errorf("down: %s %q fingerprint %s, want restore %q with the first run's fingerprint", a.Action, a.Reasons, a.Fingerprint, want)
	}

	// Same keys, other outputs: named by key once known.
	p.vars = []string{"xs=[1,3]"}
	p.write("up/up.sh", "echo up v2\n")
	p.outputs[`experiment.up["x=3"]`] = hashOf("3a")
	pl = p.plan(planner.Options{})
	if a := action(t, pl, "experiment.down"); a.Action != planner.Pending {
		t.Errorf("down: %s %q, want pending on its upstream", a.Action, a.Reasons)
	}
	p.record(pl, providers.Succeeded, "")
	if a := action(t, pl, "experiment.down"); a.Action != planner.Submit || !slices.Equal(a.Reasons, []string{"input u: outputs of x=3 changed"}) {
		t.Errorf("down resolved to %s %q, want submit [input u: outputs of x=3 changed]", a.Action, a.Reasons)
	}
}

// TestKeyedFanInOnePoint: a sweep of one point named whole is keyed too;
// one instance named by its key is not.
func TestKeyedFanInOnePoint(t *testing.T) {
	cfg := strings.Replace(keyedConfig, "experiment.up.outputs", "experiment.up.outputs, one = experiment.up[\"x=1\"].outputs", 1)
	p := newProject(t, map[string]string{"trainrun.hcl": cfg, "up/up.sh": "echo up\n", "down/down.sh": "echo down\n"})
	p.vars = []string{"xs=[1]"}
	p.apply()
	r := p.open().Latest("experiment.down")
	if got := r.Inputs.UpstreamKeys; !slices.Equal(got["input.u"], []string{"x=1"}) || got["input.one"] != nil {
		t.Errorf("recorded keys %q, want input.u: [x=1] and none for input.one", got)
	}
}

// TestKeyedFanInUnkeyedRecord: a run recorded before keys were hashed is
// planned to run again, and the plan says why.
func TestKeyedFanInUnkeyedRecord(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": keyedConfig, "up/up.sh": "echo up\n", "down/down.sh": "echo down\n"})
	p.vars = []string{"xs=[1,2]"}
	p.apply()
	old := p.open().Latest("experiment.down").Clone()
	old.Inputs.UpstreamKeys = nil
	old.Fingerprint = planner.Fingerprint(old.Inputs)
	st := p.open()
	if err := st.Lock(state.Holder{Command: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(old); err != nil {
		t.Fatal(err)
	}
	st.Unlock()
	a := action(t, p.plan(planner.Options{}), "experiment.down")
	want := "input u: its run was recorded without the keys of the upstream instances, which fingerprints now hash"
	if a.Action != planner.Submit || !slices.Equal(a.Reasons, []string{want}) {
		t.Errorf("down: %s %q, want submit [%s]", a.Action, a.Reasons, want)
	}
}

// TestForEachReplansItsMatch: with for_each, a change of one upstream
// instance's outputs re-plans its matched downstream instances only, and
// new and removed points come and go one by one (SPEC §8).
func TestForEachReplansItsMatch(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": `
variable "lrs" {
  type = list(number)
}
compute "local" "a" {}
experiment "train" {
  compute = compute.a
  command = ["train", param.lr]
  sweep {
    grid = { lr = var.lrs }
  }
}
experiment "eval" {
  compute  = compute.a
  for_each = experiment.train
  inputs   = { model = each.outputs }
  command  = ["eval", param.split]
  sweep {
    grid = { split = ["val", "test"] }
  }
}
`})
	p.vars = []string{"lrs=[1,2]"}
	p.apply()
	p.outputs[`experiment.train["lr=2"]`] = hashOf("2b")
	pl := p.plan(planner.Options{Replace: []string{`experiment.train["lr=2"]`}})
	p.record(pl, providers.Succeeded, "")
	got := map[string]string{}
	for _, a := range pl.Actions {
		got[a.Address] = a.Action
	}
	want := map[string]string{
		`experiment.train["lr=1"]`:           planner.NoOp,
		`experiment.train["lr=2"]`:           planner.Submit,
		`experiment.eval["lr=1,split=test"]`: planner.NoOp,
		`experiment.eval["lr=1,split=val"]`:  planner.NoOp,
		`experiment.eval["lr=2,split=test"]`: planner.Submit,
		`experiment.eval["lr=2,split=val"]`:  planner.Submit,
	}
	if !maps.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if a := action(t, pl, `experiment.eval["lr=2,split=val"]`); !slices.Equal(a.Reasons, []string{"input model changed: outputs of experiment.train[\"lr=2\"] changed"}) {
		t.Errorf("reasons %q", a.Reasons)
	}

	// A new point: its two eval instances are new; nothing else moves.
	p.vars = []string{"lrs=[1,2,3]"}
	pl = p.plan(planner.Options{})
	var changed []string
	for _, a := range pl.Actions {
		if a.Action != planner.NoOp {
			changed = append(changed, a.Address+" "+a.Action)
		}
	}
	wantChanged := []string{`experiment.train["lr=3"] submit`, `experiment.eval["lr=3,split=test"] submit`, `experiment.eval["lr=3,split=val"] submit`}
	slices.Sort(changed)
	slices.Sort(wantChanged)
	if !slices.Equal(changed, wantChanged) {
		t.Errorf("changes %q, want %q", changed, wantChanged)
	}
}
