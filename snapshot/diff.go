package snapshot

import (
	"fmt"
	"slices"
	"strings"
)

// Change lists how a snapshot differs from an earlier one, by path.
type Change struct {
	Added    []string
	Modified []string // content or mode changed
	Removed  []string
}

// Diff compares two manifests. A nil manifest is an empty tree.
func Diff(old, new *Manifest) Change {
	a, b := sortedEntries(old), sortedEntries(new)
	var c Change
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Path < b[j].Path):
			c.Removed = append(c.Removed, a[i].Path)
			i++
		case i == len(a) || b[j].Path < a[i].Path:
			c.Added = append(c.Added, b[j].Path)
			j++
		default:
			if a[i].Hash != b[j].Hash || a[i].Mode != b[j].Mode {
				c.Modified = append(c.Modified, b[j].Path)
			}
			i++
			j++
		}
	}
	return c
}

func sortedEntries(m *Manifest) []Entry {
	if m == nil {
		return nil
	}
	less := func(a, b Entry) int { return strings.Compare(a.Path, b.Path) }
	if slices.IsSortedFunc(m.Entries, less) {
		return m.Entries
	}
	return slices.SortedFunc(slices.Values(m.Entries), less)
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool {
	return len(c.Added) == 0 && len(c.Modified) == 0 && len(c.Removed) == 0
}

// maxNamed is how many paths String names before summarizing the rest.
const maxNamed = 5

// String describes the change for a human, modified paths first:
// "train.py modified, data/x.csv added, old.py removed", naming at most
// five paths and counting the others ("and 12 more").
func (c Change) String() string {
	if c.Empty() {
		return "no changes"
	}
	var parts []string
	total := 0
	for _, group := range []struct {
		paths []string
		verb  string
	}{{c.Modified, "modified"}, {c.Added, "added"}, {c.Removed, "removed"}} {
		for _, p := range group.paths {
			total++
			if len(parts) < maxNamed {
				parts = append(parts, p+" "+group.verb)
			}
		}
	}
	s := strings.Join(parts, ", ")
	if more := total - len(parts); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}
