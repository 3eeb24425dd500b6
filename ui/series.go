package ui

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/trainrun/trainrun/runtime"
)

// seriesCache keeps the metrics files the pages read, parsed: a live run's
// file is read on from where it was read last, so that a page following a
// run with 100,000 points parses only the new ones.
type seriesCache struct {
	mu    sync.Mutex
	files map[string]*seriesFile
}

// maxCachedFiles bounds the files kept parsed.
const maxCachedFiles = 64

type seriesFile struct {
	mu    sync.Mutex
	info  os.FileInfo // of the file read
	off   int64       // bytes parsed: whole lines
	by    map[string]*series
	names []string
}

// read returns every metric in the file at path, by name; nil when it is
// missing or not a regular file (a link is not followed).
func (c *seriesCache) read(path string) []*series {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	c.mu.Lock()
	if c.files == nil {
		c.files = map[string]*seriesFile{}
	}
	sf := c.files[path]
	if sf == nil {
		if len(c.files) >= maxCachedFiles {
			for k := range c.files {
				delete(c.files, k)
				break
			}
		}
		sf = &seriesFile{}
		c.files[path] = sf
	}
	c.mu.Unlock()

	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.info == nil || !os.SameFile(sf.info, fi) || fi.Size() < sf.off {
		sf.off, sf.by, sf.names = 0, map[string]*series{}, nil
	}
	sf.info = fi
	if fi.Size() > sf.off {
		sf.readOn(path, fi.Size())
	}
	out := make([]*series, len(sf.names))
	for i, n := range sf.names {
		s := sf.by[n]
		// The slices as they are now: appending later never changes what
		// they show.
		out[i] = &series{Name: n, X: s.X[:len(s.X):len(s.X)], Y: s.Y[:len(s.Y):len(s.Y)]}
	}
	return out
}

// readOn parses the whole lines between sf.off and size.
func (sf *seriesFile) readOn(path string, size int64) {
	f, err := openNoFollow(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, size-sf.off)
	n, err := f.ReadAt(buf, sf.off)
	if err != nil && err != io.EOF {
		return
	}
	buf = buf[:n]
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		return // no whole line yet
	}
	buf = buf[:end+1]
	added := false
	runtime.EachPoint(bytes.NewReader(buf), func(p runtime.Point) {
		s := sf.by[p.Name]
		if s == nil {
			s = &series{Name: p.Name}
			sf.by[p.Name] = s
			sf.names = append(sf.names, p.Name)
			added = true
		}
		x := float64(len(s.X))
		if p.Step != nil {
			x = *p.Step
		}
		s.X = append(s.X, x)
		s.Y = append(s.Y, p.Value)
	})
	if added {
		slices.SortFunc(sf.names, strings.Compare)
	}
	sf.off += int64(len(buf))
}
