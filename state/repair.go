package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/trainrun/trainrun/internal/atomicfile"
)

// Repaired says what Repair did.
type Repaired struct {
	Runs    int      // runs recorded after the repair
	Records int      // records read and kept (state.json's runs and journal lines)
	Dropped []string // what was dropped, a line each: "journal line 77: checksum mismatch"
	// Backups are the damaged files as they were, kept beside the store
	// (nothing is deleted): "journal.damaged-20260102T150405".
	Backups []string
	// Intact says there was nothing to repair; nothing was changed.
	Intact bool
}

// Repair takes the lock of the store in dir and rewrites a damaged store
// from every record in it that is intact: the runs of state.json that
// decode, and every journal line whose checksum, fields and JSON are sound,
// in the order they were written, the last record of a run winning. Serials
// that do not follow each other (two writers that wrote one journal) are
// not an error here: each intact record is kept. What cannot be read is
// dropped, and said. The damaged files are kept, renamed, beside the new
// state.json; the new serial is above every serial seen, so that a plan
// made before is stale. A store that loads as it is is left alone.
func Repair(dir string, holder Holder) (Repaired, error) {
	var rep Repaired
	if s, err := Open(dir); err == nil {
		rep.Runs, err = s.count()
		rep.Intact = err == nil
		s.Close()
		if err == nil {
			return rep, nil
		}
	} else if errors.As(err, new(*LinkError)) {
		return rep, err // a link is not damage: it is the user's to remove
	}
	s := &Store{dir: dir, compactEvery: compactEvery, compactOnClose: compactOnClose, index: newIndex(0)}
	holder = holder.fill()
	path := s.path(lockName)
	d, err := lockDir(dir, path)
	if err != nil {
		return rep, err
	}
	if d != nil {
		defer d.Close()
	}
	lock, err := acquire(path)
	if err != nil {
		return rep, err
	}
	defer func() {
		lock.Truncate(0)
		lock.Close()
	}()
	if err := writeHolder(lock, holder); err != nil {
		return rep, fmt.Errorf("repair state: write %s: %w", path, err)
	}

	// state.json: the runs that decode.
	snapPath := s.path(snapshotName)
	var maxSerial uint64
	var hist historyRef
	histOK := false
	snapIDs := map[string]bool{}
	snapData, err := readFile(snapPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		snapData = nil
	case err != nil:
		return rep, fmt.Errorf("repair state: %w", err)
	}
	if snapData != nil {
		if v := snapshotVersion(snapData); v > formatVersion {
			return rep, fmt.Errorf("repair state: %s was written by a newer trainrun (format version %d; this one reads %d): upgrade trainrun", snapPath, v, formatVersion)
		}
		lineage, serial, h, ok, runs, dropped := salvageSnapshot(string(snapData))
		s.lineage, maxSerial = lineage, serial
		hist, histOK = h, ok
		for _, r := range runs {
			snapIDs[r.run.ID] = true
			s.index.apply(r.run.ID, r.run, r.json)
		}
		rep.Records += len(runs)
		for _, d := range dropped {
			rep.Dropped = append(rep.Dropped, snapshotName+" "+d)
		}
	}

	// The history: what its header says, when it can; else every record
	// from the start up to the first that is not intact.
	var histDropped []string
	s.hist, histDropped = salvageHistory(dir, hist, histOK)
	rep.Dropped = append(rep.Dropped, histDropped...)

	// The journal: every intact line, in order. A record at or below
	// state.json's serial may have been compacted into it already: state.json's
	// version of a run it holds wins over such a record.
	journalPath := s.path(journalName)
	jdata, err := readFile(journalPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, fmt.Errorf("repair state: %w", err)
	}
	snapSerial := maxSerial
	for n, line := range bytes.SplitAfter(jdata, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		where := fmt.Sprintf("%s line %d", journalName, n+1)
		body, complete := bytes.CutSuffix(line, []byte("\n"))
		if !complete {
			rep.Dropped = append(rep.Dropped, where+": cut short (no end of line)")
			continue
		}
		r, err := parseRecord(body)
		if err != nil {
			rep.Dropped = append(rep.Dropped, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		run, err := decodeRun(string(r.json))
		switch {
		case err != nil:
			rep.Dropped = append(rep.Dropped, fmt.Sprintf("%s: run %s: %v", where, r.id, err))
			continue
		case run.ID != r.id:
			rep.Dropped = append(rep.Dropped, fmt.Sprintf("%s: the record of run %q is filed under %q", where, run.ID, r.id))
			continue
		}
		maxSerial = max(maxSerial, r.last)
		rep.Records++
		if r.serial <= snapSerial && snapIDs[r.id] {
			continue // state.json has this run, as of a later compaction
		}
		s.index.apply(r.id, run, string(r.json))
	}

	stamp := time.Now().UTC().Format("20060102T150405")
	backups := []struct {
		name string
		data []byte
	}{{snapshotName, snapData}, {journalName, jdata}}
	if len(histDropped) > 0 {
		// The history past what is intact is cut off: kept first.
		for _, name := range []string{historyName, historyIndexName} {
			if data, err := readFile(s.path(name)); err == nil {
				backups = append(backups, struct {
					name string
					data []byte
				}{name, data})
			}
		}
	}
	for _, f := range backups {
		if f.data == nil {
			continue
		}
		backup := f.name + ".damaged-" + stamp
		if err := atomicfile.WriteFile(s.path(backup), f.data, 0o600, atomicfile.Options{Sync: true}); err != nil {
			return rep, fmt.Errorf("repair state: keep a copy of %s: %w", f.name, err)
		}
		rep.Backups = append(rep.Backups, backup)
	}
	// compact writes state.json and truncates the journal.
	j, err := openFile(journalPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return rep, fmt.Errorf("repair state: %w", err)
	}
	defer j.Close()
	s.journal = j
	s.serial = maxSerial + 1
	if err := s.compact(); err != nil {
		return rep, fmt.Errorf("repair state: %w", err)
	}
	rep.Runs, err = s.count()
	return rep, err
}

// snapshotVersion is the format_version a state.json says it has, or 0.
func snapshotVersion(data []byte) int {
	m := regexp.MustCompile(`"format_version":\s*([0-9]+)`).FindSubmatch(data)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// snapshotHeader finds the lineage and serial of a state.json that does not
// parse.
var snapshotHeader = regexp.MustCompile(`"lineage":\s*"([0-9a-f]*)"\s*,\s*"serial":\s*([0-9]+)`)

// salvageSnapshot reads what it can of state.json: all of it when it parses,
// else every line that holds one whole run (compact writes one a line).
func salvageSnapshot(data string) (lineage string, serial uint64, hist historyRef, histOK bool, runs []snapshotRun, dropped []string) {
	if snap, err := parseSnapshot(data); err == nil && snap.version > 0 {
		ok := true
		for _, r := range snap.runs {
			if CheckRunID(r.run.ID) != nil {
				ok = false
			}
		}
		if ok {
			return snap.lineage, snap.serial, snap.hist, true, snap.runs, nil
		}
	}
	if m := snapshotHeader.FindStringSubmatch(data); m != nil {
		lineage = m[1]
		serial, _ = strconv.ParseUint(m[2], 10, 64)
	}
	seen := map[string]bool{}
	for n, line := range strings.Split(data, "\n") {
		line = strings.TrimSuffix(strings.TrimSpace(line), ",")
		if !strings.HasPrefix(line, "{") || strings.HasPrefix(line, `{"format_version"`) {
			continue
		}
		where := fmt.Sprintf("line %d", n+1)
		if !json.Valid([]byte(line)) {
			dropped = append(dropped, where+": not a whole record")
			continue
		}
		r, err := decodeRun(line)
		if err == nil {
			err = CheckRunID(r.ID)
		}
		if err == nil && seen[r.ID] {
			err = fmt.Errorf("run %s is recorded twice", r.ID)
		}
		if err != nil {
			dropped = append(dropped, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		seen[r.ID] = true
		runs = append(runs, snapshotRun{r, line})
	}
	return lineage, serial, hist, false, runs, dropped
}
