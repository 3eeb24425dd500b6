package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/trainrun/trainrun/internal/atomicfile"
	"github.com/trainrun/trainrun/providers"
)

// Environment is the record of one environment prepared on one compute.
type Environment struct {
	Name        string            `json:"name"` // the environment block that prepared it last
	Compute     string            `json:"compute"`
	ComputeKind string            `json:"compute_kind"` // to reach it after it left the configuration
	Spec        providers.EnvSpec `json:"spec"`
	// Location is where it lives on the compute: a directory, an image,
	// an interpreter.
	Location string `json:"location"`
	Lock     string `json:"lock,omitempty"`   // hash of its resolved package set (Environments.Lock)
	Digest   string `json:"digest,omitempty"` // a container image's id
	// Created says trainrun made what Location names, so destroy removes
	// it; Removed that destroy did.
	Created    bool      `json:"created,omitempty"`
	Removed    bool      `json:"removed,omitempty"`
	PreparedAt time.Time `json:"prepared_at"`
}

// Environments records the environments prepared on computes, in
// DIR/environments.json, and their resolved package sets, by content hash,
// in DIR/locks/. Only the holder of the store's lock writes (apply and
// destroy do); readers see the file as it was last replaced, whole. Its
// methods may be called from several goroutines at once.
type Environments struct {
	dir string

	mu   sync.Mutex
	list []*Environment
}

const environmentsName = "environments.json"

// OpenEnvironments reads the records in dir. A missing file is no record.
func OpenEnvironments(dir string) (*Environments, error) {
	e := &Environments{dir: dir}
	data, err := readFile(filepath.Join(dir, environmentsName))
	if errors.Is(err, fs.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read environments: %w", err)
	}
	if err := json.Unmarshal(data, &e.list); err != nil {
		return nil, fmt.Errorf("read environments: %s: %w", filepath.Join(dir, environmentsName), err)
	}
	e.list = slices.DeleteFunc(e.list, func(r *Environment) bool { return r == nil })
	return e, nil
}

// All returns copies of every record, oldest first.
func (e *Environments) All() []*Environment {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Environment, len(e.list))
	for i, r := range e.list {
		out[i] = r.clone()
	}
	return out
}

// Find returns the record of environment id at location on compute (any
// location when location is ""), or nil.
func (e *Environments) Find(compute, id, location string) *Environment {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.list) - 1; i >= 0; i-- {
		r := e.list[i]
		if r.Compute == compute && r.Spec.ID == id && (location == "" || r.Location == location) {
			return r.clone()
		}
	}
	return nil
}

// Last returns the record that environment block name prepared last on
// compute, or nil.
func (e *Environments) Last(name, compute string) *Environment {
	e.mu.Lock()
	defer e.mu.Unlock()
	var best *Environment
	for _, r := range e.list {
		if r.Name == name && r.Compute == compute && (best == nil || !r.PreparedAt.Before(best.PreparedAt)) {
			best = r
		}
	}
	return best.clone()
}

// Spec returns the spec of environment id as recorded on any compute.
func (e *Environments) Spec(id string) (providers.EnvSpec, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.list) - 1; i >= 0; i-- {
		if e.list[i].Spec.ID == id {
			return e.list[i].clone().Spec, true
		}
	}
	return providers.EnvSpec{}, false
}

// Put records rec, replacing the record of the same environment at the same
// place, and writes the file.
func (e *Environments) Put(rec *Environment) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	list := slices.Clone(e.list)
	i := slices.IndexFunc(list, func(r *Environment) bool {
		return r.Compute == rec.Compute && r.Spec.ID == rec.Spec.ID && r.Location == rec.Location
	})
	if i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	list = append(list, rec.clone())
	data, err := json.MarshalIndent(list, "", " ")
	if err != nil {
		return fmt.Errorf("record environment: %w", err)
	}
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return fmt.Errorf("record environment: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(e.dir, environmentsName), data, 0o600, atomicfile.Options{Sync: true}); err != nil {
		return fmt.Errorf("record environment: %w", err)
	}
	e.list = list
	return nil
}

// PutLock stores a resolved package set and returns its hash.
func (e *Environments) PutLock(text string) (string, error) {
	sum := sha256.Sum256([]byte(text))
	h := hex.EncodeToString(sum[:])
	p := filepath.Join(e.dir, "locks", h)
	if _, err := os.Stat(p); err == nil {
		return h, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("store environment lock: %w", err)
	}
	if err := atomicfile.WriteFile(p, []byte(text), 0o600, atomicfile.Options{Sync: true}); err != nil {
		return "", fmt.Errorf("store environment lock: %w", err)
	}
	return h, nil
}

// Lock returns the package set stored under hash.
func (e *Environments) Lock(hash string) (string, error) {
	if len(hash) != 64 {
		return "", fmt.Errorf("environment lock %q: not a hash", hash)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return "", fmt.Errorf("environment lock %q: not a hash", hash)
	}
	data, err := readFile(filepath.Join(e.dir, "locks", hash))
	if err != nil {
		return "", fmt.Errorf("environment lock: %w", err)
	}
	return string(data), nil
}

func (r *Environment) clone() *Environment {
	if r == nil {
		return nil
	}
	c := *r
	c.Spec.Requirements = slices.Clone(r.Spec.Requirements)
	if r.Spec.Attrs != nil {
		c.Spec.Attrs = make(map[string]string, len(r.Spec.Attrs))
		for k, v := range r.Spec.Attrs {
			c.Spec.Attrs[k] = v
		}
	}
	return &c
}
