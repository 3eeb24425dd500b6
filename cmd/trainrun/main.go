// Command trainrun turns checked-in HCL files into reproducible training
// runs: plan shows what will run and why, apply runs it, and every run is
// recorded so that anyone can see and redo it.
//
// This package is thin on purpose: flags, wiring and rendering. Everything
// a test could want to reach lives in the packages below it.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/cmd/trainrun/internal/views"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
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
	return run(&cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, lookupEnv: os.LookupEnv}, os.Args[1:])
}

// cli is one invocation: its streams and global flags.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	lookupEnv      func(string) (string, bool) // nil: getenv's "" is not set
	dir            string                      // absolute working directory, after -chdir
	color          bool
}

// runners maps each command's name to what carries it out.
func runners() map[string]func(c *cli, args []string) int {
	return map[string]func(c *cli, args []string) int{
		"init":       cmdInit,
		"validate":   cmdValidate,
		"fmt":        cmdFmt,
		"plan":       cmdPlan,
		"apply":      cmdApply,
		"watch":      cmdWatch,
		"status":     cmdStatus,
		"runs":       cmdRuns,
		"show":       cmdShow,
		"logs":       cmdLogs,
		"compare":    cmdCompare,
		"cancel":     cmdCancel,
		"checkout":   cmdCheckout,
		"outputs":    cmdOutputs,
		"rerun":      cmdRerun,
		"destroy":    cmdDestroy,
		"gc":         cmdGC,
		"graph":      cmdGraph,
		"ui":         cmdUI,
		"state":      cmdState,
		"completion": cmdCompletion,
		"version":    cmdVersion,
	}
}

func run(c *cli, args []string) int {
	if len(args) > 0 && args[0] == "__complete" {
		// The completion scripts' question: the words are the user's, not
		// flags of this invocation.
		wd, err := os.Getwd()
		if err != nil {
			return 1
		}
		c.dir = wd
		return complete(c, args[1:])
	}
	g, err := arguments.ParseGlobal(args)
	if err != nil {
		return c.argsError(err)
	}
	switch {
	case g.Help:
		fmt.Fprint(c.stdout, arguments.GlobalHelp())
		return 0
	case g.Version:
		fmt.Fprintf(c.stdout, "trainrun %s\n", version)
		return 0
	case g.Command == "":
		fmt.Fprint(c.stderr, arguments.GlobalHelp())
		return 1
	}
	if g.Chdir != "" {
		if err := os.Chdir(g.Chdir); err != nil {
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
	c.color = !g.NoColor && c.getenv("NO_COLOR") == "" && isTerminal(c.stdout)
	if g.Command == "help" {
		return c.help(g.Args)
	}
	if cmd := runners()[g.Command]; cmd != nil {
		return cmd(c, g.Args)
	}
	return c.unknownCommand(g.Command)
}

// help is 'trainrun help [COMMAND]': the command's help, or trainrun's.
func (c *cli) help(args []string) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(c.stdout, arguments.GlobalHelp())
		return 0
	case len(args) > 1:
		return c.errorf("help takes one command, got %s", plural.Count(len(args), "argument"))
	}
	if _, ok := arguments.Lookup(args[0]); !ok {
		return c.unknownCommand(args[0])
	}
	fmt.Fprint(c.stdout, arguments.Help(args[0]))
	return 0
}

// unknownCommand says that name is no command, and which one was likely
// meant.
func (c *cli) unknownCommand(name string) int {
	var names []string
	for _, cmd := range arguments.Commands() {
		names = append(names, cmd.Name)
	}
	hint := ""
	if near := lang.Nearest(name, names); near != "" {
		hint = fmt.Sprintf(" Did you mean %q?", near)
	}
	fmt.Fprintf(c.stderr, "Error: trainrun has no command named %q.%s\n", name, hint)
	if hint != "" {
		// The likely fix, not a screen of commands (as Terraform does).
		fmt.Fprintln(c.stderr, "'trainrun -help' lists every command.")
		return 1
	}
	fmt.Fprint(c.stderr, "\n"+arguments.GlobalHelp())
	return 1
}

// argsError reports an error in a command's arguments: a request for help
// prints the command's help on standard output (exit 0), anything else
// says what is wrong and how the command is used on standard error (exit 1).
func (c *cli) argsError(err error) int {
	var ae *arguments.Error
	if !errors.As(err, &ae) {
		return c.errorf("%v", err)
	}
	if arguments.IsHelp(err) {
		fmt.Fprint(c.stdout, ae.Help())
		return 0
	}
	fmt.Fprintf(c.stderr, "Error: %v\n\n%s", err, ae.Help())
	return 1
}

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

// confirm asks question and reports whether the answer was "yes", as
// Terraform does.
func (c *cli) confirm(question string) bool {
	answer, _ := c.ask(question)
	return answer == "yes"
}

// ask asks question and reads one line of answer from standard input,
// which may be a terminal or a pipe ("echo yes | trainrun destroy");
// answered is false when the input ended without a word (/dev/null).
func (c *cli) ask(question string) (answer string, answered bool) {
	fmt.Fprintf(c.stdout, "\n%s Only 'yes' will be accepted: ", question)
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if !isTerminal(c.stdin) {
		fmt.Fprintln(c.stdout, strings.TrimSpace(line)) // a piped answer is not echoed by a terminal
	}
	answer = strings.TrimSpace(line)
	return answer, answer != "" || err == nil
}

func (c *cli) errorf(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "Error: "+format+"\n", args...)
	return 1
}

// renderer is the view of a command's events on standard output.
func (c *cli) renderer(asJSON bool) *views.Events {
	return views.NewEvents(c.stdout, isTerminal(c.stdout), c.color, asJSON)
}
