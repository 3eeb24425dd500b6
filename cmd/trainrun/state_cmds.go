package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/state"
)

// cmdState runs the state subcommands: only "repair" so far.
func cmdState(c *cli, args []string) int {
	a, err := arguments.ParseState(args)
	if err != nil {
		return c.argsError(err)
	}
	rep, err := state.Repair(c.dataDir(), state.Holder{Command: "trainrun state repair"})
	// Another trainrun's transaction: wait for it, at most -lock-timeout.
	for deadline, wait := time.Now().Add(a.LockTimeout), time.Millisecond; errors.As(err, new(*state.LockedError)) && time.Now().Before(deadline); wait = min(2*wait, 50*time.Millisecond) {
		time.Sleep(wait)
		rep, err = state.Repair(c.dataDir(), state.Holder{Command: "trainrun state repair"})
	}
	if err != nil {
		return c.errorf("%v", err)
	}
	if rep.Intact {
		fmt.Fprintf(c.stdout, "The state is intact (%s): nothing to repair.\n", plural.Count(rep.Runs, "run"))
		return 0
	}
	for _, d := range rep.Dropped {
		fmt.Fprintf(c.stdout, "Dropped %s\n", d)
	}
	fmt.Fprintf(c.stdout, "Repaired the state: kept %s of %s; dropped %d.\n", plural.Count(rep.Records, "record"), plural.Count(rep.Runs, "run"), len(rep.Dropped))
	for _, b := range rep.Backups {
		fmt.Fprintf(c.stdout, "The damaged file is kept as .trainrun/%s.\n", b)
	}
	return 0
}

// stateError says how to get back from damaged state.
func stateError(err error) error {
	if errors.Is(err, state.ErrDamaged) {
		return fmt.Errorf("%w\nTo keep every intact record and go on: trainrun state repair", err)
	}
	return err
}
