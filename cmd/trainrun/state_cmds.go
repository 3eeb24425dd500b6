package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/state"
)

// cmdState runs the state subcommands: repair and migrate.
func cmdState(c *cli, args []string) int {
	a, err := arguments.ParseState(args)
	if err != nil {
		return c.argsError(err)
	}
	if a.Subcommand == "migrate" {
		return c.stateMigrate(a)
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

// stateMigrate copies the local state into the configured backend.
func (c *cli) stateMigrate(a *arguments.State) int {
	dst, err := c.sharedState()
	if err != nil {
		return c.errorf("%v", err)
	}
	if dst == nil {
		return c.errorf("state migrate copies .trainrun/ into the backend the trainrun block names, and this configuration names none (the local backend is .trainrun/ itself)")
	}
	defer dst.Close()
	src, err := state.Open(c.dataDir())
	if err != nil {
		return c.errorf("%v", stateError(fmt.Errorf("open state: %w", err)))
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), a.LockTimeout)
	defer cancel()
	n, err := state.Migrate(ctx, dst, src)
	if err != nil {
		return c.errorf("%v", err)
	}
	fmt.Fprintf(c.stdout, "Copied %s into the backend (%s there already), %s and %s.\n", plural.Count(n.Runs, "run"), plural.Count(n.Already, "run"),
		plural.Count(n.Computes, "compute record"), plural.Count(n.Envs, "environment record"))
	return 0
}
