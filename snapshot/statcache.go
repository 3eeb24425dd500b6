package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/trainrun/trainrun/internal/atomicfile"
	"hash/crc32"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// racyWindow is how old a file's last change (mtime or ctime) must be,
// relative to the moment it was examined, before its cached hash is trusted.
// File timestamps are coarse (a kernel tick, a second on some file systems),
// so a file written again within the same tick keeps its timestamps: a hash
// taken in that tick may describe older content. Such "racy" entries are
// rehashed on the next scan, as git does for racily clean index entries.
const racyWindow = time.Second

// fileStat is the part of a file's metadata that identifies its content
// version: if all of it is unchanged, the content is assumed unchanged.
type fileStat struct {
	size  int64
	mtime int64 // ns since the epoch
	ctime int64 // ns since the epoch
	ino   uint64
	mode  uint32 // raw st_mode, file type included
}

type cacheEntry struct {
	st   fileStat
	hash [32]byte
	racy bool        // changed too close to when it was hashed: verify by hashing again
	seen atomic.Bool // looked up since the last Save
}

// StatCache remembers the hash of each file of a tree by its stat data, so
// that a scan reads only files that changed. Keys are paths relative to the
// scanned root: use one cache per root. It is safe for concurrent use.
type StatCache struct {
	mu      sync.RWMutex // held for reading by lookups
	entries map[string]*cacheEntry
	dirty   bool        // differs from what was loaded or last saved
	scanned atomic.Bool // a scan consulted the cache since the last load or save
}

// NewStatCache returns an empty cache.
func NewStatCache() *StatCache {
	return &StatCache{entries: make(map[string]*cacheEntry)}
}

// Len returns the number of files in the cache.
func (c *StatCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// lookupAll fills in the hash of each regular file whose stat data is
// unchanged, unless its entry is racy. It marks the entries as seen.
func (c *StatCache) lookupAll(files []scanFile) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.scanned.Load() {
		c.scanned.Store(true)
	}
	for i := range files {
		f := &files[i]
		if f.hashed {
			continue // a symlink
		}
		e := c.entries[f.path]
		if e == nil {
			continue
		}
		if !e.seen.Load() {
			e.seen.Store(true)
		}
		if !e.racy && e.st == f.st {
			f.sum, f.hashed = e.hash, true
		}
	}
}

// store records the hash of path, examined at examined (unix ns, taken
// before the stat).
func (c *StatCache) store(path string, st fileStat, sum [32]byte, examined int64) {
	racy := max(st.mtime, st.ctime) >= examined-int64(racyWindow)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scanned.Store(true)
	e := c.entries[path]
	if e == nil {
		e = new(cacheEntry)
		c.entries[path] = e
	}
	e.seen.Store(true)
	if e.st == st && e.hash == sum && e.racy == racy {
		return
	}
	e.st, e.hash, e.racy = st, sum, racy
	c.dirty = true
}

// Cache file layout (all integers little-endian):
//
//	magic    [8]byte "TRSTATC1"
//	count    uint32
//	count × { pathLen uvarint; path; size, mtime, ctime int64; ino uint64;
//	          mode uint32; flags uint8 (1 = racy); hash [32]byte }
//	crc32c   uint32 of everything before it
var statCacheMagic = []byte("TRSTATC1")

const entryFixedSize = 8*4 + 4 + 1 + 32

// LoadStatCache reads a cache saved by Save. A missing or corrupt file
// yields an empty cache: the cache only saves work, it never decides.
func LoadStatCache(path string) (*StatCache, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewStatCache(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("load stat cache: %w", err)
	}
	c, ok := decodeStatCache(data)
	if !ok {
		return NewStatCache(), nil
	}
	return c, nil
}

func decodeStatCache(data []byte) (*StatCache, bool) {
	const header = 8 + 4
	if len(data) < header+4 || !bytes.Equal(data[:8], statCacheMagic) {
		return nil, false
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, false
	}
	n := binary.LittleEndian.Uint32(body[8:])
	if uint64(n) > uint64(len(body))/entryFixedSize {
		return nil, false
	}
	// One string holds every key and one slice every entry: loading 20,000
	// entries then costs a few allocations, not 40,000.
	str := string(body)
	entries := make([]cacheEntry, n)
	c := &StatCache{entries: make(map[string]*cacheEntry, n)}
	off := header
	for i := range entries {
		l, k := binary.Uvarint(body[off:])
		if k <= 0 || l > uint64(len(body)-off-k) {
			return nil, false
		}
		off += k
		key := str[off : off+int(l)]
		off += int(l)
		if len(body)-off < entryFixedSize {
			return nil, false
		}
		b := body[off : off+entryFixedSize]
		e := &entries[i]
		e.st.size = int64(binary.LittleEndian.Uint64(b[0:]))
		e.st.mtime = int64(binary.LittleEndian.Uint64(b[8:]))
		e.st.ctime = int64(binary.LittleEndian.Uint64(b[16:]))
		e.st.ino = binary.LittleEndian.Uint64(b[24:])
		e.st.mode = binary.LittleEndian.Uint32(b[32:])
		e.racy = b[36]&1 != 0
		copy(e.hash[:], b[37:])
		off += entryFixedSize
		c.entries[key] = e
	}
	if off != len(body) {
		return nil, false
	}
	return c, true
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes the cache to path atomically (a temporary file renamed over
// it), mode 0600. Entries of files that no scan has seen since the cache
// was loaded are dropped first: their files no longer exist (or are now
// ignored). Save does nothing when nothing changed.
func (c *StatCache) Save(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scanned.Load() {
		for k, e := range c.entries {
			if !e.seen.Load() {
				delete(c.entries, k)
				c.dirty = true
			}
		}
	}
	if !c.dirty {
		c.resetSeen()
		return nil
	}
	buf := make([]byte, 0, 12+len(c.entries)*(entryFixedSize+48))
	buf = append(buf, statCacheMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(c.entries)))
	for k, e := range c.entries {
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.st.size))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.st.mtime))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.st.ctime))
		buf = binary.LittleEndian.AppendUint64(buf, e.st.ino)
		buf = binary.LittleEndian.AppendUint32(buf, e.st.mode)
		var flags byte
		if e.racy {
			flags = 1
		}
		buf = append(buf, flags)
		buf = append(buf, e.hash[:]...)
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	if err := atomicfile.WriteFile(path, buf, 0o600, atomicfile.Options{}); err != nil {
		return fmt.Errorf("save stat cache: %w", err)
	}
	c.dirty = false
	c.resetSeen()
	return nil
}

func (c *StatCache) resetSeen() {
	if !c.scanned.Load() {
		return
	}
	for _, e := range c.entries {
		e.seen.Store(false)
	}
	c.scanned.Store(false)
}
