package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// claimsName is the directory of claim files: one per instance claimed
// (named by a hash of its address), held with flock(2) by the claimant,
// which writes who it is into it. The kernel releases the flock when the
// claimant dies, however it dies, so a claim is never stale; a file whose
// lock is free is no claim, whatever it says.
const claimsName = "claims"

// claimRecord is what a claim file holds.
type claimRecord struct {
	Address string `json:"address"`
	Holder
}

// fileClaim is a claim of a Store.
type fileClaim struct {
	s       *Store
	address string
	f       *os.File
	lost    chan struct{} // never closed: a local claim ends with its process
}

func (c *fileClaim) Address() string       { return c.address }
func (c *fileClaim) Lost() <-chan struct{} { return c.lost }

// Release removes the claim file, then unlocks it. A process waiting on
// the file it removed finds, once it has the lock, that the file is no
// longer there, and tries the new one.
func (c *fileClaim) Release() error {
	s := c.s
	s.mu.Lock()
	if s.claims[c.address] != c {
		s.mu.Unlock()
		return fmt.Errorf("release claim on %s: not held", c.address)
	}
	delete(s.claims, c.address)
	s.mu.Unlock()
	err := os.Remove(c.f.Name())
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("release claim on %s: %w", c.address, err)
	}
	return nil
}

// claimPath is the claim file of address.
func (s *Store) claimPath(address string) string {
	sum := sha256.Sum256([]byte(address))
	return filepath.Join(s.dir, claimsName, hex.EncodeToString(sum[:16]))
}

// Claim claims the instance at address for h, waiting while another
// process holds it until ctx is done.
func (s *Store) Claim(ctx context.Context, address string, h Holder) (Claim, error) {
	if address == "" {
		return nil, errors.New("claim: no address")
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, fmt.Errorf("claim %s: %w", address, ErrClosed)
	case s.claims[address] != nil:
		s.mu.Unlock()
		return nil, fmt.Errorf("claim %s: already claimed by this process", address)
	}
	s.mu.Unlock()
	h = h.fill()
	if err := os.MkdirAll(filepath.Join(s.dir, claimsName), 0o700); err != nil {
		return nil, fmt.Errorf("claim %s: %w", address, err)
	}
	path := s.claimPath(address)
	wait := time.Millisecond
	for {
		f, err := tryClaim(path)
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", address, err)
		}
		if f != nil {
			data, _ := json.Marshal(claimRecord{Address: address, Holder: h})
			if err := f.Truncate(0); err == nil {
				_, err = f.WriteAt(data, 0)
			}
			if err != nil {
				os.Remove(path)
				f.Close()
				return nil, fmt.Errorf("claim %s: write %s: %w", address, path, err)
			}
			c := &fileClaim{s: s, address: address, f: f, lost: make(chan struct{})}
			s.mu.Lock()
			if s.claims == nil {
				s.claims = make(map[string]*fileClaim)
			}
			s.claims[address] = c
			s.mu.Unlock()
			return c, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			holder, _, _ := s.Claimant(address)
			return nil, &ClaimedError{Address: address, Holder: holder, Err: ctx.Err()}
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// tryClaim opens and locks the claim file at path, or returns nil when
// another process holds it.
func tryClaim(path string) (*os.File, error) {
	for range 100 {
		f, err := openFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		ok, err := tryLock(f)
		if err != nil || !ok {
			f.Close()
			return nil, err
		}
		// Its holder may have removed it (Release) after it was opened:
		// only the file at path counts.
		held, err1 := f.Stat()
		now, err2 := os.Lstat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err2 != nil && !errors.Is(err2, fs.ErrNotExist) {
			return nil, err2
		}
	}
	return nil, fmt.Errorf("%s keeps being replaced", path)
}

// Claimant says who holds the claim on address.
func (s *Store) Claimant(address string) (Holder, bool, error) {
	s.mu.RLock()
	c := s.claims[address]
	s.mu.RUnlock()
	if c != nil {
		rec, err := readClaim(c.f)
		return rec.Holder, true, err
	}
	f, err := openFile(s.claimPath(address), os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, fmt.Errorf("claimant of %s: %w", address, err)
	}
	defer f.Close()
	if free, err := tryShared(f); err != nil || free {
		return Holder{}, false, err
	}
	rec, err := readClaim(f)
	if err != nil || rec.Address != address {
		// Held, but not yet (or not readably) said by whom.
		return Holder{}, true, nil
	}
	return rec.Holder, true, nil
}

func readClaim(f *os.File) (claimRecord, error) {
	var rec claimRecord
	data, err := readFrom(f, 0, 4096)
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	return rec, err
}
