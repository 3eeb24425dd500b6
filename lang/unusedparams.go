package lang

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Bounds of the look into source directories for a param read from the
// environment: beyond them, a param is taken as used.
const (
	paramScanMaxFiles = 5000
	paramScanMaxSize  = 1 << 20 // larger files are data, not code
)

// warnUnusedParams warns about each swept parameter that nothing uses:
// no param.NAME in the attributes evaluated per run (command, shell, env,
// resources, …), no params_file, and no file of the source directory
// that mentions TRAINRUN_PARAM (TRAINRUN_PARAM_NAME, TRAINRUN_PARAMS).
// Its values would make runs that differ only in their key. The
// parameters a for_each match brings are not the sweep's: their
// instances differ by their inputs.
func (l *loader) warnUnusedParams(e *expDecl, dims []sweepDim, feDim int, insts []*Instance) {
	if len(insts) < 2 {
		return
	}
	used := map[string]bool{}
	for _, t := range e.paramRefs {
		if name, ok := stepName(t, 1); ok {
			used[name] = true
		}
	}
	var unused []string
	for i, d := range dims {
		if i == feDim {
			continue
		}
		for _, name := range d.names {
			if !used[name] && len(d.alts) > 1 {
				unused = append(unused, name)
			}
		}
	}
	if len(unused) == 0 {
		return
	}
	var dirs []string
	for _, inst := range insts {
		if inst.ParamsFile != "" {
			return
		}
		if !slices.Contains(dirs, inst.SourceDir) {
			dirs = append(dirs, inst.SourceDir)
		}
	}
	for _, dir := range dirs {
		if mentionsParams(dir) {
			return
		}
	}
	slices.Sort(unused)
	for _, name := range unused {
		l.add(hcl.Diagnostics{{
			Severity: hcl.DiagWarning,
			Summary:  "Sweep parameter used nowhere",
			Detail: fmt.Sprintf("The sweep gives %s several values, but nothing passes it to the run: no param.%s in command, shell, env or another per-run attribute, no params_file, and no file of the source directory mentions TRAINRUN_PARAM_%s or TRAINRUN_PARAMS. Its instances would run the same thing. Pass it on (for example \"--%s\", param.%s in command), or remove it from the sweep.",
				name, name, strings.ToUpper(name), name, name),
			Subject: paramSubject(e, name),
		}})
	}
}

// paramSubject is where the sweep sets the parameter name: its key in
// grid, its attribute in random, asha's budget.
func paramSubject(e *expDecl, name string) *hcl.Range {
	if g := e.sweep["grid"]; g != nil {
		if items, diags := hcl.ExprMap(g.Expr); !diags.HasErrors() {
			for _, kv := range items {
				if k := hcl.ExprAsKeyword(kv.Key); k == name {
					return kv.Key.Range().Ptr()
				}
				if v, diags := kv.Key.Value(nil); !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type().FriendlyName() == "string" && v.AsString() == name {
					return kv.Key.Range().Ptr()
				}
			}
		}
	}
	if a := e.random[name]; a != nil {
		return a.NameRange.Ptr()
	}
	if a := e.policies.asha["budget"]; a != nil {
		return a.Range.Ptr()
	}
	return &e.sweepRange
}

// mentionsParams reports whether a file of the source directory dir
// mentions TRAINRUN_PARAM, or whether that cannot be told (too many files,
// one unreadable).
func mentionsParams(dir string) bool {
	needle := []byte("TRAINRUN_PARAM")
	files := 0
	found := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".trainrun", "__pycache__", "node_modules":
				if p != dir {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if files++; files > paramScanMaxFiles {
			return fs.SkipAll
		}
		info, err := d.Info()
		if err != nil || info.Size() > paramScanMaxSize {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found || err != nil || files > paramScanMaxFiles
}
