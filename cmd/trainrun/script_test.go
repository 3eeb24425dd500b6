package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"trainrun": main})
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
			if name, ok := strings.CutPrefix(cond, "exec:"); ok {
				_, err := exec.LookPath(name)
				return err == nil, nil
			}
			return false, nil
		},
		Cmds: scriptCmds,
	})
}
