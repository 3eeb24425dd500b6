package snapshot

import (
	"cmp"
	"fmt"
	"github.com/trainrun/trainrun/internal/plural"
	"slices"
	"strings"
)

// Stats describe a scanned tree.
type Stats struct {
	Files int   // entries in the manifest
	Bytes int64 // their total size
	// Dirs are the totals of every directory holding snapshotted files
	// (its whole subtree), the root excluded, sorted by path.
	Dirs []DirStats
	// Hashed and HashedBytes count the files read, those whose hash the
	// stat cache could not supply.
	Hashed      int
	HashedBytes int64
}

// DirStats are the totals of one directory's subtree.
type DirStats struct {
	Path  string // slash-separated, relative to the root, without a trailing slash
	Files int
	Bytes int64
}

// Snapshots larger than this draw a warning: every run uploads and stores
// them, and a huge source directory is usually an accident.
const (
	warnBytes = 300_000_000
	warnFiles = 2000
)

// topLevelFiles names the files directly in the root in Largest's result.
const topLevelFiles = "(top-level files)"

// Largest returns up to n directories that hold most of the snapshot, by
// bytes (or by file count when byFiles is set), none inside another. Where
// one directory holds nothing but a single subdirectory, the subdirectory
// is named. Files directly in the root count as one more directory, named
// "(top-level files)".
func (s *Stats) Largest(n int, byFiles bool) []DirStats {
	cands := slices.Clone(s.Dirs)
	top := DirStats{Path: topLevelFiles, Files: s.Files, Bytes: s.Bytes}
	for _, d := range s.Dirs {
		if !strings.Contains(d.Path, "/") {
			top.Files -= d.Files
			top.Bytes -= d.Bytes
		}
	}
	if top.Files > 0 {
		cands = append(cands, top)
	}
	size := func(d DirStats) int64 {
		if byFiles {
			return int64(d.Files)
		}
		return d.Bytes
	}
	slices.SortFunc(cands, func(a, b DirStats) int {
		return cmp.Or(
			cmp.Compare(size(b), size(a)),
			cmp.Compare(b.Files, a.Files),
			cmp.Compare(b.Bytes, a.Bytes),
			// On a tie the deeper directory is the more precise answer.
			cmp.Compare(strings.Count(b.Path, "/"), strings.Count(a.Path, "/")),
			strings.Compare(a.Path, b.Path),
		)
	})
	within := func(a, b string) bool { return a == b || strings.HasPrefix(a, b+"/") }
	var out []DirStats
	for _, c := range cands {
		if len(out) == n {
			break
		}
		overlaps := slices.ContainsFunc(out, func(o DirStats) bool {
			return within(c.Path, o.Path) || within(o.Path, c.Path)
		})
		if !overlaps {
			out = append(out, c)
		}
	}
	return out
}

// Warning returns "" unless the snapshot exceeds 300 MB or 2,000 files.
// Then it returns a message naming the largest directories and suggesting
// a .trainrunignore: every run uploads and stores its snapshot, and a huge
// one is usually data or outputs that landed in the source directory.
func (s *Stats) Warning() string {
	if s.Bytes <= warnBytes && s.Files <= warnFiles {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the source snapshot holds %s files (%s), more than %s files or %s: every run uploads and stores it.\n",
		groupDigits(int64(s.Files)), formatBytes(s.Bytes), groupDigits(warnFiles), formatBytes(warnBytes))
	largest := s.Largest(5, s.Bytes <= warnBytes)
	if len(largest) > 0 {
		b.WriteString("Largest directories:\n")
		width := 0
		for _, d := range largest {
			width = max(width, len(displayDir(d.Path)))
		}
		for _, d := range largest {
			fmt.Fprintf(&b, "  %-*s  %9s  %s files\n", width, displayDir(d.Path), formatBytes(d.Bytes), groupDigits(int64(d.Files)))
		}
	}
	b.WriteString("List what the runs do not need in a .trainrunignore file (.gitignore syntax) in the source directory")
	if len(largest) > 0 && largest[0].Path != topLevelFiles {
		fmt.Fprintf(&b, ", e.g. \"/%s/\"", largest[0].Path)
	}
	b.WriteString(".")
	return b.String()
}

func displayDir(p string) string {
	if p == topLevelFiles {
		return p
	}
	return p + "/"
}

// formatBytes formats n in decimal units: "1.2 GB", "340 MB", "12 kB".
func formatBytes(n int64) string { return plural.Bytes(n) }

// groupDigits formats n with thousands separators: 12,345.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
