package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/slurmtest"
	"github.com/trainrun/trainrun/internal/sshtest"
)

// Sweeps that stop what is losing, on the computes beside the local one
// (testdata/script/early_stopping.txtar and asha.txtar run it locally):
// the policy reads the metrics a run writes while it runs — streamed back
// over SSH, read from Slurm's shared workdir.

// stoppingScript: the good point reports a loss of 1 at steps 1 to 5 and
// ends; the bad ones report 2 at every step for up to 30 seconds. The
// policy stops them once it has seen the good one's values, much sooner.
const stoppingScript = `m="$TRAINRUN_METRICS_FILE"
if [ "$TRAINRUN_PARAM_Q" = good ]; then
  for i in 1 2 3 4 5; do echo "{\"name\":\"val_loss\",\"value\":1,\"step\":$i}" >> "$m"; done
  exit 0
fi
i=1
while [ $i -le 300 ]; do
  echo "{\"name\":\"val_loss\",\"value\":2,\"step\":$i}" >> "$m"
  i=$((i+1))
  sleep 0.1
done
`

func stoppingConfig(compute, name string) string {
	return compute + `
experiment "train" {
  compute    = compute.` + name + `
  source_dir = "src"
  command    = ["sh", "train.sh"]
  objective {
    metric = "val_loss"
    goal   = "minimize"
  }
  sweep {
    grid = { q = ["good", "bad1", "bad2"] }
    early_stopping {
      policy           = "bandit"
      slack_factor     = 0.1
      delay_evaluation = 2
    }
  }
}
`
}

// ashaScript trains to $TRAINRUN_PARAM_EPOCHS from its checkpoint, if it
// has one: val_loss = q + 1/epoch.
const ashaScript = `start=0
[ -f checkpoint/epoch ] && start=$(cat checkpoint/epoch)
mkdir -p checkpoint
e=$start
while [ "$e" -lt "$TRAINRUN_PARAM_EPOCHS" ]; do
  e=$((e+1))
  v=$(awk "BEGIN{print $TRAINRUN_PARAM_Q + 1.0/$e}")
  echo "{\"name\":\"val_loss\",\"value\":$v,\"step\":$e}" >> "$TRAINRUN_METRICS_FILE"
  echo "$e" > checkpoint/epoch
done
echo "trained from epoch $start to $e"
`

func ashaConfig(compute, name string) string {
	return compute + `
experiment "train" {
  compute    = compute.` + name + `
  source_dir = "src"
  command    = ["sh", "train.sh"]
  outputs    = ["checkpoint/"]
  objective {
    metric = "val_loss"
    goal   = "minimize"
  }
  sweep {
    grid = { q = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] }
    asha {
      budget      = "epochs"
      min_budget  = 1
      max_budget  = 3
      eta         = 3
      resume_from = "checkpoint/"
    }
  }
}
`
}

type sweepStatus struct {
	Address string             `json:"address"`
	ID      string             `json:"id"`
	Status  string             `json:"status"`
	Reason  string             `json:"reason"`
	Metrics map[string]float64 `json:"metrics"`
}

func sweepStatuses(t *testing.T, p *project, env []string) map[string]sweepStatus {
	t.Helper()
	res := p.must(0, env, "status", "-json")
	var list []sweepStatus
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
		t.Fatalf("status -json: %v\n%s", err, res.stdout)
	}
	out := map[string]sweepStatus{}
	for _, s := range list {
		out[s.Address] = s
	}
	return out
}

// checkStopped: the good point succeeded; the bad ones were stopped by the
// bandit, long before they would have ended.
func checkStopped(t *testing.T, p *project, env []string, res result, took time.Duration) {
	t.Helper()
	if !strings.Contains(res.stdout, "Apply complete: 1 succeeded, 0 failed, 0 cancelled, 2 stopped early.") {
		t.Errorf("apply:\n%s", res)
	}
	st := sweepStatuses(t, p, env)
	if s := st[`experiment.train["q=good"]`]; s.Status != "succeeded" || s.Metrics["val_loss"] != 1 {
		t.Errorf("good: %+v", s)
	}
	// Of 2 runs when the other bad one had not reported yet (a job of the
	// array that started later).
	reason := regexp.MustCompile(`^bandit at step \d+: val_loss 2 worse than 1\.1, the best 1 of [23] runs with slack_factor 0\.1$`)
	for _, q := range []string{"bad1", "bad2"} {
		if s := st[`experiment.train["q=`+q+`"]`]; s.Status != "stopped" || !reason.MatchString(s.Reason) {
			t.Errorf("%s: %+v", q, s)
		}
	}
	if took > 25*time.Second {
		t.Errorf("the apply took %v: the bad points ran to their end", took)
	}
	p.must(0, env, "plan", "-detailed-exitcode")
}

// checkHalving: 6 points at 1 epoch, the best 2 on to 3 epochs from their
// checkpoints; the rest not promoted; a re-plan changes nothing.
//
// With anyOrder, the points end in no particular order (a Slurm array's
// tasks), and asynchronous promotion may also have promoted a point that
// was the best of the first three or more to end (q=0.3, even q=0.4: the
// best of 0.4, 0.5 and 0.6): only what ASHA guarantees is checked then.
// q=0.5 and q=0.6 can never be promoted.
func checkHalving(t *testing.T, p *project, env []string, res result, anyOrder bool) {
	t.Helper()
	st := sweepStatuses(t, p, env)
	promoted := 0
	for _, q := range []string{"0.1", "0.2", "0.3", "0.4", "0.5", "0.6"} {
		addr := `experiment.train["epochs=3,q=` + q + `"]`
		s, ran := st[addr]
		must := q == "0.1" || q == "0.2"
		may := must || anyOrder && (q == "0.3" || q == "0.4")
		switch {
		case ran && !may:
			t.Errorf("q=%s promoted: %+v", q, s)
		case !ran && must:
			t.Errorf("q=%s not promoted", q)
		case ran:
			promoted++
			if s.Status != "succeeded" {
				t.Errorf("%s: %+v", addr, s)
			}
			if logs := p.must(0, env, "logs", addr); !strings.Contains(logs.stdout, "trained from epoch 1 to 3") {
				t.Errorf("%s did not resume from its checkpoint: %s", addr, logs.stdout)
			}
		}
	}
	if want := fmt.Sprintf("Apply complete: %d succeeded, 0 failed, 0 cancelled, %d not promoted.", 6+promoted, 6-promoted); !strings.Contains(res.stdout, want) {
		t.Errorf("apply (want %q):\n%s", want, res)
	}
	p.must(0, env, "plan", "-detailed-exitcode")
}

func TestSSHEarlyStoppingAndHalving(t *testing.T) {
	s := sshServer(t, sshtest.Options{})
	t.Run("early stopping", func(t *testing.T) {
		p := newProject(t, map[string]string{
			"trainrun.hcl": stoppingConfig(sshCompute("box", s, remoteDir(t, s), "  max_runs = 3\n"), "box"),
			"src/train.sh": stoppingScript,
		})
		start := time.Now()
		res := p.must(0, nil, "apply", "-auto-approve")
		checkStopped(t, p, nil, res, time.Since(start))
	})
	t.Run("asha", func(t *testing.T) {
		p := newProject(t, map[string]string{
			"trainrun.hcl": ashaConfig(sshCompute("box", s, remoteDir(t, s), "  max_runs = 2\n"), "box"),
			"src/train.sh": ashaScript,
		})
		checkHalving(t, p, nil, p.must(0, nil, "apply", "-auto-approve"), false)
	})
}

func TestSlurmEarlyStoppingAndHalving(t *testing.T) {
	slurmtest.Start(t)
	const cluster = `compute "slurm" "cluster" {
  workdir = "work"
}
`
	t.Run("early stopping", func(t *testing.T) {
		p, env := slurmProject(t, map[string]string{"trainrun.hcl": stoppingConfig(cluster, "cluster"), "src/train.sh": stoppingScript})
		start := time.Now()
		res := p.must(0, env, "apply", "-auto-approve")
		checkStopped(t, p, env, res, time.Since(start))
	})
	t.Run("asha", func(t *testing.T) {
		p, env := slurmProject(t, map[string]string{"trainrun.hcl": ashaConfig(cluster, "cluster"), "src/train.sh": ashaScript})
		// A job array's tasks end in any order (max_runs = 2 does not
		// help: the two Slurm starts first need not be the grid's first).
		checkHalving(t, p, env, p.must(0, env, "apply", "-auto-approve"), true)
	})
}
