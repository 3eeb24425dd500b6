package arguments

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

func TestParse(t *testing.T) {
	dflt := Locking{state.DefaultLockTimeout}
	tests := []struct {
		name    string
		parse   func() (any, error)
		want    any
		wantErr string // a substring; "help" for a request for help
	}{
		{"plan defaults", func() (any, error) { return ParsePlan(nil) },
			&Plan{Selection: Selection{Refresh: true}}, ""},
		{"plan flags after", func() (any, error) {
			return ParsePlan([]string{"-out", "p.out", "-var", "a=1", "-var", "b=2", "-target", "experiment.x", "-refresh=false", "-show-unchanged"})
		}, &Plan{Vars: Vars{Vars: []string{"a=1", "b=2"}}, Selection: Selection{Targets: []string{"experiment.x"}}, Out: "p.out", ShowUnchanged: true}, ""},
		{"plan refuses an address", func() (any, error) { return ParsePlan([]string{"experiment.train"}) }, nil,
			"plan takes no arguments, got \"experiment.train\"; to plan only experiment.train and what it depends on: trainrun plan -target 'experiment.train'"},
		{"plan -h", func() (any, error) { return ParsePlan([]string{"-h"}) }, nil, "help"},
		{"plan --help", func() (any, error) { return ParsePlan([]string{"--help"}) }, nil, "help"},
		{"plan unknown flag", func() (any, error) { return ParsePlan([]string{"-nope"}) }, nil, "flag provided but not defined: -nope"},
		{"apply plan file, flags on either side", func() (any, error) { return ParseApply([]string{"-auto-approve", "p.out", "-parallelism", "3"}) },
			&Apply{Selection: Selection{Refresh: true}, Locking: dflt, PlanFile: "p.out", AutoApprove: true, Parallelism: 3}, ""},
		{"apply -lock-timeout", func() (any, error) { return ParseApply([]string{"-lock-timeout=2m"}) },
			&Apply{Selection: Selection{Refresh: true}, Locking: Locking{2 * time.Minute}}, ""},
		{"apply -lock-timeout 0", func() (any, error) { return ParseApply([]string{"-lock-timeout", "0s"}) },
			&Apply{Selection: Selection{Refresh: true}}, ""},
		{"apply -lock-timeout not a duration", func() (any, error) { return ParseApply([]string{"-lock-timeout", "5"}) }, nil, `invalid value "5" for flag -lock-timeout`},
		{"apply two plan files", func() (any, error) { return ParseApply([]string{"a", "b"}) }, nil, "apply takes at most one plan file, got 2 arguments"},
		{"apply plan file and selection", func() (any, error) { return ParseApply([]string{"p.out", "-target", "experiment.x"}) }, nil, "a saved plan carries its own selection"},
		{"apply after --", func() (any, error) { return ParseApply([]string{"--", "-odd-name"}) },
			&Apply{Selection: Selection{Refresh: true}, Locking: dflt, PlanFile: "-odd-name"}, ""},
		{"watch", func() (any, error) { return ParseWatch([]string{"-debounce", "50ms", "-keep-running"}) },
			&Watch{Selection: Selection{Refresh: true}, Locking: dflt, KeepRunning: true, Debounce: 50 * time.Millisecond}, ""},
		{"watch refuses arguments", func() (any, error) { return ParseWatch([]string{"x"}) }, nil, "watch takes no arguments"},
		{"status", func() (any, error) { return ParseStatus([]string{"experiment.a", "-json"}) }, &Status{Filter: "experiment.a", JSON: true}, ""},
		{"status two filters", func() (any, error) { return ParseStatus([]string{"a", "b"}) }, nil, "status takes at most one ADDR, got 2 arguments: a b"},
		{"runs filters", func() (any, error) {
			return ParseRuns([]string{"-status", "failed,cancelled", "-status=stopped", "-limit", "5", "-since", "36h", "experiment.a"})
		}, &Runs{Filter: "experiment.a", Statuses: []providers.State{"failed", "cancelled", "stopped"}, Limit: 5, SinceAgo: 36 * time.Hour, status: []string{"failed,cancelled", "stopped"}, since: "36h"}, ""},
		{"runs since days", func() (any, error) { return ParseRuns([]string{"-since", "3d"}) }, &Runs{SinceAgo: 72 * time.Hour, since: "3d"}, ""},
		{"runs since a date", func() (any, error) { return ParseRuns([]string{"-since", "2026-01-02"}) },
			&Runs{SinceTime: time.Date(2026, 1, 2, 0, 0, 0, 0, time.Local), since: "2026-01-02"}, ""},
		{"runs wrong status", func() (any, error) { return ParseRuns([]string{"-status", "done"}) }, nil,
			`-status "done": a run is pending, running, succeeded, failed, cancelled, stopped`},
		{"runs wrong since", func() (any, error) { return ParseRuns([]string{"-since", "yesterday"}) }, nil, `-since "yesterday": give a duration`},
		{"runs negative limit", func() (any, error) { return ParseRuns([]string{"-limit", "-1"}) }, nil, "-limit -1"},
		{"show needs a run", func() (any, error) { return ParseShow(nil) }, nil, "show needs a RUN_ID or PLANFILE"},
		{"show -lock", func() (any, error) { return ParseShow([]string{"abc", "-lock"}) }, &Show{Run: "abc", Lock: true}, ""},
		{"logs", func() (any, error) { return ParseLogs([]string{"-f", "abc"}) }, &Logs{Run: "abc", Follow: true}, ""},
		{"compare", func() (any, error) { return ParseCompare([]string{"experiment.train", "-sort", "-loss"}) }, &Compare{Experiment: "train", Sort: "-loss"}, ""},
		{"compare an instance", func() (any, error) { return ParseCompare([]string{`experiment.train["a=1"]`}) }, nil, "compare takes an experiment"},
		{"compare two runs", func() (any, error) { return ParseCompare([]string{"abc", "-json", "def"}) }, &Compare{Runs: [2]string{"abc", "def"}, JSON: true}, ""},
		{"compare two runs sorted", func() (any, error) { return ParseCompare([]string{"abc", "def", "-sort", "loss"}) }, nil, "two runs are not sorted"},
		{"compare three", func() (any, error) { return ParseCompare([]string{"a", "b", "c"}) }, nil, "compare takes an experiment or two runs, got 3 arguments: a b c"},
		{"compare nothing", func() (any, error) { return ParseCompare(nil) }, nil, "compare needs an experiment (experiment.train) or two runs"},
		{"cancel", func() (any, error) { return ParseCancel([]string{"a", "b"}) }, &Cancel{Locking: dflt, Runs: []string{"a", "b"}}, ""},
		{"cancel nothing", func() (any, error) { return ParseCancel(nil) }, nil, "cancel needs at least one RUN_ID"},
		{"checkout", func() (any, error) { return ParseCheckout([]string{"r", "d"}) }, &Checkout{Run: "r", Dir: "d"}, ""},
		{"checkout one", func() (any, error) { return ParseCheckout([]string{"r"}) }, nil, "checkout takes a RUN_ID and a DIR"},
		{"outputs", func() (any, error) { return ParseOutputs([]string{"r", "d", "-force"}) }, &Outputs{Run: "r", Dir: "d", Force: true}, ""},
		{"outputs one", func() (any, error) { return ParseOutputs([]string{"r"}) }, nil, "outputs takes a RUN_ID and a DIR, got 1 argument"},
		{"fmt default path", func() (any, error) { return ParseFmt([]string{"-check"}) }, &Fmt{Check: true, List: true, Paths: []string{"."}}, ""},
		{"init without -example", func() (any, error) { return ParseInit(nil) }, &Init{}, ""},
		{"init", func() (any, error) { return ParseInit([]string{"-example", "digits"}) }, &Init{Example: "digits"}, ""},
		{"init refuses a directory", func() (any, error) { return ParseInit([]string{"here"}) }, nil, "init takes no arguments, got \"here\"; to work in another directory: trainrun -chdir=DIR init"},
		{"version -json", func() (any, error) { return ParseVersion([]string{"-json"}) }, &Version{JSON: true}, ""},
		{"destroy", func() (any, error) { return ParseDestroy([]string{"-auto-approve"}) }, &Destroy{Locking: dflt, AutoApprove: true}, ""},
		{"destroy -lock-timeout", func() (any, error) { return ParseDestroy([]string{"-lock-timeout=1s"}) }, &Destroy{Locking: Locking{time.Second}}, ""},
		{"state repair -lock-timeout", func() (any, error) { return ParseState([]string{"repair", "-lock-timeout=3s"}) },
			&State{Locking: Locking{3 * time.Second}, Subcommand: "repair"}, ""},
		{"state migrate", func() (any, error) { return ParseState([]string{"migrate"}) },
			&State{Locking: dflt, Subcommand: "migrate"}, ""},
		{"completion", func() (any, error) { return ParseCompletion([]string{"zsh"}) }, &Completion{Shell: "zsh"}, ""},
		{"completion of another shell", func() (any, error) { return ParseCompletion([]string{"tcsh"}) }, nil, `no completion for shell "tcsh": trainrun completes in bash, zsh, fish`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse()
			switch {
			case tt.wantErr == "help":
				if !IsHelp(err) {
					t.Fatalf("err = %v, want a request for help", err)
				}
				return
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var ae *Error
				if !errors.As(err, &ae) || !strings.HasPrefix(ae.Help(), "Usage: trainrun") {
					t.Errorf("the error carries no usage: %#v", err)
				}
				return
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseGlobal(t *testing.T) {
	tests := []struct {
		args []string
		want Global
	}{
		{[]string{"-chdir=x", "-no-color", "plan", "-json"}, Global{Chdir: "x", NoColor: true, Command: "plan", Args: []string{"-json"}}},
		{[]string{"-h"}, Global{Help: true}},
		{[]string{"--help"}, Global{Help: true}},
		{[]string{"-help"}, Global{Help: true}},
		{[]string{"-version"}, Global{Version: true}},
		{[]string{"--version"}, Global{Version: true}},
		{[]string{"-v"}, Global{Version: true}},
		{nil, Global{}},
		{[]string{"apply", "-h"}, Global{Command: "apply", Args: []string{"-h"}}},
	}
	for _, tt := range tests {
		got, err := ParseGlobal(tt.args)
		if err != nil {
			t.Errorf("ParseGlobal(%q): %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("ParseGlobal(%q) = %+v, want %+v", tt.args, *got, tt.want)
		}
	}
	if _, err := ParseGlobal([]string{"-colour"}); err == nil || IsHelp(err) {
		t.Errorf("an unknown global flag: err = %v", err)
	}
}

// Every command has help that names it and lists its flags, and every
// flag defined is described.
func TestHelp(t *testing.T) {
	for _, c := range Commands() {
		h := Help(c.Name)
		if !strings.HasPrefix(h, "Usage: trainrun [global options] "+c.Name+" ") {
			t.Errorf("help of %s begins %q", c.Name, strings.SplitN(h, "\n", 2)[0])
		}
		for _, f := range Flags(c.Name) {
			if !strings.Contains(h, "  -"+f.Name) {
				t.Errorf("help of %s does not list -%s:\n%s", c.Name, f.Name, h)
			}
		}
		if !strings.Contains(GlobalHelp(), "\n  "+c.Name+" ") {
			t.Errorf("trainrun's help does not list %s", c.Name)
		}
	}
	if !strings.Contains(Help("plan"), "-show-unchanged") {
		t.Errorf("plan's help omits -show-unchanged")
	}
	if !strings.Contains(Help("logs"), "RUN_ID|ADDR") {
		t.Errorf("logs's usage does not say an address works")
	}
}

// TestFlags: the flags completion offers, and which of them take a value.
func TestFlags(t *testing.T) {
	got := map[string]bool{}
	for _, f := range Flags("apply") {
		got[f.Name] = f.TakesValue
	}
	want := map[string]bool{"var": true, "var-file": true, "target": true, "exclude": true, "replace": true,
		"refresh": false, "auto-approve": false, "parallelism": true, "json": false}
	for name, value := range want {
		if v, ok := got[name]; !ok || v != value {
			t.Errorf("Flags(apply) has -%s: %v, takes a value: %v; want %v", name, ok, v, value)
		}
	}
	if _, err := ParseApply([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("apply -h: %v", err)
	}
}
