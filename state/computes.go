package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/trainrun/trainrun/internal/atomicfile"
	"github.com/trainrun/trainrun/providers"
)

// Compute is the record of a compute trainrun attached to: the machines it
// reached the first time it was used, and what they were.
type Compute struct {
	Name       string                `json:"name"`
	Kind       string                `json:"kind"`
	Hosts      []providers.HostFacts `json:"hosts"`
	AttachedAt time.Time             `json:"attached_at"`
}

// Host returns the facts recorded for host, or nil.
func (c *Compute) Host(host string) *providers.HostFacts {
	for i := range c.Hosts {
		if c.Hosts[i].Host == host {
			return &c.Hosts[i]
		}
	}
	return nil
}

// Computes records the computes attached, in DIR/computes.json: a small
// file of its own beside the run journal, replaced whole (atomically) on
// each change, which happens once per machine. Only the holder of the
// store's lock writes (apply); readers see the file as it was last
// replaced. Its methods may be called from several goroutines at once.
type Computes struct {
	dir string

	mu   sync.Mutex
	recs map[string]*Compute
}

const computesName = "computes.json"

// OpenComputes reads the records in dir. A missing file is no record.
func OpenComputes(dir string) (*Computes, error) {
	c := &Computes{dir: dir, recs: map[string]*Compute{}}
	data, err := readFile(filepath.Join(dir, computesName))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read computes: %w", err)
	}
	var list []*Compute
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("read computes: %s: %w", filepath.Join(dir, computesName), err)
	}
	for _, r := range list {
		if r != nil && r.Name != "" {
			c.recs[r.Name] = r
		}
	}
	return c, nil
}

// Get returns a copy of the record of compute name, or nil.
func (c *Computes) Get(name string) *Compute {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recs[name].clone()
}

// All returns copies of every record, by name.
func (c *Computes) All() []*Compute {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Compute, 0, len(c.recs))
	for _, r := range c.recs {
		out = append(out, r.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Put records rec, replacing the record of the same name, and writes the
// file.
func (c *Computes) Put(rec *Compute) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	recs := make(map[string]*Compute, len(c.recs)+1)
	for k, v := range c.recs {
		recs[k] = v
	}
	recs[rec.Name] = rec.clone()
	list := make([]*Compute, 0, len(recs))
	for _, r := range recs {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	data, err := json.MarshalIndent(list, "", " ")
	if err != nil {
		return fmt.Errorf("record compute %s: %w", rec.Name, err)
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("record compute %s: %w", rec.Name, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(c.dir, computesName), data, 0o600, atomicfile.Options{Sync: true}); err != nil {
		return fmt.Errorf("record compute %s: %w", rec.Name, err)
	}
	c.recs = recs
	return nil
}

func (r *Compute) clone() *Compute {
	if r == nil {
		return nil
	}
	c := *r
	c.Hosts = slices.Clone(r.Hosts)
	for i := range c.Hosts {
		c.Hosts[i].GPUs = slices.Clone(r.Hosts[i].GPUs)
	}
	return &c
}
