package lang

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/trainrun/trainrun/policy"
)

func policyConfig(body string) map[string]string {
	return one(fmt.Sprintf(`
variable "delay" { default = 5 }
compute "local" "laptop" {}
experiment "train" {
  compute = compute.laptop
  command = ["python3", "train.py"]
  outputs = ["checkpoint/"]
%s
}
`, body))
}

func TestObjectiveAndEarlyStopping(t *testing.T) {
	cfg := mustLoad(t, policyConfig(`
  objective {
    metric = "val_acc"
    goal   = "maximize"
    goals  = { val_loss = "minimize" }
  }
  sweep {
    grid = { lr = [0.1, 0.01] }
    early_stopping {
      policy           = "median"
      metric           = "val_loss"
      delay_evaluation = var.delay
    }
  }`), testOptions())
	exp := cfg.Experiments["train"]
	o := exp.Objective
	if o == nil || o.Metric != "val_acc" || o.Goal != policy.Maximize ||
		!maps.Equal(o.Goals, map[string]policy.Goal{"val_acc": policy.Maximize, "val_loss": policy.Minimize}) {
		t.Errorf("objective %+v", o)
	}
	want := policy.Stopping{Policy: policy.Median, Metric: "val_loss", Goal: policy.Minimize, EvaluationInterval: 1, DelayEvaluation: 5}
	if exp.EarlyStopping == nil || *exp.EarlyStopping != want {
		t.Errorf("early stopping %+v, want %+v", exp.EarlyStopping, want)
	}
	if exp.Halving != nil || len(exp.Instances) != 2 || exp.Instances[0].Point != "" {
		t.Errorf("halving %+v, instances %d", exp.Halving, len(exp.Instances))
	}

	// The metric and goal default to the objective's.
	cfg = mustLoad(t, policyConfig(`
  objective {
    metric = "val_loss"
    goal   = "minimize"
  }
  sweep {
    grid = { lr = [0.1, 0.01] }
    early_stopping {
      policy                = "truncation"
      truncation_percentage = 20
      evaluation_interval   = 2
    }
  }`), testOptions())
	want = policy.Stopping{Policy: policy.Truncation, Metric: "val_loss", Goal: policy.Minimize, EvaluationInterval: 2, TruncationPercentage: 20}
	if got := cfg.Experiments["train"].EarlyStopping; *got != want {
		t.Errorf("early stopping %+v, want %+v", got, want)
	}
}

func TestASHAInstances(t *testing.T) {
	cfg := mustLoad(t, policyConfig(`
  objective {
    metric = "val_loss"
    goal   = "minimize"
  }
  sweep {
    grid = { lr = [0.1, 0.01] }
    asha {
      budget      = "epochs"
      min_budget  = 1
      max_budget  = 9
      eta         = 3
      resume_from = "checkpoint/"
    }
  }`), testOptions())
	exp := cfg.Experiments["train"]
	h := exp.Halving
	if h == nil || h.Param != "epochs" || !slices.Equal(h.Budgets, []float64{1, 3, 9}) || h.Eta != 3 ||
		h.Metric != "val_loss" || h.Goal != policy.Minimize || h.ResumeFrom != "checkpoint/" {
		t.Fatalf("halving %+v", h)
	}
	if got := h.RungName(1); got != "epochs=3" {
		t.Errorf("RungName(1) = %q", got)
	}
	var got []string
	for _, in := range exp.Instances {
		got = append(got, fmt.Sprintf("%s rung=%d point=%s epochs=%s deps=%v", in.Address, in.Rung, in.Point, in.Params["epochs"], in.DependsOn))
	}
	want := []string{
		`experiment.train["epochs=1,lr=0.01"] rung=0 point=lr=0.01 epochs=1 deps=[]`,
		`experiment.train["epochs=1,lr=0.1"] rung=0 point=lr=0.1 epochs=1 deps=[]`,
		`experiment.train["epochs=3,lr=0.01"] rung=1 point=lr=0.01 epochs=3 deps=[experiment.train["epochs=1,lr=0.01"]]`,
		`experiment.train["epochs=3,lr=0.1"] rung=1 point=lr=0.1 epochs=3 deps=[experiment.train["epochs=1,lr=0.1"]]`,
		`experiment.train["epochs=9,lr=0.01"] rung=2 point=lr=0.01 epochs=9 deps=[experiment.train["epochs=3,lr=0.01"]]`,
		`experiment.train["epochs=9,lr=0.1"] rung=2 point=lr=0.1 epochs=9 deps=[experiment.train["epochs=3,lr=0.1"]]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("instances:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Without resume_from the rungs do not depend on each other.
	cfg = mustLoad(t, policyConfig(`
  sweep {
    random {
      count = 3
      lr    = loguniform(1e-4, 1e-1)
    }
    asha {
      budget     = "epochs"
      min_budget = 1
      max_budget = 4
      eta        = 2
      metric     = "acc"
      goal       = "maximize"
    }
  }`), testOptions())
	exp = cfg.Experiments["train"]
	if n := len(exp.Instances); n != 9 {
		t.Errorf("%d instances, want 3 points × 3 rungs", n)
	}
	for _, in := range exp.Instances {
		if len(in.DependsOn) != 0 || !strings.HasPrefix(in.Point, "lr=") || strings.Contains(in.Point, "epochs") {
			t.Errorf("%s: point %q deps %v", in.Address, in.Point, in.DependsOn)
		}
	}
}

func TestSweepPolicyErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown policy", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy = "medain"
      metric = "loss"
      goal   = "minimize"
    }
  }`, `There is no policy "medain". Did you mean "median"?`},
		{"no metric", `sweep {
    grid = { lr = [1] }
    early_stopping { policy = "median" }
  }`, "early_stopping needs the metric it ranks runs by"},
		{"no goal", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy = "median"
      metric = "loss"
    }
  }`, "early_stopping needs to know whether loss should go down or up"},
		{"bad goal", `objective {
    metric = "loss"
    goal   = "lower"
  }`, `goal must be "minimize" or "maximize", not "lower"`},
		{"conflicting goal", `objective {
    metric = "loss"
    goal   = "minimize"
  }
  sweep {
    grid = { lr = [1] }
    early_stopping {
      policy = "median"
      goal   = "maximize"
    }
  }`, "The objective declares loss's goal as minimize"},
		{"bandit without slack", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy = "bandit"
      metric = "loss"
      goal   = "minimize"
    }
  }`, "add slack_factor = 0.1"},
		{"two slacks", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy       = "bandit"
      metric       = "loss"
      goal         = "minimize"
      slack_factor = 0.1
      slack_amount = 0.1
    }
  }`, "not both"},
		{"setting of another policy", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy       = "median"
      metric       = "loss"
      goal         = "minimize"
      slack_factor = 0.1
    }
  }`, "slack_factor is a setting of the bandit policy"},
		{"truncation out of range", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy                = "truncation"
      metric                = "loss"
      goal                  = "minimize"
      truncation_percentage = 100
    }
  }`, "truncation_percentage must be a percentage between 1 and 99"},
		{"zero interval", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy              = "median"
      metric              = "loss"
      goal                = "minimize"
      evaluation_interval = 0
    }
  }`, "evaluation_interval must be a number of steps above 0"},
		{"both methods", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy = "median"
      metric = "loss"
      goal   = "minimize"
    }
    asha {
      budget     = "epochs"
      min_budget = 1
      max_budget = 9
      metric     = "loss"
      goal       = "minimize"
    }
  }`, "Successive halving stops points itself"},
		{"budget swept twice", `sweep {
    grid = { epochs = [1, 2] }
    asha {
      budget     = "epochs"
      min_budget = 1
      max_budget = 9
      metric     = "loss"
      goal       = "minimize"
    }
  }`, "epochs is the budget of asha"},
		{"max below min", `sweep {
    grid = { lr = [1] }
    asha {
      budget     = "epochs"
      min_budget = 10
      max_budget = 9
      metric     = "loss"
      goal       = "minimize"
    }
  }`, "max_budget (9) is below min_budget (10)"},
		{"eta 1", `sweep {
    grid = { lr = [1] }
    asha {
      budget     = "epochs"
      min_budget = 1
      max_budget = 9
      eta        = 1
      metric     = "loss"
      goal       = "minimize"
    }
  }`, "eta must be a whole number of at least 2"},
		{"resume_from not collected", `sweep {
    grid = { lr = [1] }
    asha {
      budget      = "epochs"
      min_budget  = 1
      max_budget  = 9
      metric      = "loss"
      goal        = "minimize"
      resume_from = "ckpt/"
    }
  }`, `which outputs does not collect`},
		{"resume_from escapes", `sweep {
    grid = { lr = [1] }
    asha {
      budget      = "epochs"
      min_budget  = 1
      max_budget  = 9
      metric      = "loss"
      goal        = "minimize"
      resume_from = "../x"
    }
  }`, `escapes the working directory`},
		{"duplicate early_stopping", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy = "median"
      metric = "loss"
      goal   = "minimize"
    }
    early_stopping {
      policy = "median"
      metric = "loss"
      goal   = "minimize"
    }
  }`, "Duplicate early_stopping block"},
		{"param in policy", `sweep {
    grid = { lr = [1] }
    early_stopping {
      policy = "median"
      metric = param.lr
      goal   = "minimize"
    }
  }`, "params and sweep cannot refer to param"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := loadErrors(t, policyConfig(tt.body), testOptions())
			if out := renderDiags(cfg, diags); !strings.Contains(out, tt.want) {
				t.Errorf("diagnostics do not say %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestSweepPolicyJSON: the blocks work in HCL's JSON syntax.
func TestSweepPolicyJSON(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"x.trainrun.json": `{
  "compute": {"local": {"laptop": {}}},
  "experiment": {"train": {
    "compute": "compute.laptop",
    "command": ["true"],
    "objective": {"metric": "acc", "goal": "maximize"},
    "sweep": {
      "grid": {"lr": [0.1, 0.2]},
      "early_stopping": {"policy": "bandit", "slack_amount": 0.05}
    }
  }}
}`}, testOptions())
	es := cfg.Experiments["train"].EarlyStopping
	if es == nil || es.Policy != policy.Bandit || es.SlackAmount != 0.05 || es.Metric != "acc" || es.Goal != policy.Maximize {
		t.Errorf("early stopping %+v", es)
	}
}
