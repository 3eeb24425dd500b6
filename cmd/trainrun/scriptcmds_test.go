package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptCmds are the commands testdata/script suites use beyond
// testscript's own.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// waitfile PATH [REGEXP]: wait (up to 30 s) until PATH exists and, with
	// REGEXP, until its content matches. It is how a script waits for a
	// background command's output: run it as
	//	exec sh -c 'exec trainrun … >out.txt 2>&1' &name&
	// and wait for the line that says what happened (testscript gives a
	// background command's output only once it ended). Scripts wait on
	// such conditions, never for a fixed time: there is no sleep command.
	"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 1 || len(args) > 2 {
			ts.Fatalf("usage: waitfile PATH [REGEXP]")
		}
		var re *regexp.Regexp
		if len(args) == 2 {
			re = regexp.MustCompile(args[1])
		}
		deadline := time.Now().Add(30 * time.Second)
		var b []byte
		for time.Now().Before(deadline) {
			var err error
			b, err = os.ReadFile(ts.MkAbs(args[0]))
			if err == nil && (re == nil || re.Match(b)) {
				if neg {
					ts.Fatalf("%s appeared", args[0])
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !neg {
			if re != nil && b != nil {
				ts.Logf("%s:\n%s", args[0], b)
			}
			ts.Fatalf("timed out waiting for %s", args[0])
		}
	},
	// lines N PATH: PATH has exactly N lines.
	"lines": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: lines N PATH")
		}
		want, err := strconv.Atoi(args[0])
		ts.Check(err)
		b, err := os.ReadFile(ts.MkAbs(args[1]))
		ts.Check(err)
		got := bytes.Count(b, []byte("\n"))
		if (got == want) == neg {
			ts.Fatalf("%s has %d lines; want %s%d", args[1], got, map[bool]string{true: "not ", false: ""}[neg], want)
		}
	},
	// writen N INTERVAL PATH: write PATH N times, INTERVAL apart, each time
	// with other content ("save N"), as an editor saving in a burst.
	"writen": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 {
			ts.Fatalf("usage: writen N INTERVAL PATH")
		}
		n, err := strconv.Atoi(args[0])
		ts.Check(err)
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		for i := range n {
			if i > 0 {
				time.Sleep(d)
			}
			ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte("save "+strconv.Itoa(i+1)+"\n"), 0o644))
		}
	},
}
