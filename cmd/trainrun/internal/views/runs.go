package views

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trainrun/trainrun/compare"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/internal/runtext"
	"github.com/trainrun/trainrun/internal/sparkline"
	"github.com/trainrun/trainrun/internal/termtext"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/envs"
	"github.com/trainrun/trainrun/state"
)

// RunRecord is a run as status -json and runs -json print it (SPEC §6).
type RunRecord struct {
	ID          string                     `json:"id"`
	Address     string                     `json:"address"`
	Experiment  string                     `json:"experiment"`
	Status      providers.State            `json:"status"`
	ExitCode    *int                       `json:"exit_code"`
	Reason      string                     `json:"reason,omitempty"`
	Fingerprint string                     `json:"fingerprint"`
	Compute     string                     `json:"compute"`
	Environment string                     `json:"environment,omitempty"`
	Params      map[string]json.RawMessage `json:"params"`
	Metrics     map[string]compare.Value   `json:"metrics"` // NaN, ±Inf as "NaN", "+Inf", "-Inf"
	Attempts    int                        `json:"attempts"`
	CreatedAt   time.Time                  `json:"created_at"`
	StartedAt   *time.Time                 `json:"started_at"`
	FinishedAt  *time.Time                 `json:"finished_at"`
	RunningAt   *time.Time                 `json:"running_at,omitempty"`
	// Duration is the run's own running time and Queued the time its
	// last attempt waited before its process started, in seconds.
	Duration *float64 `json:"duration_s,omitempty"`
	Queued   float64  `json:"queued_s,omitempty"`
	Dir      string   `json:"dir,omitempty"`
	// Uncollected: the run ended while no apply followed it; its end and
	// metrics are what its compute says, its results not collected yet.
	Uncollected bool   `json:"uncollected,omitempty"`
	ReproOf     string `json:"repro_of,omitempty"`
	CachedFrom  string `json:"cached_from,omitempty"`
	// User and Host created the run.
	User string `json:"user,omitempty"`
	Host string `json:"host,omitempty"`
	// NotInConfig marks, in status -all, an instance that is no longer
	// in the configuration.
	NotInConfig bool `json:"not_in_config,omitempty"`
}

// Record is run as status -json and runs -json print it.
func Record(r *state.Run) RunRecord {
	j := RunRecord{ID: r.ID, Address: r.Address, Experiment: r.Experiment, Status: r.Status, ExitCode: r.ExitCode,
		Reason: r.Reason, Fingerprint: r.Fingerprint, Compute: r.Compute, Environment: r.Environment,
		Params: r.Params, Metrics: map[string]compare.Value{}, Attempts: r.Attempts, CreatedAt: r.CreatedAt,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, RunningAt: r.RunningAt,
		Dir: r.Dir, Uncollected: r.Uncollected, ReproOf: r.ReproOf, CachedFrom: r.CachedFrom,
		User: r.User, Host: r.Host}
	j.Duration, j.Queued = RunTimes(r)
	if j.Params == nil {
		j.Params = map[string]json.RawMessage{}
	}
	j.Metrics = MetricsJSON(r.Metrics)
	return j
}

// MetricsJSON are metrics as -json prints them.
func MetricsJSON(m map[string]state.Metric) map[string]compare.Value {
	out := make(map[string]compare.Value, len(m))
	for k, v := range m {
		out[k] = compare.Value(v.Value)
	}
	return out
}

// JSON prints v as indented JSON.
func JSON(w io.Writer, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintf(w, "%s\n", b)
}

// NotCollected is what a run that ended while no apply followed it waits
// for.
const NotCollected = "finished, results not collected yet: run trainrun apply"

// NoteUncollected explains ", not collected" under a table that shows it.
func NoteUncollected(w io.Writer, runs []*state.Run) {
	if slices.ContainsFunc(runs, func(r *state.Run) bool { return r != nil && r.Uncollected }) {
		fmt.Fprintln(w, "not collected: "+NotCollected+".")
	}
}

// RunTimes are the run's running and queue times in seconds, for -json.
func RunTimes(r *state.Run) (*float64, float64) {
	d, ok := r.RunTime(time.Now())
	if !ok {
		return nil, r.QueueTime().Seconds()
	}
	return ptrTo(d.Seconds()), r.QueueTime().Seconds()
}

func ptrTo[T any](v T) *T { return &v }

// RunsTable lists runs as the runs command does, one line each.
func RunsTable(w io.Writer, runs []*state.Run) {
	notes := false
	for _, r := range runs {
		notes = notes || runtext.Note(r) != ""
	}
	out := bufio.NewWriter(w) // tabwriter writes each cell apart
	defer out.Flush()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	head := "RUN\tADDRESS\tSTATUS\tCREATED\tDURATION\tATTEMPTS"
	by := runtext.ManyBy(runs) // a team's record: who created each
	if by {
		head += "\tBY"
	}
	if notes {
		head += "\tNOTE"
	}
	fmt.Fprintln(tw, head)
	for _, r := range runs {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d", r.ID, termtext.Escape(r.Address), runtext.Status(r), r.CreatedAt.Local().Format("2006-01-02 15:04:05"), runtext.Duration(r), r.Attempts)
		if by {
			line += "\t" + termtext.Escape(cmp.Or(runtext.By(r), "-"))
		}
		if notes {
			line += "\t" + termtext.Escape(runtext.Note(r))
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	NoteUncollected(out, runs)
}

// RunDetails is what show says of a run beyond its record.
type RunDetails struct {
	Run         *state.Run
	Lock        string            // its environment's resolved packages
	AllPackages bool              // list them all (show -lock)
	Spec        providers.EnvSpec // its environment's, as recorded (the interpreter)
	Metrics     map[string]state.Metric
	Curves      map[string][]float64 // each metric's values in order
	Outputs     []string             // the files of its outputs/
}

// Run shows a run for a person, as show does.
func Run(w io.Writer, d RunDetails) {
	run, spec, lock := d.Run, d.Spec, d.Lock
	fmt.Fprintf(w, "Run %s\n", run.ID)
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-12s %s\n", k+":", termtext.Escape(v))
		}
	}
	field("address", run.Address)
	field("status", runtext.Status(run))
	field("reason", run.Reason)
	for _, warning := range run.Warnings {
		field("warning", warning)
	}
	field("fingerprint", run.Fingerprint)
	field("compute", run.Compute)
	env := run.Environment
	if env == "" {
		env = "host (default)"
	}
	field("environment", env)
	field("attempts", strconv.Itoa(run.Attempts))
	field("created by", runtext.By(run))
	field("created", run.CreatedAt.Local().Format(time.RFC3339))
	if run.StartedAt != nil {
		field("started", run.StartedAt.Local().Format(time.RFC3339))
	}
	if run.RunningAt != nil {
		field("running", run.RunningAt.Local().Format(time.RFC3339))
	}
	if run.FinishedAt != nil {
		field("finished", run.FinishedAt.Local().Format(time.RFC3339))
		field("duration", runtext.Duration(run))
	}
	field("queued", runtext.Queued(run))
	if run.Git != nil {
		dirty := ""
		if run.Git.Dirty {
			dirty = " (dirty)"
		}
		field("git", run.Git.Commit+dirty)
	}
	if h := run.Handle; h != nil {
		where := h.Dir
		if h.Host != "" {
			where = h.Host + ":" + h.Dir // as scp names it
		}
		if run.Cleaned {
			where += " (removed by destroy)"
		}
		field("ran in", where)
	}
	field("results", run.Dir)
	if run.Uncollected {
		field("results", NotCollected)
	}
	field("repro of", run.ReproOf)
	field("cached from", run.CachedFrom) // restored by the run cache: nothing ran
	field("outputs", run.Outputs)        // their content hash, which downstream runs hash
	for _, name := range slices.Sorted(maps.Keys(run.InputRuns)) {
		field("input", name+" from run "+strings.Join(run.InputRuns[name], ", "))
	}
	if len(run.Environ) > 0 {
		// What the command was given, on its compute: a difference
		// between two runs of one fingerprint shows here.
		fmt.Fprintf(w, "\nIts environment when it ran (%s; sensitive values redacted):\n", plural.Count(len(run.Environ), "variable"))
		for _, k := range slices.Sorted(maps.Keys(run.Environ)) {
			fmt.Fprintf(w, "  %s=%s\n", termtext.Escape(k), termtext.Escape(run.Environ[k]))
		}
	}
	if in := run.Inputs; in != nil {
		fmt.Fprintln(w, "\nWhat went into its fingerprint:")
		field("snapshot", in.Snapshot)
		field("source_dir", in.SourceDir)
		if len(in.Command) > 0 {
			field("command", strings.Join(runtext.QuoteArgs(in.Command), " "))
		}
		field("shell", in.Shell)
		for _, k := range slices.Sorted(maps.Keys(in.Env)) {
			field("env", k+"="+in.Env[k])
		}
		for _, k := range slices.Sorted(maps.Keys(in.Params)) {
			field("param", k+" = "+string(in.Params[k]))
		}
		field("environment", in.Environment)
		for _, k := range slices.Sorted(maps.Keys(in.Upstream)) {
			hashes := in.Upstream[k]
			if keys := in.UpstreamKeys[k]; len(keys) == len(hashes) && keys != nil {
				hashes = slices.Clone(hashes)
				for i := range hashes {
					hashes[i] = keys[i] + " " + hashes[i]
				}
			}
			field("upstream", k+" "+strings.Join(hashes, ", "))
		}
		if in.SecretsHash != "" {
			field("secrets", "(sensitive values, hashed)")
		}
	}
	if e := run.Env; e != nil {
		fmt.Fprintf(w, "\nEnvironment %s on %s:\n", run.Environment, run.Compute)
		field("id", e.ID)
		field("location", e.Location)
		field("interpreter", spec.Attrs["python_version"])
		field("image", e.Digest)
		switch {
		case lock == "":
		case d.AllPackages:
			fmt.Fprintln(w, "  resolved packages (its lock):")
			for _, l := range strings.Split(strings.TrimRight(lock, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		default:
			// A venv's lock is hundreds of lines: the count, and what the
			// spec asked for.
			n, named := envs.LockPackages(lock, spec.Requirements)
			fmt.Fprintf(w, "  resolved packages (its lock): %s; all of them: trainrun show -lock %s\n", plural.Count(n, "package"), run.ID)
			for _, l := range named {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	if metrics := d.Metrics; len(metrics) > 0 {
		fmt.Fprintln(w, "\nMetrics (latest, and each one's curve over its points):")
		curves := d.Curves
		for _, k := range slices.Sorted(maps.Keys(metrics)) {
			m := metrics[k]
			step := ""
			if m.Step != nil {
				step = fmt.Sprintf(" (step %s)", strconv.FormatFloat(*m.Step, 'g', -1, 64))
			}
			line := fmt.Sprintf("  %-12s %s%s", termtext.Escape(k), strconv.FormatFloat(m.Value, 'g', 8, 64), step)
			if vs := curves[k]; len(vs) > 1 {
				line = fmt.Sprintf("%-40s %s", line, sparkline.String(vs, 30))
			}
			fmt.Fprintln(w, line)
		}
	}
	if run.Dir != "" {
		if outs := d.Outputs; len(outs) > 0 {
			fmt.Fprintln(w, "\nOutputs:")
			for _, o := range outs {
				fmt.Fprintf(w, "  %s\n", termtext.Escape(o))
			}
		}
		fmt.Fprintf(w, "\nLog: %s\n", filepath.Join(run.Dir, "log"))
	}
}

// RunJSON shows a run as show -json does.
func RunJSON(w io.Writer, rd RunDetails) {
	run := rd.Run
	d, q := RunTimes(run)
	JSON(w, struct {
		*state.Run
		Duration        *float64 `json:"duration_s,omitempty"`
		Queued          float64  `json:"queued_s,omitempty"`
		EnvironmentLock string   `json:"environment_lock,omitempty"`
		Interpreter     string   `json:"environment_interpreter,omitempty"`
		Uncollected     bool     `json:"uncollected,omitempty"`
	}{run, d, q, rd.Lock, rd.Spec.Attrs["python_version"], run.Uncollected})
}
