package state

import (
	"context"
	"fmt"
	"slices"
)

// Copied says what Migrate did.
type Copied struct {
	Runs, Already  int // runs copied, and runs the destination had already
	Computes, Envs int // compute and environment records copied
}

// Migrate copies every run and record of src into dst, in one transaction
// of dst: a run dst has already (same id, same record) is left alone, so
// that migrating twice copies nothing the second time.
func Migrate(ctx context.Context, dst, src Backend) (Copied, error) {
	var c Copied
	runs, err := src.List(Query{})
	if err != nil {
		return c, fmt.Errorf("migrate: read runs: %w", err)
	}
	slices.Reverse(runs) // oldest first
	err = dst.Update(ctx, func(tx Tx) error {
		c.Runs, c.Already = 0, 0
		var put []*Run
		for _, r := range runs {
			if have, err := tx.Get(r.ID); err == nil {
				a, _, err1 := EncodeRun(have)
				b, _, err2 := EncodeRun(r)
				if err1 == nil && err2 == nil && a == b {
					c.Already++
					continue
				}
			}
			put = append(put, r)
		}
		c.Runs = len(put)
		return tx.Put(put...)
	})
	if err != nil {
		return c, fmt.Errorf("migrate: %w", err)
	}
	sc, err := src.Computes()
	if err != nil {
		return c, fmt.Errorf("migrate: %w", err)
	}
	dc, err := dst.Computes()
	if err != nil {
		return c, fmt.Errorf("migrate: %w", err)
	}
	for _, rec := range sc.All() {
		if dc.Get(rec.Name) == nil {
			if err := dc.Put(rec); err != nil {
				return c, fmt.Errorf("migrate: %w", err)
			}
			c.Computes++
		}
	}
	se, err := src.Environments()
	if err != nil {
		return c, fmt.Errorf("migrate: %w", err)
	}
	de, err := dst.Environments()
	if err != nil {
		return c, fmt.Errorf("migrate: %w", err)
	}
	for _, rec := range se.All() {
		if rec.Lock != "" {
			if text, err := se.Lock(rec.Lock); err == nil {
				if _, err := de.PutLock(text); err != nil {
					return c, fmt.Errorf("migrate: %w", err)
				}
			}
		}
		if de.Find(rec.Compute, rec.Spec.ID, rec.Location) == nil {
			if err := de.Put(rec); err != nil {
				return c, fmt.Errorf("migrate: %w", err)
			}
			c.Envs++
		}
	}
	return c, nil
}
