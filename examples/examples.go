// Package examples holds runnable example projects, each a directory with
// its own README. `trainrun init -example NAME` writes one out.
package examples

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed quickstart digits dvc-style pipeline preemptible slurm ssh sweep-asha
var files embed.FS

// Names lists the examples.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// FS returns the files of the example called name, or nil.
func FS(name string) fs.FS {
	sub, err := fs.Sub(files, name)
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(sub, "trainrun.hcl"); err != nil {
		return nil
	}
	return sub
}
