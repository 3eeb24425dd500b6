// Package remote implements the places a team shares its content in
// (SPEC §9): snapshots and collected outputs, as the content store keeps
// them (snapshot.Remote). A remote is a directory on a shared mount
// (Dir), a directory on any SSH server (SSH) or an S3-compatible bucket
// (S3). Keys are checked before any is used as a path, writes land whole
// (a temporary file renamed into place, or an S3 object), and nothing a
// remote sends is trusted: the store verifies every blob against its hash.
package remote

import (
	"fmt"
	"path/filepath"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
)

// Open returns the remote the configuration's remote block describes;
// relative paths are below the project directory dir. Nothing is
// contacted yet.
func Open(r *lang.Remote, dir string) (snapshot.Remote, error) {
	switch r.Kind {
	case "dir":
		p := r.String("path")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return NewDir(p)
	case "ssh":
		v := providers.Values{}
		for name, val := range r.Attrs {
			if name != "path" {
				v[name] = val
			}
		}
		return NewSSH(v, r.String("path"), dir)
	case "s3":
		return NewS3(r.String("bucket"), r.String("prefix"), r.String("endpoint"), r.String("region"))
	}
	return nil, fmt.Errorf("remote %q: unknown kind", r.Kind)
}
