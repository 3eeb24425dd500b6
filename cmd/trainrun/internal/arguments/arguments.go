// Package arguments parses the command line of each trainrun command into a
// struct of its own, as Terraform's command/arguments does: parsing is
// tested alone, and the command that uses the struct neither sees flags nor
// decides how they read.
//
// Every command's flags are defined in one place (its define method), so
// that its help, its parsing and shell completion agree.
package arguments

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// A Command is what help says of one command.
type Command struct {
	Name     string
	Args     string // its arguments, as usage shows them: "[PLANFILE] [flags]"
	Synopsis string // one line: what it does
}

// Commands lists every command, in the order help shows them.
func Commands() []Command {
	return []Command{
		{"init", "[-example NAME]", "start a project: write an example into an empty one, add .trainrun/ to .gitignore"},
		{"validate", "[-json] [-var NAME=VALUE]… [-var-file FILE]…", "check the configuration without contacting any compute"},
		{"fmt", "[-check] [-diff] [-list=false] [-recursive] [FILE|DIR…]", "rewrite configuration files in canonical format"},
		{"plan", "[-out FILE] [-json] [-detailed-exitcode] [-show-unchanged] [-target ADDRESS]… [-exclude ADDRESS]… [-replace ADDRESS]… [-no-cache] [-refresh=false] [-var NAME=VALUE]… [-var-file FILE]…", "show what apply would do and why"},
		{"apply", "[PLANFILE] [-auto-approve] [-parallelism N] [-json] [-target ADDRESS]… [-exclude ADDRESS]… [-replace ADDRESS]… [-no-cache] [-refresh=false] [-lock-timeout DURATION] [-var NAME=VALUE]… [-var-file FILE]…", "run what the plan says"},
		{"watch", "[-auto-approve] [-keep-running] [-debounce DURATION] [-parallelism N] [-target ADDRESS]… [-exclude ADDRESS]… [-replace ADDRESS]… [-no-cache] [-refresh=false] [-lock-timeout DURATION] [-var NAME=VALUE]… [-var-file FILE]…", "plan and apply whenever a configuration or source file changes"},
		{"status", "[-json] [-all] [ADDR]", "every instance of the configuration with its latest run"},
		{"runs", "[-json] [-status STATE] [-limit N] [-since WHEN] [ADDR]", "the run history, newest first"},
		{"show", "[-json] [-lock] RUN_ID|ADDR|PLANFILE", "one run in full, or a saved plan"},
		{"logs", "[-f] [-attempt N] RUN_ID|ADDR", "a run's log; -f follows a live run"},
		{"compare", "[-json] [-all] [-sort METRIC] experiment.NAME | RUN_ID|ADDR RUN_ID|ADDR", "an experiment's instances side by side, or how two runs differ"},
		{"cancel", "[-lock-timeout DURATION] RUN_ID|ADDR…", "cancel live runs"},
		{"checkout", "RUN_ID|ADDR DIR", "write the exact source snapshot a run used into an empty DIR"},
		{"outputs", "[-force] RUN_ID|ADDR DIR", "write a run's collected outputs into DIR (the workspace)"},
		{"rerun", "[-json] [-lock-timeout DURATION] [-var NAME=VALUE]… [-var-file FILE]… RUN_ID|ADDR", "run a recorded run again as it was; say whether its outputs match"},
		{"destroy", "[-auto-approve] [-lock-timeout DURATION]", "remove what trainrun created on computes; records stay"},
		{"gc", "[-dry-run] [-keep-days N]", "free the store files and run directories no kept run needs; say the bytes freed"},
		{"graph", "[-var NAME=VALUE]… [-var-file FILE]…", "the dependency graph in DOT"},
		{"ui", "[-addr HOST:PORT] [-open] [-token TOKEN] [-var NAME=VALUE]… [-var-file FILE]…", "a live web dashboard of instances, runs, metrics, the plan and the graph"},
		{"state", "repair [-lock-timeout DURATION]", "rewrite damaged state from every intact record, saying what is dropped"},
		{"completion", "bash|zsh|fish", "print a shell completion script"},
		{"version", "[-json]", "print the version"},
	}
}

// Lookup returns the command called name.
func Lookup(name string) (Command, bool) {
	for _, c := range Commands() {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// Error is an error in a command's arguments, or a request for its help
// (errors.Is(err, flag.ErrHelp)). Help is the command's help text: a
// request prints it on standard output, an error after the message on
// standard error.
type Error struct {
	Command string
	Err     error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Help is the help text of the command.
func (e *Error) Help() string {
	if e.Command == "" {
		return GlobalHelp()
	}
	return Help(e.Command)
}

// IsHelp reports whether err asks for help rather than being wrong.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// definer is a command's arguments: define registers its flags on fs,
// writing into the struct.
type definer interface{ define(fs *flag.FlagSet) }

// newArgs returns a fresh arguments struct of each command that has flags.
func newArgs(name string) definer {
	switch name {
	case "init":
		return &Init{}
	case "validate":
		return &Validate{}
	case "fmt":
		return &Fmt{}
	case "plan":
		return &Plan{}
	case "apply":
		return &Apply{}
	case "watch":
		return &Watch{}
	case "status":
		return &Status{}
	case "runs":
		return &Runs{}
	case "show":
		return &Show{}
	case "logs":
		return &Logs{}
	case "compare":
		return &Compare{}
	case "rerun":
		return &Rerun{}
	case "outputs":
		return &Outputs{}
	case "destroy":
		return &Destroy{}
	case "gc":
		return &GC{}
	case "cancel":
		return &Cancel{}
	case "state":
		return &State{}
	case "graph":
		return &Graph{}
	case "ui":
		return &UI{}
	case "version":
		return &Version{}
	}
	return nil // checkout, completion: no flags
}

// newFlagSet is a flag set that prints nothing: errors are returned, and
// help is printed by the caller.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// flagsOf is the flag set of the command called name, defined on a fresh
// arguments struct.
func flagsOf(name string) *flag.FlagSet {
	fs := newFlagSet(name)
	if d := newArgs(name); d != nil {
		d.define(fs)
	}
	return fs
}

// Help is the help text of the command called name: how it is used, what
// it does, and its flags.
func Help(name string) string {
	c, _ := Lookup(name)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n  %s.\n", wrapUsage("Usage: trainrun [global options] "+c.Name+" "+c.Args, 78), capitalize(c.Synopsis))
	if extra := moreHelp[name]; extra != "" {
		fmt.Fprintf(&b, "\n%s", extra)
	}
	if strings.Contains(c.Args, "RUN_ID|ADDR") && !strings.Contains(moreHelp[name], "RUN_ID is") {
		fmt.Fprintf(&b, "\n%s", runRefHelp)
	}
	fs := flagsOf(name)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nOptions:\n\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
	}
	return b.String()
}

// runRefHelp says what names a run, in the help of the commands that take
// one.
const runRefHelp = "  RUN_ID is a run's id, a unique prefix of one, or an instance address\n  (ADDR: experiment.train[\"lr=0.1\"]) meaning its latest run.\n"

// wrapUsage breaks a usage line before width, between bracketed groups,
// indenting what follows.
func wrapUsage(line string, width int) string {
	var words []string
	depth, start := 0, 0
	for i, r := range line {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ' ':
			if depth == 0 {
				words = append(words, line[start:i])
				start = i + 1
			}
		}
	}
	words = append(words, line[start:])
	var b strings.Builder
	col := 0
	for i, w := range words {
		n := len([]rune(w))
		switch {
		case i == 0:
		case col+1+n > width:
			b.WriteString("\n      ")
			col = 6
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	return b.String()
}

// moreHelp are paragraphs of help beyond the synopsis and the flags.
var moreHelp = map[string]string{
	"state":   "  repair: when .trainrun/journal or state.json cannot be read, keep every\n  intact record, say what is dropped, and keep the damaged files beside\n  the new state.json.\n",
	"compare": "  With an experiment: its instances side by side (the latest run of each),\n  params and metrics as columns, the best value of each metric marked.\n  With two runs: how they differ, as dvc exp diff shows it: params, what\n  went into their fingerprints (the source files that differ), metrics.\n",
	"init":    "  In a directory with a configuration, init writes no example: it adds\n  .trainrun/ to .gitignore and checks the configuration. An example is\n  written only where none of its files exists.\n",
	"show":    "  PLANFILE is a plan saved by plan -out: show prints it with its reasons.\n",
	"outputs": "  RUN_ID is a run's id, a unique prefix of one, or an instance address\n  meaning its latest run. Files already in DIR with the same content are\n  left alone; one that differs is not overwritten unless -force. Nothing\n  is written outside DIR or through a symbolic link.\n",
	"completion": "  Load it in the current shell:\n\n" +
		"    bash:  source <(trainrun completion bash)\n" +
		"    zsh:   source <(trainrun completion zsh)\n" +
		"    fish:  trainrun completion fish | source\n\n" +
		"  It completes commands, flags, instance addresses (from the configuration)\n  and run ids (from the recorded state).\n",
	"ui": `  Serves a dashboard of the project on http://127.0.0.1:7070 from the binary
  alone: instances with live state, the run history, each run's
  fingerprint inputs, log (live tail) and metric charts, an experiment's
  compare table and charts, the plan and the dependency graph. It only
  reads, except cancelling a live run from its page. An -addr other than
  loopback needs a token (-token or TRAINRUN_UI_TOKEN): requests without
  it get 401.
`,
	"watch": `  On a terminal, watch draws a full screen (the terminal is restored when it
  stops): what is watched and the last change, the configuration's errors,
  the current plan, the runs with their state and elapsed time, and the end
  of one run's log: the latest run's, or that of the run whose number is
  typed, followed by Enter (0 and Enter: the latest again). Off a terminal,
  or with TERM=dumb, it prints a line per event.
`,
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// A Flag is one flag of a command, for completion.
type Flag struct {
	Name       string
	TakesValue bool // -name VALUE, as opposed to a boolean -name
}

// Flags lists the flags of the command called name.
func Flags(name string) []Flag {
	var out []Flag
	flagsOf(name).VisitAll(func(f *flag.Flag) {
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		out = append(out, Flag{Name: f.Name, TakesValue: !ok || !b.IsBoolFlag()})
	})
	return out
}

// parse parses a command's flags, which may come before or after its
// positional arguments (`apply plan.out -auto-approve` as well as `apply
// -auto-approve plan.out`), and returns the positional ones. "--" ends the
// flags.
func parse(name string, d definer, args []string) ([]string, error) {
	fs := newFlagSet(name)
	if d != nil {
		d.define(fs)
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &Error{Command: name, Err: err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// errorf is an argument error of the command called name.
func errorf(name, format string, args ...any) error {
	return &Error{Command: name, Err: fmt.Errorf(format, args...)}
}

// noArgs refuses the positional arguments of a command that takes none:
// ignored, they would go unnoticed ("trainrun plan experiment.train" would
// plan everything).
func noArgs(name string, pos []string) error {
	if len(pos) == 0 {
		return nil
	}
	hint := ""
	switch {
	case name == "plan" && strings.HasPrefix(pos[0], "experiment."):
		hint = fmt.Sprintf("; to plan only %s and what it depends on: trainrun plan -target '%s'", pos[0], pos[0])
	case name == "validate" || name == "plan" || name == "graph" || name == "init":
		hint = fmt.Sprintf("; to work in another directory: trainrun -chdir=DIR %s", name)
	}
	return errorf(name, "%s takes no arguments, got %q%s", name, pos[0], hint)
}

// strList is a repeatable string flag.
type strList []string

func (s *strList) String() string     { return strings.Join(*s, ",") }
func (s *strList) Set(v string) error { *s = append(*s, v); return nil }
