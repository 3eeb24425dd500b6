package runtime

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/trainrun/trainrun/snapshot"
)

// ignoredOutputs explains declared outputs that were not collected (they
// are missing from collected, the run's collected outputs directory) but
// are in the source directory, left out of the snapshot by an ignore
// file: a file DVC tracks is in .gitignore, so the run never had it.
func ignoredOutputs(sourceDir string, outputs []string, collected string) string {
	if sourceDir == "" || len(outputs) == 0 {
		return ""
	}
	var m *snapshot.Matcher
	var hints []string
	for _, o := range outputs {
		clean := path.Clean(strings.TrimSuffix(o, "/"))
		if _, err := os.Lstat(filepath.Join(collected, filepath.FromSlash(clean))); err == nil {
			continue
		}
		fi, err := os.Lstat(filepath.Join(sourceDir, filepath.FromSlash(clean)))
		if err != nil {
			continue
		}
		if m == nil {
			if m, err = snapshot.NewMatcher(sourceDir); err != nil {
				return ""
			}
		}
		switch by := m.ExcludedBy(clean, fi.IsDir()); by {
		case ".gitignore":
			hints = append(hints, fmt.Sprintf("%s is in the source directory, but .gitignore excludes it from the snapshot, so the run's working directory did not have it; to include it, add !%s to .trainrunignore", clean, clean))
		case ".trainrunignore":
			hints = append(hints, fmt.Sprintf("%s is in the source directory, but .trainrunignore excludes it from the snapshot, so the run's working directory did not have it; remove that rule to include it", clean))
		}
	}
	return strings.Join(hints, "; ")
}
