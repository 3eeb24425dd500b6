package state

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trainrun/trainrun/providers"
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
	if e, ok := s.runs[id]; ok {
		defer s.mu.RUnlock()
		return e.run.Clone(), nil
	}
	hi, err := s.historyIndex()
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if i, ok := hi.byID[id]; ok {
		runs, err := s.readHistory([]histEntry{hi.entries[i]})
		if err != nil {
			return nil, err
		}
		return runs[0], nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// Find resolves what a user typed to name a run: a run id, a unique prefix
// of one, or an instance address meaning its latest run.
func (s *Store) Find(ref string) (*Run, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: empty run reference", ErrNotFound)
	}
	s.mu.RLock()
	if e, ok := s.runs[ref]; ok {
		defer s.mu.RUnlock()
		return e.run.Clone(), nil
	}
	if r := s.latest(ref); r != nil {
		defer s.mu.RUnlock()
		return r.Clone(), nil
	}
	hi, err := s.historyIndex()
	if err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	type match struct{ id, address string }
	var matches []match
	for id, e := range s.runs {
		if strings.HasPrefix(id, ref) {
			matches = append(matches, match{id, e.run.Address})
		}
	}
	var hist []histEntry
	for id, i := range hi.byID {
		if _, current := s.runs[id]; !current && strings.HasPrefix(id, ref) {
			matches = append(matches, match{id, hi.entries[i].address})
			hist = append(hist, hi.entries[i])
		}
	}
	var instances []string
	if len(matches) == 0 {
		// experiment.NAME where the experiment is a sweep: say which
		// instances there are.
		for addr := range s.byAddr {
			if strings.HasPrefix(addr, ref+"[") {
				instances = append(instances, addr)
			}
		}
	}
	var one *Run
	if len(matches) == 1 && len(hist) == 0 {
		one = s.runs[matches[0].id].run.Clone()
	}
	s.mu.RUnlock()

	switch len(matches) {
	case 1:
		if one != nil {
			return one, nil
		}
		runs, err := s.readHistory(hist)
		if err != nil {
			return nil, err
		}
		return runs[0], nil
	case 0:
		if len(instances) > 0 {
			slices.Sort(instances)
			return nil, fmt.Errorf("%w: %s has %d instances; name one: %s", ErrAmbiguous, ref, len(instances), listSome(instances))
		}
		return nil, fmt.Errorf("%w: %q is not a run id, a run id prefix, or an instance address with runs", ErrNotFound, ref)
	}
	slices.SortFunc(matches, func(a, b match) int { return cmp.Compare(a.id, b.id) })
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = fmt.Sprintf("%s (%s)", m.id, m.address)
	}
	return nil, fmt.Errorf("%w: %q is the beginning of %d run ids: %s; give more characters", ErrAmbiguous, ref, len(matches), listSome(names))
}

// listed is a run that a query selected: a current one, or one in the
// history, read once the page is cut.
type listed struct {
	created int64
	id      string
	run     *Run       // current
	hist    *histEntry // or in the history
}

// newestFirst orders listed runs newest first: by creation time, then id.
func newestFirst(a, b listed) int {
	if c := cmp.Compare(b.created, a.created); c != 0 {
		return c
	}
	return cmp.Compare(b.id, a.id)
}

// page collects the runs a query selects. With a limit it keeps only the
// first Offset+Limit, newest first, as they are offered: the first page of
// a long history costs one pass over its index, not a sort of all of it.
type page struct {
	k   int // runs kept; 0: all, sorted by the caller
	sel []listed
}

// maxKept bounds what page keeps in order: an insertion costs a copy of up
// to that many, so deeper pages are sorted whole.
const maxKept = 1024

func newPage(q Query) *page {
	if k := q.Offset + q.Limit; q.Limit > 0 && q.Offset >= 0 && k <= maxKept {
		return &page{k: k, sel: make([]listed, 0, k)}
	}
	return &page{}
}

func (p *page) offer(l listed) {
	if p.k == 0 {
		p.sel = append(p.sel, l)
		return
	}
	if len(p.sel) == p.k && newestFirst(l, p.sel[p.k-1]) >= 0 {
		return // older than all that are kept
	}
	i, _ := slices.BinarySearchFunc(p.sel, l, newestFirst)
	if len(p.sel) == p.k {
		p.sel = p.sel[:p.k-1]
	}
	p.sel = slices.Insert(p.sel, i, l)
}

// List returns the runs q selects, newest first.
func (s *Store) List(q Query) ([]*Run, error) {
	return s.list(q, nil)
}

// list returns the runs that q selects and keep accepts (nil: all), newest
// first.
func (s *Store) list(q Query, keep func(fp string) bool) ([]*Run, error) {
	statuses := make(map[providers.State]bool, len(q.Status))
	for _, st := range q.Status {
		statuses[st] = true
	}
	var since int64 = math.MinInt64
	switch {
	case q.Since.IsZero():
	case q.Since.After(time.Unix(0, math.MaxInt64)):
		since = math.MaxInt64 // after every time a run can be created at
	case q.Since.After(time.Unix(0, math.MinInt64)):
		since = q.Since.UnixNano()
	}
	exp, isExp := strings.CutPrefix(q.Address, "experiment.")
	match := func(address, experiment string, status providers.State, created int64, fp string) bool {
		return (q.Address == "" || address == q.Address || isExp && experiment == exp) &&
			(len(statuses) == 0 || statuses[status]) && created >= since && (keep == nil || keep(fp))
	}
	s.mu.RLock()
	hi, err := s.historyIndex()
	page := newPage(q)
	if page.k == 0 {
		n := len(s.runs)
		if err == nil {
			n += len(hi.entries)
		}
		page.sel = make([]listed, 0, n) // grown, it costs more than the sort
	}
	for id, e := range s.runs {
		r := e.run
		if match(r.Address, r.Experiment, r.Status, r.CreatedAt.UnixNano(), r.Fingerprint) {
			page.offer(listed{created: r.CreatedAt.UnixNano(), id: id, run: r})
		}
	}
	if err == nil {
		for i := range hi.entries {
			e := &hi.entries[i]
			if hi.byID[e.id] != i {
				continue // an older line of a run that came back
			}
			if _, current := s.runs[e.id]; current {
				continue
			}
			if match(e.address, e.experiment, e.status, e.created, e.fp) {
				page.offer(listed{created: e.created, id: e.id, hist: e})
			}
		}
	}
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	sel := page.sel
	if page.k == 0 {
		slices.SortFunc(sel, newestFirst)
	}
	if q.Offset > 0 {
		sel = sel[min(q.Offset, len(sel)):]
	}
	if q.Limit > 0 && len(sel) > q.Limit {
		sel = sel[:q.Limit]
	}
	// Read what the page holds of the history in the order of the file.
	var order []int
	for i, l := range sel {
		if l.hist != nil {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(sel[a].hist.off, sel[b].hist.off) })
	entries := make([]histEntry, len(order))
	for j, i := range order {
		entries[j] = *sel[i].hist
	}
	read, err := s.readHistory(entries)
	if err != nil {
		return nil, err
	}
	out := make([]*Run, len(sel))
	for j, i := range order {
		out[i] = read[j]
	}
	for i, l := range sel {
		if l.run != nil {
			out[i] = l.run.Clone()
		}
	}
	return out, nil
}

// WithFingerprint returns the runs whose fingerprint is fp, newest first:
// lookups in the indexes by fingerprint (of the current runs, and of the
// history), not a scan.
func (s *Store) WithFingerprint(fp string) ([]*Run, error) {
	if fp == "" {
		return nil, nil
	}
	s.mu.RLock()
	es := s.byFP[fp]
	sel := make([]*Run, 0, len(es))
	for _, e := range es {
		sel = append(sel, e.run.Clone())
	}
	var hist []histEntry
	hi, err := s.historyIndex()
	if err == nil {
		for _, i := range hi.fingerprints()[fpKey(fp)] {
			e := hi.entries[i]
			if _, current := s.runs[e.id]; !current && hi.byID[e.id] == i {
				hist = append(hist, e)
			}
		}
	}
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	old, err := s.readHistory(hist)
	if err != nil {
		return nil, err
	}
	for _, r := range old {
		if r.Fingerprint == fp {
			sel = append(sel, r)
		}
	}
	slices.SortFunc(sel, func(a, b *Run) int { return compareRuns(b, a) })
	return sel, nil
}

// Runs returns every run recorded, oldest first, reading the whole
// history: for tests and for copying a store. A history that cannot be read
// leaves its runs out.
func (s *Store) Runs() []*Run {
	runs, _ := s.List(Query{})
	slices.Reverse(runs)
	return runs
}

// ByAddress returns every instance address's runs, oldest first.
func (s *Store) ByAddress() map[string][]*Run {
	out := make(map[string][]*Run)
	for _, r := range s.Runs() {
		out[r.Address] = append(out[r.Address], r)
	}
	return out
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
