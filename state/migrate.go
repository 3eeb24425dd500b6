package state

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	var copied []*Run
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
		c.Runs, copied = len(put), put
		return tx.Put(put...)
	})
	if err != nil {
		return c, fmt.Errorf("migrate: %w", err)
	}
	if k, ok := dst.(LogKeeper); ok {
		// Kept where every checkout reads them, as apply keeps the logs
		// it collects: a teammate's 'trainrun logs' of a migrated run.
		for _, r := range copied {
			if r.Live() || r.Dir == "" {
				continue
			}
			data, err := keptLog(filepath.Join(r.Dir, "log"))
			if err != nil {
				continue // no log collected
			}
			if err := k.PutLog(r.ID, data); err != nil {
				return c, fmt.Errorf("migrate: keep the log of run %s: %w", r.ID, err)
			}
		}
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

// keptLog reads what a LogKeeper keeps of the log file at path: its last
// MaxKeptLog bytes. A link or anything but a regular file is refused.
func keptLog(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > MaxKeptLog {
		if _, err := f.Seek(fi.Size()-MaxKeptLog, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, MaxKeptLog))
}
