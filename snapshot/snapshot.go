// Package snapshot takes content-addressed snapshots of source trees.
//
// A tree is scanned into a Manifest: every file that .gitignore and
// .trainrunignore do not exclude, with its path, mode and the SHA-256 of
// its bytes. The manifest's own hash is the snapshot ID. A Store keeps blobs
// (file hash → bytes) and manifests under one directory so that a run's
// exact source can be materialized again later.
package snapshot

// Entry is one file of a snapshot.
type Entry struct {
	Path string `json:"path"` // slash-separated, relative to the tree's root
	Mode uint32 `json:"mode"` // 0o644 or 0o755 for files; 0o120000 for symlinks
	Size int64  `json:"size"`
	Hash string `json:"hash"` // hex SHA-256 of the content (of the target, for a symlink)
}

// Manifest is a scanned tree: its entries sorted by path.
type Manifest struct {
	ID      string  `json:"id"` // hex SHA-256 of the canonical encoding of Entries
	Entries []Entry `json:"entries"`
}
