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

// CheckRunID reports whether id can name a run: letters, digits, '.', '_'
// and '-', beginning with a letter or digit, at most 128 bytes. An id is a
// field of a journal line, is typed by users and names directories
// (.trainrun/runs/ID, a compute's runs/ID), so it must be one harmless path
// element: never "..", a "/" or a name beginning with "-" or ".".
// trainrun's own ids (NewRunID) are 12 hex digits; every id read from state
// is checked, so a tampered record cannot lead a path out of its directory.
func CheckRunID(id string) error {
	if id == "" {
		return fmt.Errorf("run has no id")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("run id %.20q… is longer than %d bytes", id, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return fmt.Errorf("run id %q is not an id: letters, digits, '.', '_' and '-' only, beginning with a letter or digit", id)
		}
	}
	return nil
}
