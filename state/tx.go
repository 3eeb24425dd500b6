package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Update runs fn as a transaction: under the lock, with the store up to
// date with every writer, writing what fn put as one Put when fn returns
// nil. When this store holds the lock (Lock), fn runs under it; otherwise
// Update takes the lock for the transaction, waiting for it until ctx is
// done, and releases it after without syncing (Sync does).
func (s *Store) Update(ctx context.Context, fn func(Tx) error) error {
	// One transaction of this process at a time: a transaction's reads
	// must not be overtaken by another goroutine's write.
	s.txMu.Lock()
	defer s.txMu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("update state: %w", ErrClosed)
	}
	if s.lock == nil {
		if err := s.begin(ctx); err != nil {
			s.mu.Unlock()
			return err
		}
		defer s.release(false)
	}
	s.mu.Unlock()

	tx := &storeTx{s: s}
	if err := fn(tx); err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLocked(tx.items)
}

// begin takes the lock for a transaction, waiting while another process
// holds it until ctx is done. It requires s.mu, which it releases while it
// waits.
func (s *Store) begin(ctx context.Context) error {
	wait := time.Millisecond
	for {
		err := s.lockLocked(Holder{Command: "trainrun"})
		var locked *LockedError
		if !errors.As(err, &locked) {
			return err
		}
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.mu.Lock()
			return locked
		case <-t.C:
		}
		s.mu.Lock()
		if s.closed {
			return fmt.Errorf("update state: %w", ErrClosed)
		}
		if s.lock != nil {
			// Taken by Lock meanwhile, in this process: write under it.
			return nil
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// storeTx is a transaction of a Store: the store as it is (the caller
// holds the lock) with what the transaction put so far on top.
type storeTx struct {
	s     *Store
	items []item
}

func (tx *storeTx) Serial() uint64 { return tx.s.Serial() }

func (tx *storeTx) Put(runs ...*Run) error {
	items, err := encode(runs)
	if err != nil {
		return err
	}
	tx.items = append(tx.items, items...)
	return nil
}

func (tx *storeTx) Get(id string) (*Run, error) {
	for i := len(tx.items) - 1; i >= 0; i-- {
		if tx.items[i].id == id {
			return tx.items[i].copy.Clone(), nil
		}
	}
	return tx.s.Get(id)
}

func (tx *storeTx) Latest(address string) *Run {
	// The transaction's newest version of each run it put.
	mine := make(map[string]*Run, len(tx.items))
	for _, it := range tx.items {
		mine[it.id] = it.copy
	}
	var best *Run
	consider := func(r *Run) {
		if r.Address == address && r.ReproOf == "" && (best == nil || compareRuns(r, best) > 0) {
			best = r
		}
	}
	s := tx.s
	s.mu.RLock()
	for _, e := range s.byAddr[address] {
		if _, ok := mine[e.run.ID]; !ok {
			consider(e.run)
		}
	}
	s.mu.RUnlock()
	for _, r := range mine {
		consider(r)
	}
	if best != nil {
		return best.Clone()
	}
	return nil
}
