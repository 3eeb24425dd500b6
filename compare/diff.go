package compare

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
	"github.com/trainrun/trainrun/state"
)

// RunDiff is how two runs differ, as `dvc exp diff` shows two
// experiments: their params, what went into their fingerprints, and their
// metrics.
type RunDiff struct {
	A RunRef `json:"a"`
	B RunRef `json:"b"`
	// Params are every param of either run, by name.
	Params []Field `json:"params"`
	// Inputs are what went into the fingerprints and differs: snapshot
	// (with Source: the files that differ, when both snapshots are in the
	// content store), source_dir, command, shell, env NAME, environment,
	// upstream NAME, outputs, sensitive values.
	Inputs []Field `json:"inputs"`
	// Source lists the files that differ between the two snapshots, when
	// both are in the content store and differ.
	Source *snapshot.Change `json:"source,omitempty"`
	// Metrics are every metric of either run, by name.
	Metrics []MetricDiff `json:"metrics"`
}

// RunRef names one of the two runs.
type RunRef struct {
	ID          string          `json:"id"`
	Address     string          `json:"address"`
	Status      providers.State `json:"status"`
	Fingerprint string          `json:"fingerprint"`
}

// Field is one named value of each run; nil where a run has none.
type Field struct {
	Name string  `json:"name"`
	A    *string `json:"a"`
	B    *string `json:"b"`
	Same bool    `json:"same"`
}

// MetricDiff is a metric of each run, and by how much B's differs from
// A's (nil unless both are finite).
type MetricDiff struct {
	Name   string `json:"name"`
	A      *Value `json:"a"`
	B      *Value `json:"b"`
	Change *Value `json:"change"`
}

// Diff compares run a with run b. manifest loads a snapshot's manifest
// from the content store (nil when it is not there); it may be nil.
func Diff(a, b *state.Run, manifest func(id string) *snapshot.Manifest) *RunDiff {
	d := &RunDiff{A: ref(a), B: ref(b), Params: []Field{}, Inputs: []Field{}, Metrics: []MetricDiff{}}
	d.Params = fields(paramStrings(a.Params), paramStrings(b.Params))

	ia, ib := inputsOf(a), inputsOf(b)
	for _, f := range fields(ia, ib) {
		if !f.Same {
			d.Inputs = append(d.Inputs, f)
		}
	}
	if a.Inputs != nil && b.Inputs != nil && a.Inputs.Snapshot != b.Inputs.Snapshot && manifest != nil {
		if ma, mb := manifest(a.Inputs.Snapshot), manifest(b.Inputs.Snapshot); ma != nil && mb != nil {
			if c := snapshot.Diff(ma, mb); !c.Empty() {
				d.Source = &c
			}
		}
	}

	names := map[string]bool{}
	for n := range a.Metrics {
		names[n] = true
	}
	for n := range b.Metrics {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		m := MetricDiff{Name: n}
		if v, ok := a.Metrics[n]; ok {
			m.A = ptr(Value(v.Value))
		}
		if v, ok := b.Metrics[n]; ok {
			m.B = ptr(Value(v.Value))
		}
		if m.A != nil && m.B != nil && !math.IsNaN(float64(*m.A)+float64(*m.B)) && !math.IsInf(float64(*m.A)+float64(*m.B), 0) {
			m.Change = ptr(*m.B - *m.A)
		}
		d.Metrics = append(d.Metrics, m)
	}
	return d
}

func ref(r *state.Run) RunRef {
	return RunRef{ID: r.ID, Address: r.Address, Status: r.Status, Fingerprint: r.Fingerprint}
}

// paramStrings are params as their values read: a string without quotes.
func paramStrings(p map[string]json.RawMessage) map[string]string {
	out := make(map[string]string, len(p))
	for k, raw := range p {
		out[k] = lang.ParamString(raw)
	}
	return out
}

// inputsOf flattens what went into a run's fingerprint into named values.
func inputsOf(r *state.Run) map[string]string {
	out := map[string]string{}
	in := r.Inputs
	if in == nil {
		return out
	}
	out["snapshot"] = in.Snapshot
	out["source_dir"] = in.SourceDir
	if len(in.Command) > 0 {
		out["command"] = strings.Join(in.Command, " ")
	}
	if in.Shell != "" {
		out["shell"] = in.Shell
	}
	for k, v := range in.Env {
		out["env "+k] = v
	}
	out["environment"] = in.Environment
	for k, v := range in.Upstream {
		out["upstream "+k] = strings.Join(v, ", ")
	}
	if len(in.Outputs) > 0 {
		out["outputs"] = strings.Join(in.Outputs, ", ")
	}
	if in.SecretsHash != "" {
		out["sensitive values"] = in.SecretsHash // compared, never shown
	}
	return out
}

// fields pairs the values of a and b by name, sorted by name.
func fields(a, b map[string]string) []Field {
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	out := []Field{}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		f := Field{Name: n}
		if v, ok := a[n]; ok {
			f.A = ptr(v)
		}
		if v, ok := b[n]; ok {
			f.B = ptr(v)
		}
		f.Same = f.A != nil && f.B != nil && *f.A == *f.B
		out = append(out, f)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
