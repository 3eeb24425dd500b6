package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/trainrun/trainrun/internal/slurmtest"
)

func TestMain(m *testing.M) {
	testscript.Main(stopServices{m}, map[string]func(){"trainrun": main})
}

// stopServices stops the test Slurm cluster after the tests, unless another
// test process still uses it.
type stopServices struct{ *testing.M }

func (s stopServices) Run() int {
	defer slurmtest.Stop()
	return s.M.Run()
}

// TestScripts runs the end-to-end CLI suites in testdata/script, as
// cmd/go does.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Runs see a real PATH (python3, sh) and a real HOME.
			env.Setenv("PATH", os.Getenv("PATH"))
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "python3":
				_, err := exec.LookPath("python3")
				return err == nil, nil
			case "linux":
				return runtime.GOOS == "linux", nil
			}
			if name, ok := strings.CutPrefix(cond, "installed:"); ok {
				// A program the suite needs (scripts/test-deps.sh installs
				// it): missing, the suite skips, except in CI.
				if _, err := exec.LookPath(name); err != nil {
					if os.Getenv("TRAINRUN_REQUIRE_INTEGRATION") == "1" {
						return false, fmt.Errorf("%s is not installed (scripts/test-deps.sh installs it) and TRAINRUN_REQUIRE_INTEGRATION=1", name)
					}
					return false, nil
				}
				return true, nil
			}
			if name, ok := strings.CutPrefix(cond, "exec:"); ok {
				_, err := exec.LookPath(name)
				return err == nil, nil
			}
			return false, nil
		},
		Cmds: scriptCmds,
	})
}
