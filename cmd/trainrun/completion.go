package main

import (
	_ "embed"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/state"
)

// The completion scripts ask trainrun itself what completes a word
// ('trainrun __complete …'), so that they complete what this build knows:
// its commands and flags, the configuration's instance addresses and the
// recorded run ids.
var (
	//go:embed completion/trainrun.bash
	bashCompletion string
	//go:embed completion/trainrun.zsh
	zshCompletion string
	//go:embed completion/trainrun.fish
	fishCompletion string
)

func cmdCompletion(c *cli, args []string) int {
	a, err := arguments.ParseCompletion(args)
	if err != nil {
		return c.argsError(err)
	}
	script := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[a.Shell]
	fmt.Fprint(c.stdout, script)
	return 0
}

// complete is 'trainrun __complete SHELL …', which the completion scripts
// call: for bash, the line up to the cursor and the part of the word bash
// replaces; for zsh and fish, the words before the cursor (unquoted) and
// the word at it. It prints one candidate a line; ":files" or ":dirs"
// asks the shell to complete a file or directory name. It never fails
// loudly: a completion that errs completes nothing.
func complete(c *cli, args []string) int {
	if len(args) < 1 {
		return 1
	}
	src := completionSource{c: c}
	var done arguments.Completed
	switch args[0] {
	case "bash":
		if len(args) != 3 {
			return 1
		}
		done = arguments.BashLine(args[1], args[2], src)
	default:
		words := args[1:]
		if len(words) == 0 {
			words = []string{""}
		}
		done = arguments.Complete(words[:len(words)-1], words[len(words)-1], src)
	}
	switch {
	case done.Files:
		fmt.Fprintln(c.stdout, ":files")
	case done.Dirs:
		fmt.Fprintln(c.stdout, ":dirs")
	}
	for _, w := range done.Words {
		fmt.Fprintln(c.stdout, w)
	}
	return 0
}

// completionSource reads the configuration and the state of a directory
// for completion, quietly.
type completionSource struct{ c *cli }

func (s completionSource) abs(dir string) string {
	if dir == "" {
		return s.c.dir
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(s.c.dir, dir)
	}
	return dir
}

// Addresses are every experiment (experiment.NAME) and instance address,
// configured or recorded, experiments first.
func (s completionSource) Addresses(dir string) []string {
	dir = s.abs(dir)
	var exps, insts []string
	add := func(exp, addr string) {
		if e := "experiment." + exp; !slices.Contains(exps, e) {
			exps = append(exps, e)
		}
		if addr != "experiment."+exp && !slices.Contains(insts, addr) {
			insts = append(insts, addr)
		}
	}
	if cfg, diags := lang.Load(dir, lang.Options{Getenv: s.c.getenv, Registry: registry()}); !diags.HasErrors() {
		for _, in := range cfg.Instances {
			add(in.Experiment, in.Address)
		}
	}
	if st, err := state.Open(filepath.Join(dir, ".trainrun")); err == nil {
		for _, r := range st.Runs() {
			add(r.Experiment, r.Address)
		}
		st.Close()
	}
	sort.Strings(exps)
	slices.SortFunc(insts, lang.CompareAddresses)
	return append(exps, insts...)
}

// Runs are the ids of the recorded runs, newest first.
func (s completionSource) Runs(dir string, live bool) []string {
	st, err := state.Open(filepath.Join(s.abs(dir), ".trainrun"))
	if err != nil {
		return nil
	}
	defer st.Close()
	runs := st.Runs()
	var ids []string
	for i := len(runs) - 1; i >= 0; i-- {
		if !live || runs[i].Live() {
			ids = append(ids, runs[i].ID)
		}
	}
	return ids
}
