package envs

import "github.com/trainrun/trainrun/providers"

// Kinds returns every environment kind, by the name a configuration gives
// it: environment "KIND" "NAME".
func Kinds() map[string]providers.EnvironmentKind {
	return map[string]providers.EnvironmentKind{
		"host":      Host(),
		"venv":      Venv(),
		"conda":     Conda(),
		"container": Container(),
	}
}
