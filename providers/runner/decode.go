package runner

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/trainrun/trainrun/providers"
)

// What every compute kind decodes the same way from its block.

// MaxCount bounds max_runs and gpus: far beyond any machine or cluster,
// well within int.
const MaxCount = 1 << 20

// Count decodes the whole number attribute name within [lo, hi]: -1 and no
// problem when it is not set (or not known yet). With hi = MaxCount the
// problem says "at least lo" (or "at most MaxCount"), else "from lo to hi".
func Count(v providers.Values, name string, lo, hi int) (int, *providers.Problem) {
	val, ok := v[name]
	if !ok || !val.IsKnown() || val.IsNull() {
		return -1, nil
	}
	val, _ = val.UnmarkDeep() // a value derived from a sensitive variable
	bad := &providers.Problem{Attr: name, Summary: "Invalid " + name,
		Detail: fmt.Sprintf("%s must be a whole number from %d to %d.", name, lo, hi)}
	if hi == MaxCount {
		bad.Detail = fmt.Sprintf("%s must be a whole number, at least %d.", name, lo)
	}
	val, err := convert.Convert(val, cty.Number)
	if err != nil || !val.IsKnown() || val.IsNull() {
		return -1, bad
	}
	f := val.AsBigFloat()
	if !f.IsInt() || f.IsInf() || f.Cmp(big.NewFloat(float64(lo))) < 0 {
		return -1, bad
	}
	if f.Cmp(big.NewFloat(float64(hi))) > 0 {
		if hi == MaxCount {
			bad.Detail = fmt.Sprintf("%s must be at most %d.", name, hi)
		}
		return -1, bad
	}
	n, _ := f.Int64()
	return int(n), nil
}

// ResolveWorkdir makes a workdir on this machine absolute: "~" and "~/…"
// are in the home directory, and a relative path is relative to env.Dir
// (the project's directory; the working directory when not set).
func ResolveWorkdir(workdir string, env providers.Env) (string, error) {
	if workdir == "~" || strings.HasPrefix(workdir, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("workdir %s: %w", workdir, err)
		}
		workdir = filepath.Join(home, workdir[1:])
	}
	if !filepath.IsAbs(workdir) {
		base := env.Dir
		if base == "" {
			wd, err := os.Getwd()
			if err != nil {
				return "", err
			}
			base = wd
		}
		workdir = filepath.Join(base, workdir)
	}
	return filepath.Clean(workdir), nil
}
