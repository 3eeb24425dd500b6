package planner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/trainrun/trainrun/internal/atomicfile"
)

// Saved plan files are trainrun's own files. One saved inside a source
// directory (as `plan -out p.plan` does where source_dir is ".") must not
// count as a change of the source: then no saved plan would ever apply,
// since writing it changes what it planned. Save records each file it
// writes; snapshots leave out the recorded files that are still as saved.

// planFileRecord is a plan file Save wrote, as it was then.
type planFileRecord struct {
	Path    string `json:"path"` // absolute
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
}

func planFilesPath(dataDir string) string { return filepath.Join(dataDir, "planfiles.json") }

// loadPlanFiles returns the recorded plan files that are still as saved.
func loadPlanFiles(dataDir string) []planFileRecord {
	data, err := os.ReadFile(planFilesPath(dataDir))
	if err != nil {
		return nil
	}
	var recs []planFileRecord
	if json.Unmarshal(data, &recs) != nil {
		return nil // a damaged list only makes a plan file count as a source file
	}
	live := recs[:0]
	for _, r := range recs {
		if fi, err := os.Lstat(r.Path); err == nil && fi.Mode().IsRegular() && fi.Size() == r.Size && fi.ModTime().UnixNano() == r.ModTime {
			live = append(live, r)
		}
	}
	return live
}

// recordPlanFile adds the plan file at path, just written, to the list.
func recordPlanFile(dataDir, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return err
	}
	recs := []planFileRecord{{Path: abs, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}}
	for _, r := range loadPlanFiles(dataDir) {
		if r.Path != abs {
			recs = append(recs, r)
		}
	}
	data, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(planFilesPath(dataDir), data, 0o600, atomicfile.Options{})
}

// planFilesIn returns the saved plan files below dir, as paths relative to
// it, for snapshot.ScanOptions.Skip.
func planFilesIn(dir string, recs []planFileRecord) map[string]bool {
	var skip map[string]bool
	for _, r := range recs {
		rel, err := filepath.Rel(dir, r.Path)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue
		}
		if skip == nil {
			skip = make(map[string]bool)
		}
		skip[filepath.ToSlash(rel)] = true
	}
	return skip
}
