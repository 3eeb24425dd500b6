package arguments

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainrun/trainrun/examples"
	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Vars are the flags that give variables values.
type Vars struct {
	Vars  []string // NAME=VALUE, in order
	Files []string // -var-file, in order
}

func (v *Vars) define(fs *flag.FlagSet) {
	fs.Var((*strList)(&v.Vars), "var", "set a variable: `NAME=VALUE` (repeatable)")
	fs.Var((*strList)(&v.Files), "var-file", "read variable values from `FILE` (repeatable)")
}

// Selection are the flags that choose what a plan covers.
type Selection struct {
	Targets, Excludes, Replace []string
	Refresh                    bool
	// NoCache runs what changed instead of restoring it from an earlier
	// run with the same fingerprint.
	NoCache bool
}

func (s *Selection) define(fs *flag.FlagSet) {
	fs.Var((*strList)(&s.Targets), "target", "plan only `ADDRESS` and what it depends on (repeatable)")
	fs.Var((*strList)(&s.Excludes), "exclude", "leave out `ADDRESS` and what depends on it (repeatable)")
	fs.Var((*strList)(&s.Replace), "replace", "run `ADDRESS` again even if unchanged (repeatable)")
	fs.BoolVar(&s.Refresh, "refresh", true, "ask computes how live runs are doing before planning")
	fs.BoolVar(&s.NoCache, "no-cache", false, "run what changed even when an earlier run with the same fingerprint could be restored")
}

// Locking is the flag of a command that writes the state.
type Locking struct {
	// LockTimeout bounds how long a write waits for another process's
	// transaction (as Terraform's -lock-timeout); 0 waits not at all.
	LockTimeout time.Duration
}

func (l *Locking) define(fs *flag.FlagSet) {
	fs.DurationVar(&l.LockTimeout, "lock-timeout", state.DefaultLockTimeout, "wait at most `DURATION` for the state's lock, held by another trainrun for a moment")
}

// Selects reports whether any of -target, -exclude, -replace was given.
func (s *Selection) Selects() bool {
	return len(s.Targets)+len(s.Excludes)+len(s.Replace) > 0
}

// Init are the arguments of init.
type Init struct {
	// Example is the example -example names; "" when it was not given
	// (quickstart, into a directory without a configuration).
	Example string
}

func (a *Init) define(fs *flag.FlagSet) {
	fs.StringVar(&a.Example, "example", "", "the example to start from: `NAME` ("+strings.Join(examples.Names(), ", ")+"; default quickstart)")
}

// ParseInit parses init's arguments.
func ParseInit(args []string) (*Init, error) {
	a := &Init{}
	pos, err := parse("init", a, args)
	if err == nil {
		err = noArgs("init", pos)
	}
	return a, err
}

// Validate are the arguments of validate.
type Validate struct {
	Vars
	JSON bool
}

func (a *Validate) define(fs *flag.FlagSet) {
	a.Vars.define(fs)
	fs.BoolVar(&a.JSON, "json", false, "print the result as JSON")
}

// ParseValidate parses validate's arguments.
func ParseValidate(args []string) (*Validate, error) {
	a := &Validate{}
	pos, err := parse("validate", a, args)
	if err == nil {
		err = noArgs("validate", pos)
	}
	return a, err
}

// Fmt are the arguments of fmt.
type Fmt struct {
	Check, Diff, Recursive, List bool
	Paths                        []string // "." when none is given
}

func (a *Fmt) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.Check, "check", false, "do not write; exit 3 when a file is not formatted")
	fs.BoolVar(&a.Diff, "diff", false, "print the changes as a diff")
	fs.BoolVar(&a.Recursive, "recursive", false, "also format files in subdirectories")
	fs.BoolVar(&a.List, "list", true, "list the files whose formatting changed")
}

// ParseFmt parses fmt's arguments.
func ParseFmt(args []string) (*Fmt, error) {
	a := &Fmt{}
	pos, err := parse("fmt", a, args)
	if len(pos) == 0 {
		pos = []string{"."}
	}
	a.Paths = pos
	return a, err
}

// Plan are the arguments of plan.
type Plan struct {
	Vars
	Selection
	Out              string
	JSON             bool
	DetailedExitcode bool
	ShowUnchanged    bool
}

func (a *Plan) define(fs *flag.FlagSet) {
	a.Vars.define(fs)
	a.Selection.define(fs)
	fs.StringVar(&a.Out, "out", "", "save the plan to `FILE` for a later apply")
	fs.BoolVar(&a.JSON, "json", false, "print the plan as one JSON document")
	fs.BoolVar(&a.DetailedExitcode, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	fs.BoolVar(&a.ShowUnchanged, "show-unchanged", false, "list no-op instances too")
}

// ParsePlan parses plan's arguments.
func ParsePlan(args []string) (*Plan, error) {
	a := &Plan{}
	pos, err := parse("plan", a, args)
	if err == nil {
		err = noArgs("plan", pos)
	}
	return a, err
}

// Apply are the arguments of apply.
type Apply struct {
	Vars
	Selection
	Locking
	PlanFile    string // "" when none is given
	AutoApprove bool
	Parallelism int // 0: the configuration's, else 10
	JSON        bool
}

func (a *Apply) define(fs *flag.FlagSet) {
	a.Vars.define(fs)
	a.Selection.define(fs)
	a.Locking.define(fs)
	fs.BoolVar(&a.AutoApprove, "auto-approve", false, "do not ask for confirmation")
	fs.IntVar(&a.Parallelism, "parallelism", 0, "at most `N` runs at once (default: trainrun { parallelism }, else 10)")
	fs.BoolVar(&a.JSON, "json", false, "print JSON lines of events")
}

// ParseApply parses apply's arguments.
func ParseApply(args []string) (*Apply, error) {
	a := &Apply{}
	pos, err := parse("apply", a, args)
	switch {
	case err != nil:
		return a, err
	case len(pos) > 1:
		return a, errorf("apply", "apply takes at most one plan file, got %s", plural.Count(len(pos), "argument"))
	case len(pos) == 1:
		a.PlanFile = pos[0]
		if a.Selects() {
			return a, errorf("apply", "a saved plan carries its own selection: give -target, -exclude and -replace to 'trainrun plan -out', not to 'trainrun apply %s'", pos[0])
		}
	}
	return a, nil
}

// Watch are the arguments of watch.
type Watch struct {
	Vars
	Selection
	Locking
	AutoApprove bool
	KeepRunning bool
	Parallelism int
	Debounce    time.Duration
}

func (a *Watch) define(fs *flag.FlagSet) {
	a.Vars.define(fs)
	a.Selection.define(fs)
	a.Locking.define(fs)
	fs.BoolVar(&a.AutoApprove, "auto-approve", false, "apply each change's plan without asking")
	fs.BoolVar(&a.KeepRunning, "keep-running", false, "let runs that a newer change supersedes finish, instead of cancelling them")
	fs.IntVar(&a.Parallelism, "parallelism", 0, "at most `N` runs at once (default: trainrun { parallelism }, else 10)")
	fs.DurationVar(&a.Debounce, "debounce", fswatch.DefaultDebounce, "plan once files have been quiet for `DURATION`")
}

// ParseWatch parses watch's arguments.
func ParseWatch(args []string) (*Watch, error) {
	a := &Watch{}
	pos, err := parse("watch", a, args)
	if err == nil && len(pos) > 0 {
		err = errorf("watch", "watch takes no arguments, got %q", pos)
	}
	return a, err
}

// Status are the arguments of status.
type Status struct {
	Filter string // an instance address or experiment.NAME; "" for all
	JSON   bool
	All    bool // instances no longer in the configuration too
}

func (a *Status) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.JSON, "json", false, "print a JSON array of runs")
	fs.BoolVar(&a.All, "all", false, "show instances that are no longer in the configuration too, marked (not in config)")
}

// ParseStatus parses status's arguments.
func ParseStatus(args []string) (*Status, error) {
	a := &Status{}
	pos, err := parse("status", a, args)
	if err == nil {
		a.Filter, err = atMostOne("status", "ADDR", pos)
	}
	return a, err
}

// atMostOne returns the one optional positional argument of a command.
func atMostOne(name, what string, pos []string) (string, error) {
	switch len(pos) {
	case 0:
		return "", nil
	case 1:
		return pos[0], nil
	}
	return "", errorf(name, "%s takes at most one %s, got %s: %s", name, what, plural.Count(len(pos), "argument"), strings.Join(pos, " "))
}

// exactlyOne returns the one positional argument of a command.
func exactlyOne(name, what string, pos []string) (string, error) {
	switch len(pos) {
	case 0:
		return "", errorf(name, "%s needs a %s", name, what)
	case 1:
		return pos[0], nil
	}
	return "", errorf(name, "%s takes one %s, got %s: %s", name, what, plural.Count(len(pos), "argument"), strings.Join(pos, " "))
}

// Runs are the arguments of runs.
type Runs struct {
	Filter string
	JSON   bool
	// Statuses keeps the runs in one of these states (-status, repeatable
	// or comma-separated); none keeps all.
	Statuses []providers.State
	// Limit keeps the newest Limit runs; 0 keeps all.
	Limit int
	// Since keeps the runs created since then: a duration back from now
	// (SinceAgo) or a time (SinceTime); both zero keep all.
	SinceAgo  time.Duration
	SinceTime time.Time

	status []string
	since  string
}

func (a *Runs) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.JSON, "json", false, "print a JSON array of runs")
	fs.Var((*strList)(&a.status), "status", "only runs in `STATE`: pending, running, succeeded, failed, cancelled or stopped (repeatable, or several: failed,cancelled)")
	fs.IntVar(&a.Limit, "limit", 0, "only the newest `N` runs")
	fs.StringVar(&a.since, "since", "", "only runs created since `WHEN`: a duration back from now (90m, 2h, 3d) or a date (2006-01-02, 2006-01-02T15:04)")
}

// states are the states a run may be in, as -status names them.
var states = []providers.State{providers.Pending, providers.Running, providers.Succeeded, providers.Failed, providers.Cancelled, providers.Stopped}

// ParseRuns parses runs's arguments.
func ParseRuns(args []string) (*Runs, error) {
	a := &Runs{}
	pos, err := parse("runs", a, args)
	if err != nil {
		return a, err
	}
	if a.Filter, err = atMostOne("runs", "ADDR", pos); err != nil {
		return a, err
	}
	for _, list := range a.status {
		for _, s := range strings.Split(list, ",") {
			st := providers.State(strings.TrimSpace(s))
			if !slices.Contains(states, st) {
				var names []string
				for _, s := range states {
					names = append(names, string(s))
				}
				return a, errorf("runs", "-status %q: a run is %s", s, strings.Join(names, ", "))
			}
			a.Statuses = append(a.Statuses, st)
		}
	}
	if a.Limit < 0 {
		return a, errorf("runs", "-limit %d: give a number of runs, 1 or more", a.Limit)
	}
	if a.since != "" {
		if a.SinceAgo, a.SinceTime, err = parseSince(a.since); err != nil {
			return a, errorf("runs", "-since %q: %v", a.since, err)
		}
	}
	return a, nil
}

// parseSince reads a duration back from now (Go's 90m, 2h30m, plus days:
// 3d) or a local date or time.
func parseSince(s string) (time.Duration, time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(24*time.Hour)), time.Time{}, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, time.Time{}, fmt.Errorf("a duration back from now is not negative")
		}
		return d, time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return 0, t, nil
		}
	}
	return 0, time.Time{}, fmt.Errorf("give a duration back from now (90m, 2h, 3d) or a date (2006-01-02, 2006-01-02T15:04)")
}

// Since is the time from which runs are kept, given the time now; zero
// when -since was not given.
func (a *Runs) Since(now time.Time) time.Time {
	if a.SinceAgo > 0 {
		return now.Add(-a.SinceAgo)
	}
	return a.SinceTime
}

// Show are the arguments of show.
type Show struct {
	Run  string // a run id, a prefix of one, an instance address, or a saved plan's file
	JSON bool
	Lock bool // the environment's whole lock, not a summary
}

func (a *Show) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.JSON, "json", false, "print the run record (or the saved plan) as JSON")
	fs.BoolVar(&a.Lock, "lock", false, "list every package of the run's environment (its lock), not only those its spec names")
}

// ParseShow parses show's arguments.
func ParseShow(args []string) (*Show, error) {
	a := &Show{}
	pos, err := parse("show", a, args)
	if err == nil {
		a.Run, err = exactlyOne("show", "RUN_ID or PLANFILE", pos)
	}
	return a, err
}

// Logs are the arguments of logs.
type Logs struct {
	Run     string // a run id, a prefix of one, or an instance address
	Follow  bool
	Attempt int // > 0: the log of that attempt
}

func (a *Logs) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.Follow, "f", false, "follow the log of a live run until it ends; wait for a pending one to start")
	fs.IntVar(&a.Attempt, "attempt", 0, "show the log of attempt `N` (a failed attempt's, kept when it was retried)")
}

// ParseLogs parses logs's arguments.
func ParseLogs(args []string) (*Logs, error) {
	a := &Logs{}
	pos, err := parse("logs", a, args)
	if err == nil {
		a.Run, err = exactlyOne("logs", "RUN_ID or instance address", pos)
	}
	if err == nil && a.Attempt < 0 {
		err = fmt.Errorf("logs: -attempt must be at least 1")
	}
	return a, err
}

// Compare are the arguments of compare: an experiment, whose instances
// it lays side by side, or two runs, which it diffs.
type Compare struct {
	Experiment string    // the NAME of experiment.NAME; "" when Runs are given
	Runs       [2]string // two run ids (or prefixes, or addresses)
	Sort       string
	JSON       bool
	All        bool // instances no longer in the configuration too
}

func (a *Compare) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.JSON, "json", false, "print the table (or the difference) as one JSON document")
	fs.BoolVar(&a.All, "all", false, "show instances that are no longer in the configuration too, marked (not in config)")
	fs.StringVar(&a.Sort, "sort", "", "sort by `METRIC`, the best first (+METRIC ascending, -METRIC descending; a param works too); default: the experiment's objective")
}

// ParseCompare parses compare's arguments.
func ParseCompare(args []string) (*Compare, error) {
	a := &Compare{}
	pos, err := parse("compare", a, args)
	if err != nil {
		return a, err
	}
	switch len(pos) {
	case 1:
	case 2:
		if a.Sort != "" {
			return a, errorf("compare", "-sort orders an experiment's instances; two runs are not sorted")
		}
		a.Runs = [2]string{pos[0], pos[1]}
		return a, nil
	case 0:
		return a, errorf("compare", "compare needs an experiment (experiment.train) or two runs (RUN_ID RUN_ID)")
	default:
		return a, errorf("compare", "compare takes an experiment or two runs, got %s: %s", plural.Count(len(pos), "argument"), strings.Join(pos, " "))
	}
	name, ok := strings.CutPrefix(pos[0], "experiment.")
	if !ok || name == "" || strings.ContainsAny(name, `[]."`) {
		return a, errorf("compare", "compare takes an experiment, such as experiment.train, not %q: it shows all of the experiment's instances; to compare two runs, give both: trainrun compare RUN_ID RUN_ID", pos[0])
	}
	a.Experiment = name
	return a, nil
}

// Cancel are the arguments of cancel.
type Cancel struct {
	Locking
	Runs []string
}

func (a *Cancel) define(fs *flag.FlagSet) { a.Locking.define(fs) }

// ParseCancel parses cancel's arguments.
func ParseCancel(args []string) (*Cancel, error) {
	a := &Cancel{}
	pos, err := parse("cancel", a, args)
	if err == nil && len(pos) == 0 {
		err = errorf("cancel", "cancel needs at least one RUN_ID")
	}
	a.Runs = pos
	return a, err
}

// Checkout are the arguments of checkout.
type Checkout struct {
	Run, Dir string
}

// ParseCheckout parses checkout's arguments.
func ParseCheckout(args []string) (*Checkout, error) {
	pos, err := parse("checkout", nil, args)
	if err != nil {
		return &Checkout{}, err
	}
	if len(pos) != 2 {
		return &Checkout{}, errorf("checkout", "checkout takes a RUN_ID and a DIR, got %s", plural.Count(len(pos), "argument"))
	}
	return &Checkout{Run: pos[0], Dir: pos[1]}, nil
}

// Outputs are the arguments of outputs.
type Outputs struct {
	Run, Dir string
	Force    bool
}

func (a *Outputs) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.Force, "force", false, "overwrite files in DIR that differ from the run's")
}

// ParseOutputs parses outputs' arguments.
func ParseOutputs(args []string) (*Outputs, error) {
	a := &Outputs{}
	pos, err := parse("outputs", a, args)
	if err != nil {
		return a, err
	}
	if len(pos) != 2 {
		return a, errorf("outputs", "outputs takes a RUN_ID and a DIR, got %s", plural.Count(len(pos), "argument"))
	}
	a.Run, a.Dir = pos[0], pos[1]
	return a, nil
}

// Rerun are the arguments of rerun.
type Rerun struct {
	Vars
	Locking
	Run  string
	JSON bool
}

func (a *Rerun) define(fs *flag.FlagSet) {
	a.Vars.define(fs)
	a.Locking.define(fs)
	fs.BoolVar(&a.JSON, "json", false, "print JSON lines of events")
}

// ParseRerun parses rerun's arguments.
func ParseRerun(args []string) (*Rerun, error) {
	a := &Rerun{}
	pos, err := parse("rerun", a, args)
	if err == nil {
		a.Run, err = exactlyOne("rerun", "RUN_ID", pos)
	}
	return a, err
}

// Destroy are the arguments of destroy.
type Destroy struct {
	Locking
	AutoApprove bool
}

func (a *Destroy) define(fs *flag.FlagSet) {
	a.Locking.define(fs)
	fs.BoolVar(&a.AutoApprove, "auto-approve", false, "do not ask for confirmation")
}

// ParseDestroy parses destroy's arguments.
func ParseDestroy(args []string) (*Destroy, error) {
	a := &Destroy{}
	pos, err := parse("destroy", a, args)
	if err == nil && len(pos) > 0 {
		err = errorf("destroy", "destroy takes no arguments, got %q", pos[0])
	}
	return a, err
}

// GC are the arguments of gc.
type GC struct {
	DryRun   bool
	KeepDays int
}

func (a *GC) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.DryRun, "dry-run", false, "say what would be removed and the bytes it would free; remove nothing")
	fs.IntVar(&a.KeepDays, "keep-days", 30, "keep every run created less than `N` days ago")
}

// ParseGC parses gc's arguments.
func ParseGC(args []string) (*GC, error) {
	a := &GC{}
	pos, err := parse("gc", a, args)
	if err == nil && len(pos) > 0 {
		err = errorf("gc", "gc takes no arguments, got %q", pos[0])
	}
	if err == nil && a.KeepDays < 0 {
		err = errorf("gc", "-keep-days must be 0 or more, got %d", a.KeepDays)
	}
	return a, err
}

// Graph are the arguments of graph.
type Graph struct {
	Vars
}

func (a *Graph) define(fs *flag.FlagSet) { a.Vars.define(fs) }

// ParseGraph parses graph's arguments.
func ParseGraph(args []string) (*Graph, error) {
	a := &Graph{}
	pos, err := parse("graph", a, args)
	if err == nil {
		err = noArgs("graph", pos)
	}
	return a, err
}

// State are the arguments of state: its subcommand, "repair".
type State struct {
	Locking
	Subcommand string
}

func (a *State) define(fs *flag.FlagSet) { a.Locking.define(fs) }

// ParseState parses state's arguments: "repair" or "migrate", and nothing after it.
func ParseState(args []string) (*State, error) {
	a := &State{}
	pos, err := parse("state", a, args)
	switch {
	case err != nil:
		return a, err
	case len(pos) == 0 || pos[0] != "repair" && pos[0] != "migrate":
		return a, errorf("state", "state needs a subcommand: repair or migrate")
	case len(pos) > 1:
		return a, errorf("state", "state %s takes no arguments, got %q", pos[0], pos[1])
	}
	a.Subcommand = pos[0]
	return a, nil
}

// UI are the arguments of ui.
type UI struct {
	Vars
	Addr  string
	Open  bool
	Token string // "" when not given: TRAINRUN_UI_TOKEN then
}

func (a *UI) define(fs *flag.FlagSet) {
	a.Vars.define(fs)
	fs.StringVar(&a.Addr, "addr", "127.0.0.1:7070", "listen on `HOST:PORT`; an address other than loopback needs -token")
	fs.BoolVar(&a.Open, "open", false, "open the dashboard in the browser")
	fs.StringVar(&a.Token, "token", "", "require `TOKEN` of every request (default $TRAINRUN_UI_TOKEN)")
}

// ParseUI parses ui's arguments.
func ParseUI(args []string) (*UI, error) {
	a := &UI{}
	pos, err := parse("ui", a, args)
	if err == nil {
		err = noArgs("ui", pos)
	}
	return a, err
}

// Version are the arguments of version.
type Version struct {
	JSON bool
}

func (a *Version) define(fs *flag.FlagSet) {
	fs.BoolVar(&a.JSON, "json", false, `print {"trainrun_version": "…"}, as terraform version -json does`)
}

// ParseVersion parses version's arguments.
func ParseVersion(args []string) (*Version, error) {
	a := &Version{}
	pos, err := parse("version", a, args)
	if err == nil {
		err = noArgs("version", pos)
	}
	return a, err
}

// Completion are the arguments of completion.
type Completion struct {
	Shell string // bash, zsh or fish
}

// Shells are the shells completion writes scripts for.
var shells = []string{"bash", "zsh", "fish"}

// ParseCompletion parses completion's arguments.
func ParseCompletion(args []string) (*Completion, error) {
	pos, err := parse("completion", nil, args)
	if err != nil {
		return &Completion{}, err
	}
	sh, err := exactlyOne("completion", "shell (bash, zsh or fish)", pos)
	if err != nil {
		return &Completion{}, err
	}
	for _, s := range shells {
		if s == sh {
			return &Completion{Shell: sh}, nil
		}
	}
	return &Completion{}, errorf("completion", "no completion for shell %q: trainrun completes in %s", sh, strings.Join(shells, ", "))
}

// Global are the flags that come before the command.
type Global struct {
	Chdir   string
	NoColor bool
	Version bool // -version, --version, -v
	Help    bool // -h, -help, --help
	Command string
	Args    []string // the command's
}

// ParseGlobal parses the global flags and returns the command and its
// arguments. Neither a command nor -version nor -help is an error.
func ParseGlobal(args []string) (*Global, error) {
	g := &Global{}
	fs := newFlagSet("trainrun")
	fs.StringVar(&g.Chdir, "chdir", "", "switch to `DIR` before doing anything")
	fs.BoolVar(&g.NoColor, "no-color", false, "disable color in output")
	fs.BoolVar(&g.Version, "version", false, "print the version")
	fs.BoolVar(&g.Version, "v", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			g.Help = true
			return g, nil
		}
		return g, &Error{Command: "", Err: err}
	}
	if rest := fs.Args(); len(rest) > 0 {
		g.Command, g.Args = rest[0], rest[1:]
	}
	return g, nil
}

// GlobalHelp is the help of trainrun itself: its commands and global
// flags.
func GlobalHelp() string {
	var b strings.Builder
	b.WriteString("Usage: trainrun [global options] COMMAND [ARGS]\n\nCommands:\n")
	for _, c := range Commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.Name, c.Synopsis)
	}
	b.WriteString("\nGlobal options:\n" +
		"  -chdir=DIR  switch to DIR before doing anything\n" +
		"  -no-color   disable color in output (so does NO_COLOR)\n" +
		"  -help       show this help\n" +
		"  -version    print the version\n" +
		"\nRun 'trainrun help COMMAND' or 'trainrun COMMAND -h' for a command's flags.\n")
	return b.String()
}
