package planner_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

const ashaConfig = `
compute "local" "here" {}
experiment "train" {
  compute    = compute.here
  source_dir = "src"
  command    = ["python3", "train.py"]
  objective {
    metric = "val_loss"
    goal   = "minimize"
  }
  sweep {
    grid = { q = [1, 2, 3, 4, 5, 6] }
    asha {
      budget     = "epochs"
      min_budget = 1
      max_budget = 9
    }
  }
}
`

func rungAddr(epochs, q string) string {
	return `experiment.train["epochs=` + epochs + `,q=` + q + `"]`
}

// recordRung records a run for each named action of pl as apply would: q
// is its val_loss, status its end, and from the run it was promoted from.
func recordRung(t *testing.T, p *project, pl *planner.Plan, status providers.State, addrs ...string) map[string]*state.Run {
	t.Helper()
	st, err := state.Open(p.dataDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Lock(state.Holder{Command: "test"}); err != nil {
		t.Fatal(err)
	}
	defer st.Unlock()
	out := map[string]*state.Run{}
	for _, addr := range addrs {
		a := action(t, pl, addr)
		p.now = p.now.Add(time.Second)
		var q float64
		if err := json.Unmarshal(a.Instance.Params["q"], &q); err != nil {
			t.Fatal(err)
		}
		r := &state.Run{ID: state.NewRunID(), Address: addr, Experiment: "train", Fingerprint: a.Fingerprint, Inputs: a.Inputs,
			Compute: "here", Settings: a.Settings, Status: status, Attempts: 1, CreatedAt: p.now, StartedAt: &p.now, FinishedAt: &p.now,
			Metrics: map[string]state.Metric{"val_loss": {Value: q}}}
		if status != providers.Succeeded {
			r.Metrics = nil
		}
		if a.Promotion != nil {
			r.PromotedFrom, r.Promotion = a.Promotion.Run, a.Promotion.Reason
		}
		if err := st.Put(r); err != nil {
			t.Fatal(err)
		}
		out[addr] = r
	}
	return out
}

func decisions(pl *planner.Plan) string {
	var b strings.Builder
	for _, a := range pl.Actions {
		b.WriteString(a.Address + " " + a.Action + ": " + strings.Join(a.Reasons, "; "))
		if a.AwaitsPromotion != nil {
			b.WriteString(" [from " + a.AwaitsPromotion.From + "]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestHalvingPlan: promotions are a pure function of the recorded runs. A
// sweep interrupted halfway is planned on from what was recorded: what is
// due is promoted, what was promoted stays, what cannot be promoted any
// more is not, and the rest waits for apply.
func TestHalvingPlan(t *testing.T) {
	p := newProject(t, map[string]string{"trainrun.hcl": ashaConfig, "src/train.py": "print(1)\n"})
	pl := p.plan(planner.Options{})
	if s := pl.Summary(); s[planner.Submit] != 6 || s[planner.Pending] != 12 {
		t.Fatalf("first plan: %v\n%s", s, decisions(pl))
	}
	if a := action(t, pl, rungAddr("3", "2")); a.AwaitsPromotion == nil || a.AwaitsPromotion.From != rungAddr("1", "2") ||
		a.Reasons[0] != "awaits promotion: the best 1/3 of epochs=1 go on to epochs=3" {
		t.Errorf("rung 1: %s %q %+v", a.Action, a.Reasons, a.AwaitsPromotion)
	}

	// Interrupted after three runs of the first rung.
	first := recordRung(t, p, pl, providers.Succeeded, rungAddr("1", "1"), rungAddr("1", "2"), rungAddr("1", "3"))
	pl = p.plan(planner.Options{})
	a := action(t, pl, rungAddr("3", "1"))
	if a.Action != planner.Submit || a.Reasons[0] != "promoted: val_loss 1, 1st of 3 at epochs=1: in the best 1" ||
		a.Promotion == nil || a.Promotion.Run != first[rungAddr("1", "1")].ID {
		t.Errorf("q=1 at epochs=3: %s %q %+v", a.Action, a.Reasons, a.Promotion)
	}
	for _, q := range []string{"2", "3", "4"} {
		if a := action(t, pl, rungAddr("3", q)); a.AwaitsPromotion == nil || a.Action != planner.Pending {
			t.Errorf("q=%s at epochs=3 should wait, the rung below is not complete: %s %q", q, a.Action, a.Reasons)
		}
	}
	again := p.plan(planner.Options{})
	if decisions(again) != decisions(pl) {
		t.Errorf("a second plan decided otherwise:\n%s\nthe first:\n%s", decisions(again), decisions(pl))
	}

	// The promoted run and the rest of the first rung ran (one failed).
	recordRung(t, p, pl, providers.Succeeded, rungAddr("3", "1"), rungAddr("1", "4"), rungAddr("1", "5"))
	recordRung(t, p, pl, providers.Failed, rungAddr("1", "6"))
	pl = p.plan(planner.Options{})
	want := map[string]string{
		rungAddr("1", "6"): "submit: last run failed",
		rungAddr("3", "1"): "no-op: up to date",
		rungAddr("9", "1"): "pending: awaits promotion",
	}
	for addr, w := range want {
		a := action(t, pl, addr)
		if got := a.Action + ": " + strings.Join(a.Reasons, "; "); !strings.HasPrefix(got, w) {
			t.Errorf("%s: %s, want %s", addr, got, w)
		}
	}
	// The failed run runs again, so the rung is not complete: q=2, not in
	// the best ⌊5/3⌋ of the 5 runs that stay, waits for it.
	if a := action(t, pl, rungAddr("3", "2")); a.AwaitsPromotion == nil {
		t.Errorf("q=2 at epochs=3: %s %q", a.Action, a.Reasons)
	}

	// It succeeds: the rung is complete with 6 runs, the best 2 go on,
	// the others are not promoted, nor above.
	recordRung(t, p, pl, providers.Succeeded, rungAddr("1", "6"))
	pl = p.plan(planner.Options{})
	want = map[string]string{
		rungAddr("3", "1"): "no-op: up to date",
		rungAddr("3", "2"): "submit: promoted: val_loss 2, 2nd of 6 at epochs=1: in the best 2",
		rungAddr("3", "3"): "no-op: not promoted: val_loss 3, 3rd of 6 at epochs=1: not in the best 2",
		rungAddr("3", "6"): "no-op: not promoted: val_loss 6, 6th of 6 at epochs=1: not in the best 2",
		rungAddr("9", "1"): "pending: awaits promotion: the best 1/3 of epochs=3 go on to epochs=9",
		rungAddr("9", "3"): "no-op: not promoted: no run at epochs=3",
	}
	for addr, w := range want {
		a := action(t, pl, addr)
		if got := a.Action + ": " + strings.Join(a.Reasons, "; "); got != w {
			t.Errorf("%s: %s\nwant %s", addr, got, w)
		}
	}
}
