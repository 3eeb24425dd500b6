// Command benchproject builds a project with many recorded runs, fast, for
// scripts/bench.sh: it writes the records directly instead of running
// anything, so that a project with 100,000 runs takes seconds to make.
//
//	benchproject [-instances N] [-runs M] DIR
//
// DIR gets a trainrun.hcl with a sweep of N trivial local instances (N a
// multiple of 100) and
// M recorded succeeded runs: M/N per instance, the newest of each with the
// fingerprint the configuration has now, so that `trainrun plan` is a
// no-op. The runs' directories are not created.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/envs"
	"github.com/trainrun/trainrun/providers/local"
	"github.com/trainrun/trainrun/state"
)

func main() {
	instances := flag.Int("instances", 10_000, "instances of the sweep")
	runs := flag.Int("runs", 10_000, "runs to record in all")
	flag.Parse()
	if flag.NArg() != 1 || *instances <= 0 || *instances%100 != 0 || *runs < *instances {
		fmt.Fprintln(os.Stderr, "usage: benchproject [-instances N (a multiple of 100)] [-runs M≥N] DIR")
		os.Exit(2)
	}
	if err := build(flag.Arg(0), *instances, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "benchproject:", err)
		os.Exit(1)
	}
}

func build(dir string, instances, runs int) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "run.sh"), []byte("echo \"$1\" > /dev/null\n"), 0o644); err != nil {
		return err
	}
	hcl := fmt.Sprintf(`compute "local" "here" {
  max_runs = 2
}
experiment "trivial" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", param.i, param.j]
  sweep {
    grid = { i = range(%d), j = range(%d) }
  }
}
`, instances/100, 100)
	if err := os.WriteFile(filepath.Join(dir, "trainrun.hcl"), []byte(hcl), 0o644); err != nil {
		return err
	}
	reg := &providers.Registry{Computes: map[string]providers.ComputeKind{"local": local.Kind()}, Environments: envs.Kinds()}
	cfg, diags := lang.Load(dir, lang.Options{Getenv: func(string) string { return "" }, Registry: reg})
	if diags.HasErrors() {
		return diags
	}
	data := filepath.Join(dir, ".trainrun")
	st, err := state.Open(data)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := planner.Build(context.Background(), cfg, st, planner.Options{DataDir: data})
	if err != nil {
		return err
	}
	if err := st.Lock(state.Holder{Command: "benchproject"}); err != nil {
		return err
	}
	rounds := runs / instances
	extra := runs % instances // the first ones get one run more
	start := time.Now().Add(-time.Duration(runs) * time.Second)
	n := 0
	batch := make([]*state.Run, 0, 1000)
	for round := 0; ; round++ {
		for i, a := range p.Actions {
			k := rounds
			if i < extra {
				k++
			}
			if round >= k {
				continue
			}
			r := record(a, data, start.Add(time.Duration(n)*time.Second))
			if round < k-1 { // an older run, of a different fingerprint
				r.Fingerprint = fmt.Sprintf("%064x", n+1)
			}
			batch = append(batch, r)
			n++
			if len(batch) == cap(batch) {
				if err := st.Put(batch...); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if n >= runs {
			break
		}
	}
	if err := st.Put(batch...); err != nil {
		return err
	}
	return st.Close()
}

// record is a succeeded run of a as trainrun records a trivial local run.
func record(a *planner.Action, data string, created time.Time) *state.Run {
	id := state.NewRunID()
	exit := 0
	started, finished := created.Add(9*time.Millisecond), created.Add(110*time.Millisecond)
	params := make(map[string]json.RawMessage, len(a.Instance.Params))
	for k, v := range a.Inputs.Params {
		params[k] = v
	}
	return &state.Run{
		ID:          id,
		Address:     a.Address,
		Experiment:  a.Instance.Experiment,
		Fingerprint: a.Fingerprint,
		Inputs:      a.Inputs,
		Compute:     a.Settings.Compute,
		Params:      params,
		Settings:    a.Settings,
		Status:      providers.Succeeded,
		ExitCode:    &exit,
		Attempts:    1,
		Handle: &providers.Handle{Compute: a.Settings.Compute, Kind: "local", ID: strconv.Itoa(10000 + int(created.UnixNano()%50000)),
			Dir: filepath.Join(data, "local", a.Settings.Compute, "runs", id), StartedAt: started, StartTicks: "33198"},
		CreatedAt:  created.UTC(),
		StartedAt:  &started,
		FinishedAt: &finished,
		Dir:        filepath.Join(data, "runs", id),
		Outputs:    planner.EmptyOutputs,
	}
}
