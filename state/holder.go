package state

import (
	"encoding/json"
	"path/filepath"
)

// ReadHolder says who holds the lock of the store in dir, as the holder
// wrote it, without taking the lock: for a reader that waits on a writer
// (logs -f on a run an apply has yet to start). ok is false when no holder
// is written: the lock is free, or its holder is a moment from saying who
// it is. A holder that was killed leaves its details behind, so check
// that it is alive.
func ReadHolder(dir string) (h Holder, ok bool) {
	data, err := readFile(filepath.Join(dir, lockName))
	if err != nil || len(data) == 0 {
		return Holder{}, false
	}
	if json.Unmarshal(data, &h) != nil || h.PID == 0 {
		return Holder{}, false
	}
	return h, true
}
