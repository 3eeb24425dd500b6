// Command trainrun turns checked-in HCL files into reproducible training
// runs: plan shows what will run and why, apply runs it, and every run is
// recorded so that anyone can see and redo it.
//
// This package is thin on purpose: flags, wiring and rendering. Everything
// a test could want to reach lives in the packages below it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "0.1.0-dev"

func main() { os.Exit(Main()) }

// Main runs the command with the process's arguments and streams.
// TRAINRUN_CPUPROFILE=FILE writes a CPU profile of the command, for
// performance work (go tool pprof FILE).
func Main() int {
	if path := os.Getenv("TRAINRUN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	return run(&cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
}

// cli is one invocation: its streams and global flags.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	dir            string // absolute working directory, after -chdir
	color          bool
}

type command struct {
	name, args, help string
	run              func(c *cli, args []string) int
}

func commands() []command {
	return []command{
		{"init", "[-example NAME]", "write a starter trainrun.hcl and add .trainrun/ to .gitignore", cmdInit},
		{"validate", "[-json]", "check the configuration without contacting any compute", cmdValidate},
		{"fmt", "[-check] [-diff] [-recursive] [FILE…]", "rewrite configuration files in canonical format", cmdFmt},
		{"plan", "[flags]", "show what apply would do and why", cmdPlan},
		{"apply", "[PLANFILE] [flags]", "run what the plan says", cmdApply},
		{"status", "[-json] [ADDR]", "every instance with its latest run", cmdStatus},
		{"runs", "[-json] [ADDR]", "the run history, newest first", cmdRuns},
		{"show", "[-json] RUN_ID", "one run in full", cmdShow},
		{"logs", "[-f] RUN_ID", "a run's log; -f follows a live run", cmdLogs},
		{"compare", "[-json] [-sort METRIC] ADDR", "an experiment's instances side by side: params, metrics, the best marked", cmdCompare},
		{"cancel", "RUN_ID…", "cancel live runs", cmdCancel},
		{"checkout", "RUN_ID DIR", "write the exact source snapshot a run used into an empty DIR", cmdCheckout},
		{"rerun", "[-var …] RUN_ID", "run a recorded run again as it was; say whether its outputs match", cmdRerun},
		{"watch", "[-auto-approve] [-keep-running] [flags]", "plan and apply whenever a configuration or source file changes", cmdWatch},
		{"destroy", "[-auto-approve]", "remove what trainrun created on computes; records stay", cmdDestroy},
		{"graph", "", "the dependency graph in DOT", cmdGraph},
		{"version", "", "print the version", cmdVersion},
	}
}

func run(c *cli, args []string) int {
	global := flag.NewFlagSet("trainrun", flag.ContinueOnError)
	global.SetOutput(c.stderr)
	chdir := global.String("chdir", "", "switch to `DIR` before doing anything")
	noColor := global.Bool("no-color", false, "disable color in output")
	global.Usage = func() { usage(c.stderr) }
	if err := global.Parse(args); err != nil {
		return 1
	}
	args = global.Args()
	if len(args) == 0 {
		usage(c.stderr)
		return 1
	}
	if *chdir != "" {
		if err := os.Chdir(*chdir); err != nil {
			fmt.Fprintf(c.stderr, "Error: -chdir: %v\n", err)
			return 1
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(c.stderr, "Error: %v\n", err)
		return 1
	}
	c.dir = wd
	c.color = !*noColor && c.getenv("NO_COLOR") == "" && isTerminal(c.stdout)
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		usage(c.stdout)
		return 0
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd.run(c, args[1:])
		}
	}
	fmt.Fprintf(c.stderr, "Error: unknown command %q\n\n", name)
	usage(c.stderr)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: trainrun [-chdir=DIR] [-no-color] COMMAND [ARGS]\n\nCommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", cmd.name, cmd.help)
	}
	fmt.Fprintf(w, "\nRun 'trainrun COMMAND -h' for a command's flags.\n")
}

// newFlags returns a flag set for one subcommand that reports errors on
// stderr and says how it is used.
func (c *cli) newFlags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: trainrun %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after positional arguments
// (`apply plan.out -auto-approve` as well as `apply -auto-approve plan.out`).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
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

// noArgs refuses the positional arguments of a command that takes none:
// ignored, they would go unnoticed ("trainrun plan experiment.train" would
// plan everything). It reports whether there were none.
func (c *cli) noArgs(cmd string, pos []string) bool {
	if len(pos) == 0 {
		return true
	}
	hint := ""
	switch {
	case cmd == "plan" && strings.HasPrefix(pos[0], "experiment."):
		hint = fmt.Sprintf("; to plan only %s and what it depends on: trainrun plan -target '%s'", pos[0], pos[0])
	case cmd == "validate" || cmd == "plan" || cmd == "graph" || cmd == "init":
		hint = fmt.Sprintf("; to work in another directory: trainrun -chdir=DIR %s", cmd)
	}
	c.errorf("%s takes no arguments, got %q%s", cmd, pos[0], hint)
	return false
}

// strList is a repeatable string flag.
type strList []string

func (s *strList) String() string     { return strings.Join(*s, ",") }
func (s *strList) Set(v string) error { *s = append(*s, v); return nil }

// isTerminal reports whether w is a terminal. Being a character device is
// not enough: /dev/null is one, and it is the standard input of cron jobs,
// CI steps and nohup. Only a terminal has a window size.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil
}

// confirm asks question on the terminal and reports whether the answer was
// "yes", as Terraform does.
func (c *cli) confirm(question string) bool {
	fmt.Fprintf(c.stdout, "\n%s Only 'yes' will be accepted: ", question)
	answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
	return strings.TrimSpace(answer) == "yes"
}

func (c *cli) errorf(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "Error: "+format+"\n", args...)
	return 1
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
