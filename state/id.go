package state

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// NewRunID returns a new run id: 12 lowercase hex characters, random, so
// that a few leading characters are usually enough to name a run.
func NewRunID() string {
	var b [6]byte
	rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b[:])
}

// maxIDLen bounds a run id, which appears in every journal line.
const maxIDLen = 128

// checkID reports whether id can name a run: printable ASCII without
// spaces, since it is a field of a journal line and is typed by users.
func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("run has no id")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("run id %.20q… is longer than %d bytes", id, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("run id %q: only printable ASCII characters without spaces are allowed", id)
		}
	}
	return nil
}
