package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/trainrun/trainrun/internal/plural"
)

// Remote is another place that holds a store's blobs and manifests: a
// shared directory, an SSH server, an S3 bucket (package remote). Its
// keys are the store's own layout, slash-separated:
//
//	blobs/ab/cdef…        the blob whose SHA-256 is abcdef…
//	manifests/<id>.json   the manifest of snapshot <id>
//
// A remote is never trusted: what is fetched from it is verified against
// its hash before the store keeps it.
type Remote interface {
	// Missing returns those of keys the remote lacks.
	Missing(ctx context.Context, keys []string) ([]string, error)
	// Put stores each object's local file at its key. Each object is
	// written whole or not at all (a reader never sees part of one).
	Put(ctx context.Context, objects []Object) error
	// Get fetches keys, handing each one's content to recv, which may be
	// called from several goroutines at once. A key the remote lacks is
	// an error matching fs.ErrNotExist.
	Get(ctx context.Context, keys []string, recv func(key string, r io.Reader) error) error
	// String names the remote for messages (never with a secret).
	String() string
}

// Object is a local file to put at a key of a remote.
type Object struct {
	Key  string
	Path string // the local file
	Size int64
}

// BlobKey is the remote key of the blob with the given hex SHA-256.
func BlobKey(hash string) string { return "blobs/" + hash[:2] + "/" + hash[2:] }

// ManifestKey is the remote key of the manifest of snapshot id.
func ManifestKey(id string) string { return "manifests/" + id + ".json" }

// ValidKey reports whether key is one a store's remote holds: a blob or a
// manifest key of a well-formed hash. Remotes refuse any other, so that
// no key names a path outside their root.
func ValidKey(key string) bool {
	if rest, ok := strings.CutPrefix(key, "blobs/"); ok {
		return len(rest) == 65 && rest[2] == '/' && validHash(rest[:2]+rest[3:])
	}
	if rest, ok := strings.CutPrefix(key, "manifests/"); ok {
		id, ok := strings.CutSuffix(rest, ".json")
		return ok && validHash(id)
	}
	return false
}

// maxManifest bounds a manifest fetched from a remote (some million
// entries).
const maxManifest = 1 << 30

// remoteState is a store's remote and what it is known to hold.
type remoteState struct {
	r      Remote
	mu     sync.Mutex
	pushed map[string]bool // manifests the remote holds with all their blobs
}

// SetRemote makes r the store's remote: Fetch takes from it what the store
// lacks, Push copies to it what it lacks.
func (s *Store) SetRemote(r Remote) {
	if r == nil {
		s.remote = nil
		return
	}
	s.remote = &remoteState{r: r, pushed: make(map[string]bool)}
}

// Remote returns the store's remote, or nil.
func (s *Store) Remote() Remote {
	if s.remote == nil {
		return nil
	}
	return s.remote.r
}

// Holds reports whether the store holds snapshot id whole: its manifest
// and every blob it names.
func (s *Store) Holds(id string) bool {
	m, err := s.LoadManifest(id)
	if err != nil {
		return false
	}
	for _, e := range m.Entries {
		if !s.Has(e.Hash) {
			return false
		}
	}
	return true
}

// Available reports whether snapshot id can be had whole: the store holds
// it, or its remote holds its manifest (Push puts a manifest there only
// after all its blobs).
func (s *Store) Available(ctx context.Context, id string) bool {
	if s.Holds(id) {
		return true
	}
	if s.remote == nil || !validHash(id) {
		return false
	}
	missing, err := s.remote.r.Missing(ctx, []string{ManifestKey(id)})
	return err == nil && len(missing) == 0
}

// Fetch returns the manifest of snapshot id, first fetching from the
// remote whatever of it the store lacks: the manifest, then the blobs it
// names. Every blob is hashed as it arrives; one whose content is not its
// hash is refused, and so is a manifest that does not hash to id. Without
// a remote it is LoadManifest and a check that every blob is there.
func (s *Store) Fetch(ctx context.Context, id string) (*Manifest, error) {
	if !validHash(id) {
		return nil, fmt.Errorf("fetch: malformed snapshot id %q", id)
	}
	m, err := s.LoadManifest(id)
	if err != nil {
		if s.remote == nil || !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if m, err = s.fetchManifest(ctx, id); err != nil {
			return nil, err
		}
	}
	var want []string
	seen := make(map[string]bool)
	for _, e := range m.Entries {
		if seen[e.Hash] || s.Has(e.Hash) {
			continue
		}
		seen[e.Hash] = true
		want = append(want, BlobKey(e.Hash))
	}
	if len(want) == 0 {
		return m, nil
	}
	if s.remote == nil {
		return nil, fmt.Errorf("the content store lacks %s of snapshot %s", plural.Count(len(want), "file"), id)
	}
	if err := s.fetchBlobs(ctx, want); err != nil {
		return nil, fmt.Errorf("fetch snapshot %s from %s: %w", id, s.remote.r, err)
	}
	return m, nil
}

// fetchManifest fetches, verifies and stores the manifest of id.
func (s *Store) fetchManifest(ctx context.Context, id string) (*Manifest, error) {
	var m Manifest
	err := s.remote.r.Get(ctx, []string{ManifestKey(id)}, func(_ string, r io.Reader) error {
		data, err := io.ReadAll(io.LimitReader(r, maxManifest+1))
		if err != nil {
			return err
		}
		if len(data) > maxManifest {
			return errors.New("manifest too large")
		}
		return json.Unmarshal(data, &m)
	})
	if err != nil {
		return nil, fmt.Errorf("fetch manifest %s from %s: %w", id, s.remote.r, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("fetch manifest %s from %s: refused: it holds manifest %q", id, s.remote.r, m.ID)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("fetch manifest %s from %s: refused: %w", id, s.remote.r, err)
	}
	if err := s.PutManifest(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// fetchBlobs fetches the blobs of keys into the store, each verified
// against its hash in a temporary file and only then renamed into place.
func (s *Store) fetchBlobs(ctx context.Context, keys []string) error {
	var (
		mu   sync.Mutex
		tmps = make(map[string]string) // hash → verified temporary file
	)
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	err := s.remote.r.Get(ctx, keys, func(key string, r io.Reader) error {
		hash := strings.ReplaceAll(strings.TrimPrefix(key, "blobs/"), "/", "")
		if !validHash(hash) || BlobKey(hash) != key {
			return fmt.Errorf("the remote sent %q, which was not asked for", key)
		}
		tmp, err := s.receive(hash, r)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if old := tmps[hash]; old != "" {
			os.Remove(old)
		}
		tmps[hash] = tmp
		return nil
	})
	if err != nil {
		return err
	}
	var list []string
	for _, t := range tmps {
		list = append(list, t)
	}
	if err := syncFiles(s.dir, list); err != nil {
		return err
	}
	var dirs []string
	for hash, tmp := range tmps {
		dst := s.BlobPath(hash)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("store blob %s: %w", hash, err)
		}
		delete(tmps, hash)
		dirs = append(dirs, filepath.Dir(dst))
	}
	return syncDirs(s.dir, dirs)
}

// receive writes r into a temporary file of the store and returns its
// path when its content hashes to hash; otherwise it is refused.
func (s *Store) receive(hash string, r io.Reader) (string, error) {
	tmp, got, _, err := s.tempBlob("fetch-*", r, nil)
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", hash, err)
	}
	if got != hash {
		os.Remove(tmp)
		return "", fmt.Errorf("blob %s arrived corrupted (its content hashes to %s): refused", hash, got)
	}
	return tmp, nil
}

// Push copies to the remote each snapshot of ids (manifests of sources or
// of outputs) that it lacks: first the blobs it lacks, then the manifest,
// so that a manifest on the remote says all its blobs are there too. The
// store must hold each snapshot whole. Without a remote it does nothing.
func (s *Store) Push(ctx context.Context, ids ...string) error {
	if s.remote == nil {
		return nil
	}
	rs := s.remote
	var todo []string
	rs.mu.Lock()
	for _, id := range ids {
		if validHash(id) && !rs.pushed[id] {
			todo = append(todo, id)
		}
	}
	rs.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	mkeys := make([]string, len(todo))
	for i, id := range todo {
		mkeys[i] = ManifestKey(id)
	}
	missing, err := rs.r.Missing(ctx, mkeys)
	if err != nil {
		return fmt.Errorf("push to %s: %w", rs.r, err)
	}
	lacks := make(map[string]bool, len(missing))
	for _, k := range missing {
		lacks[k] = true
	}
	for _, id := range todo {
		if lacks[ManifestKey(id)] {
			if err := s.push(ctx, id); err != nil {
				return fmt.Errorf("push snapshot %s to %s: %w", id, rs.r, err)
			}
		}
		rs.mu.Lock()
		rs.pushed[id] = true
		rs.mu.Unlock()
	}
	return nil
}

// push puts one snapshot's missing blobs, then its manifest.
func (s *Store) push(ctx context.Context, id string) error {
	m, err := s.LoadManifest(id)
	if err != nil {
		return err
	}
	seen := make(map[string]bool)
	var keys []string
	for _, e := range m.Entries {
		if k := BlobKey(e.Hash); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	missing, err := s.remote.r.Missing(ctx, keys)
	if err != nil {
		return err
	}
	objs := make([]Object, 0, len(missing))
	for _, k := range missing {
		hash := strings.ReplaceAll(strings.TrimPrefix(k, "blobs/"), "/", "")
		p := s.BlobPath(hash)
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("the content store lacks blob %s", hash)
		}
		objs = append(objs, Object{Key: k, Path: p, Size: fi.Size()})
	}
	if len(objs) > 0 {
		if err := s.remote.r.Put(ctx, objs); err != nil {
			return err
		}
	}
	p := s.manifestPath(id)
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	return s.remote.r.Put(ctx, []Object{{Key: ManifestKey(id), Path: p, Size: fi.Size()}})
}
