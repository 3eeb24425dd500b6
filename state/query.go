package state

import (
	"cmp"
	"fmt"
	"slices"
)

var _ Backend = (*Store)(nil)

// Heads returns the latest run of every instance that has one, by address.
func (s *Store) Heads() []*Run {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Run, 0, len(s.byAddr))
	for addr := range s.byAddr {
		if r := s.latest(addr); r != nil {
			out = append(out, r.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *Run) int { return cmp.Compare(a.Address, b.Address) })
	return out
}

// Live returns every run that may still be executing, oldest first.
func (s *Store) Live() []*Run {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Run
	for _, e := range s.runs {
		if e.run.Live() {
			out = append(out, e.run.Clone())
		}
	}
	slices.SortFunc(out, compareRuns)
	return out
}

// Get returns the latest record of the run with this exact id.
func (s *Store) Get(id string) (*Run, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.runs[id]; ok {
		return e.run.Clone(), nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// List returns the runs q selects, newest first.
func (s *Store) List(q Query) ([]*Run, error) {
	s.mu.RLock()
	var sel []*Run
	for _, e := range s.runs {
		if q.Match(e.run) {
			sel = append(sel, e.run)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(sel, func(a, b *Run) int { return compareRuns(b, a) })
	sel = page(sel, q)
	out := make([]*Run, len(sel))
	for i, r := range sel {
		out[i] = r.Clone()
	}
	return out, nil
}

// page cuts the page q asks for out of runs.
func page(runs []*Run, q Query) []*Run {
	if q.Offset > 0 {
		runs = runs[min(q.Offset, len(runs)):]
	}
	if q.Limit > 0 && len(runs) > q.Limit {
		runs = runs[:q.Limit]
	}
	return runs
}

// WithFingerprint returns the runs whose fingerprint is fp, newest first:
// a lookup in the index by fingerprint, not a scan.
func (s *Store) WithFingerprint(fp string) ([]*Run, error) {
	s.mu.RLock()
	es := s.byFP[fp]
	sel := make([]*Run, len(es))
	for i, e := range es {
		sel[i] = e.run.Clone()
	}
	s.mu.RUnlock()
	slices.SortFunc(sel, func(a, b *Run) int { return compareRuns(b, a) })
	return sel, nil
}

// Computes returns the records of the computes attached, kept in the
// store's directory (computes.json), read once.
func (s *Store) Computes() (ComputeRecords, error) {
	s.recsMu.Lock()
	defer s.recsMu.Unlock()
	if s.computes == nil {
		c, err := OpenComputes(s.dir)
		if err != nil {
			return nil, err
		}
		s.computes = c
	}
	return s.computes, nil
}

// Environments returns the records of the environments prepared, kept in
// the store's directory (environments.json and locks/), read once.
func (s *Store) Environments() (EnvironmentRecords, error) {
	s.recsMu.Lock()
	defer s.recsMu.Unlock()
	if s.environments == nil {
		e, err := OpenEnvironments(s.dir)
		if err != nil {
			return nil, err
		}
		s.environments = e
	}
	return s.environments, nil
}
