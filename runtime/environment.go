package runtime

import (
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
)

// environmentEnv adds what an instance's environment gives a run.
func environmentEnv(cfg *lang.Config, inst *lang.Instance, env map[string]string) {
	b := cfg.Environments[inst.Environment]
	if b == nil || b.Kind != "host" {
		return
	}
	if py, ok := b.Values["python"]; ok && !py.IsNull() && py.Type() == cty.String {
		env["TRAINRUN_PYTHON"] = py.AsString()
		if dir := filepath.Dir(py.AsString()); filepath.IsAbs(py.AsString()) {
			env[PathPrependVar] = dir
		}
	}
}

// PathPrependVar names directories that the compute puts first on the
// run's PATH (it owns PATH, which differs from one machine to another).
const PathPrependVar = providers.PathPrependVar
