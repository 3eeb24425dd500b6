package executor

import (
	"context"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
)

// TreeHasher is implemented by executors that hash a tree where it is, so
// that trainrun can check what a run did to files it was given without
// fetching them.
type TreeHasher interface {
	// HashTree lists every regular file and symbolic link below dir, as
	// snapshot.Scan records them without ignore files: Path relative to
	// dir and slash-separated, Mode 0o644 or 0o755 for a file (0o755 when
	// any execute bit is set) and 0o120000 for a link, Hash the hex
	// SHA-256 of the content (of the target, for a link); Blob is empty.
	// Links are not followed; entries named .git and directories named
	// .trainrun are left out. A missing dir is an error matching
	// fs.ErrNotExist.
	HashTree(ctx context.Context, dir string) ([]providers.File, error)
}

var _ TreeHasher = Local{}

// HashTree hashes dir on this machine; see TreeHasher.
func (Local) HashTree(ctx context.Context, dir string) ([]providers.File, error) {
	m, _, err := snapshot.Scan(dir, snapshot.ScanOptions{NoIgnore: true})
	if err != nil {
		return nil, err
	}
	files := make([]providers.File, len(m.Entries))
	for i, e := range m.Entries {
		files[i] = providers.File{Path: e.Path, Mode: e.Mode, Hash: e.Hash}
	}
	return files, nil
}
