package envs

import (
	"path"
	"strings"
)

// LockPackages reads an environment's lock — pip freeze's lines
// ("numpy==1.26.4", "pkg @ file:///…") or conda's explicit list (one
// package URL a line) — and returns how many packages it holds and the
// lines of those that requirements name (a spec's Requirements), in the
// order of the lock: what a person wants to see of 400 lines.
func LockPackages(lock string, requirements []string) (count int, named []string) {
	want := map[string]bool{}
	for _, r := range requirements {
		if n := requirementName.FindString(strings.TrimSpace(r)); n != "" {
			want[canonicalName(n)] = true
		}
	}
	for _, line := range strings.Split(lock, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "@") {
			continue
		}
		count++
		if want[canonicalName(lockName(line))] {
			named = append(named, line)
		}
	}
	return count, named
}

// lockName is the package name of one line of a lock.
func lockName(line string) string {
	if strings.Contains(line, "://") && !strings.Contains(line, " @ ") {
		// conda: .../linux-64/scikit-learn-1.3.0-py311hc009520_0.conda
		base := path.Base(strings.SplitN(line, "#", 2)[0])
		base = strings.TrimSuffix(strings.TrimSuffix(base, ".conda"), ".tar.bz2")
		for range 2 { // the build, then the version
			if i := strings.LastIndexByte(base, '-'); i > 0 {
				base = base[:i]
			}
		}
		return base
	}
	return requirementName.FindString(line)
}
