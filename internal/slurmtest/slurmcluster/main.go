// Command slurmcluster starts and stops the test Slurm cluster of package
// slurmtest, for scripts (scripts/bench.sh):
//
//	slurmcluster up     start it, or find it running, and leave it running
//	slurmcluster down   stop it, unless a test process is using it
//
// Both need root; up installs slurm-wlm and munge when missing.
package main

import (
	"fmt"
	"os"

	"github.com/trainrun/trainrun/internal/slurmtest"
)

// script is slurmtest.T for a command: skipping or failing ends it.
type script struct{}

func (script) Helper() {}
func (script) Skip(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(2)
}
func (script) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: slurmcluster up|down")
		os.Exit(2)
	}
	c := slurmtest.Start(script{})
	if os.Args[1] == "down" {
		slurmtest.Stop()
		return
	}
	fmt.Printf("partition=%s node=%s cpus=%d multi=%s\n", c.Partition, c.Node, c.CPUs, c.Multi)
}
