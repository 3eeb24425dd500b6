// Package snapshot takes content-addressed snapshots of source trees.
//
// A tree is scanned into a Manifest: every file that .gitignore and
// .trainrunignore do not exclude, with its path, mode and the SHA-256 of
// its bytes. The manifest's own hash is the snapshot ID. A Store keeps blobs
// (file hash → bytes) and manifests under one directory so that a run's
// exact source can be materialized again later.
package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
)

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

// Entry modes.
const (
	ModeFile    uint32 = 0o644
	ModeExec    uint32 = 0o755
	ModeSymlink uint32 = 0o120000
)

// IsSymlink reports whether the entry is a symbolic link.
func (e Entry) IsSymlink() bool { return e.Mode == ModeSymlink }

// NewManifest returns the manifest of entries: sorted by path, with its ID.
// It does not validate the entries (see Manifest.Validate).
func NewManifest(entries []Entry) *Manifest {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return &Manifest{ID: ComputeID(sorted), Entries: sorted}
}

// ComputeID returns the snapshot ID of entries, which must be sorted by
// path: the hex SHA-256 of their canonical encoding, a version line
// followed by one record per entry,
//
//	trainrun-snapshot-v1\n
//	<mode in octal> <path>\x00<SHA-256 of the content, 32 raw bytes>
//
// Paths cannot contain NUL and hashes have a fixed length, so the encoding
// is unambiguous. Size is left out: the hash covers the content.
func ComputeID(entries []Entry) string {
	h := newIDHash()
	buf := make([]byte, 0, 32<<10)
	for _, e := range entries {
		buf = appendRecord(buf, e.Mode, e.Path, decodeHash(e.Hash))
		if len(buf) > 24<<10 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

const idVersion = "trainrun-snapshot-v1\n"

func newIDHash() hash.Hash {
	h := sha256.New()
	h.Write([]byte(idVersion))
	return h
}

// appendRecord appends an entry's record of the canonical encoding.
func appendRecord(buf []byte, mode uint32, path string, sum [32]byte) []byte {
	buf = strconv.AppendUint(buf, uint64(mode), 8)
	buf = append(buf, ' ')
	buf = append(buf, path...)
	buf = append(buf, 0)
	return append(buf, sum[:]...)
}

// decodeHash returns the bytes of a hex SHA-256. A malformed one (which
// Validate rejects) maps to a value no well-formed hash can collide with
// by accident, so that ComputeID stays a function of the entries.
func decodeHash(h string) [32]byte {
	var sum [32]byte
	if len(h) == 2*sha256.Size {
		if _, err := hex.Decode(sum[:], []byte(h)); err == nil {
			return sum
		}
	}
	return sha256.Sum256([]byte("malformed hash:" + h))
}

// Size returns the total size of the manifest's entries in bytes.
func (m *Manifest) Size() int64 {
	var n int64
	for _, e := range m.Entries {
		n += e.Size
	}
	return n
}

// Validate checks that the manifest is well formed: its ID matches its
// entries, entries are sorted and unique, paths are clean relative
// slash-separated paths, modes are known and hashes are hex SHA-256.
// It does not check symlink targets (Materialize does).
func (m *Manifest) Validate() error {
	for i, e := range m.Entries {
		if err := validPath(e.Path); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if i > 0 && m.Entries[i-1].Path >= e.Path {
			return fmt.Errorf("entry %q: entries not sorted by path or duplicated", e.Path)
		}
		switch e.Mode {
		case ModeFile, ModeExec, ModeSymlink:
		default:
			return fmt.Errorf("entry %q: unknown mode %o", e.Path, e.Mode)
		}
		if !validHash(e.Hash) {
			return fmt.Errorf("entry %q: malformed hash %q", e.Path, e.Hash)
		}
		if e.Size < 0 {
			return fmt.Errorf("entry %q: negative size", e.Path)
		}
	}
	if id := ComputeID(m.Entries); id != m.ID {
		return fmt.Errorf("manifest ID %s does not match its entries (%s)", m.ID, id)
	}
	return nil
}

// validPath accepts a clean, relative, slash-separated path: no empty, "."
// or ".." element, no leading slash, no NUL.
func validPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("path %q contains NUL", p)
	}
	if p[0] == '/' {
		return fmt.Errorf("path %q is absolute", p)
	}
	for elem := range strings.SplitSeq(p, "/") {
		switch elem {
		case "":
			return fmt.Errorf("path %q has an empty element", p)
		case ".", "..":
			return fmt.Errorf("path %q has a %q element", p, elem)
		}
	}
	return nil
}

// validHash reports whether h is a lower-case hex SHA-256.
func validHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
