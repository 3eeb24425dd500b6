package planner

import (
	"path/filepath"
	"slices"

	"github.com/trainrun/trainrun/fswatch"
	"github.com/trainrun/trainrun/lang"
)

// WatchTargets are the files a plan of the project in dir depends on, to
// watch for changes (watch, the web UI's plan): the configuration files of
// dir, the variable files (relative to dir unless absolute), and every
// source_dir of cfg, with what they include. With no valid configuration (cfg nil), the first two.
func WatchTargets(dir string, varFiles []string, cfg *lang.Config) fswatch.Targets {
	t := fswatch.Targets{Dirs: []fswatch.Dir{{Path: dir, Match: lang.IsConfigFile}}}
	for _, f := range varFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		t.Files = append(t.Files, f)
	}
	if cfg != nil {
		for _, in := range cfg.Instances {
			if !slices.Contains(t.Trees, in.SourceDir) {
				t.Trees = append(t.Trees, in.SourceDir)
			}
			for _, inc := range in.Include {
				switch {
				case inc.Dir && !slices.Contains(t.Trees, inc.Path):
					t.Trees = append(t.Trees, inc.Path)
				case !inc.Dir && !slices.Contains(t.Files, inc.Path):
					t.Files = append(t.Files, inc.Path)
				}
			}
		}
		slices.Sort(t.Trees)
	}
	return t
}
