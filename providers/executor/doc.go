// Package executor is what a compute needs from a machine: run a command,
// start a detached process and follow it, read and write files, copy a
// snapshot in and results out. Local is the machine trainrun runs on; an
// SSH executor reaches another one, so that the local and ssh computes are
// the same logic over two executors.
//
// Every run, on every executor, is started through one POSIX sh wrapper
// (WrapperArgv): it runs the command in the run's directory with its output
// appended to a log, forwards stop signals to the run's process group,
// enforces the timeout (TERM, then KILL after a grace period), and writes
// the exit code to a file, so that a later trainrun process can learn how a
// run ended without having watched it. Quote and CommandLine build shell
// command lines for executors that go through a remote shell.
package executor
