package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	ctyyaml "github.com/zclconf/go-cty-yaml"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/state"
)

// maxMetricsFile bounds a metrics file (metrics = [...]) that is read.
const maxMetricsFile = 16 << 20

// ReadMetricsFile reads a JSON or YAML metrics file (SPEC §8: metrics =
// ["eval/metrics.json"]): every number in it, nested keys joined with "."
// ({"avg_prec": {"test": 0.9}} is avg_prec.test). YAML is read for .yaml
// and .yml, JSON otherwise. Strings, booleans and lists are not metrics
// and are left out.
func ReadMetricsFile(p string) (map[string]float64, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	if fi.Size() > maxMetricsFile {
		return nil, fmt.Errorf("%s is larger than %d MiB", p, maxMetricsFile>>20)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	isYAML := strings.ToLower(path.Ext(p)) == ".yaml" || strings.ToLower(path.Ext(p)) == ".yml"
	if err := lang.CheckDataNesting(data, isYAML); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if isYAML {
		ty, err := ctyyaml.ImpliedType(data)
		if err != nil {
			return nil, fmt.Errorf("read %s as YAML: %w", p, err)
		}
		v, err := ctyyaml.Unmarshal(data, ty)
		if err != nil {
			return nil, fmt.Errorf("read %s as YAML: %w", p, err)
		}
		if data, err = ctyjson.Marshal(v, v.Type()); err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read %s as JSON: %w", p, err)
	}
	out := map[string]float64{}
	flattenMetrics("", doc, out)
	return out, nil
}

func flattenMetrics(prefix string, v any, out map[string]float64) {
	switch v := v.(type) {
	case json.Number:
		if f, err := v.Float64(); err == nil && prefix != "" && !math.IsInf(f, 0) {
			out[prefix] = f
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flattenMetrics(name, v[k], out)
		}
	}
}

// readMetricsFiles records the numbers of run's metrics files (among its
// collected outputs in outs) as its metrics, over those of its metrics
// file of the same names. A file that is missing or unreadable is
// reported, not a failure: the outputs are what they are.
func (r *Runtime) readMetricsFiles(run *state.Run, outs string) {
	for _, name := range run.Inputs.MetricsFiles {
		warn := func(msg string) {
			r.emit(Event{Type: Warning, Address: run.Address, RunID: run.ID, Message: "metrics file " + name + ": " + msg})
		}
		p := filepath.Join(outs, filepath.FromSlash(name))
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				warn("not among the run's outputs (write it to $TRAINRUN_OUTPUTS_DIR, or list it in outputs)")
			} else {
				warn(err.Error())
			}
			continue
		}
		if root, err := filepath.EvalSymlinks(outs); err != nil || !strings.HasPrefix(real, root+string(filepath.Separator)) {
			warn("it leads out of the run's outputs; not read")
			continue
		}
		values, err := ReadMetricsFile(real)
		if err != nil {
			warn(err.Error())
			continue
		}
		if run.Metrics == nil && len(values) > 0 {
			run.Metrics = make(map[string]state.Metric, len(values))
		}
		now := time.Now().UTC()
		for k, v := range values {
			run.Metrics[k] = state.Metric{Value: v, Time: now}
		}
	}
}
