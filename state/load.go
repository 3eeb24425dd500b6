package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// formatVersion is the version of state.json this package writes. It reads
// every version up to it: version 1 held every run ever recorded (and no
// history); the first writer that opens such a store moves the runs that
// are no longer current into the history.
const formatVersion = 2

// snapshotFile is state.json.
type snapshotFile struct {
	FormatVersion int               `json:"format_version"`
	Lineage       string            `json:"lineage"`
	History       historyRef        `json:"history"`
	Serial        uint64            `json:"serial"`
	Runs          []json.RawMessage `json:"runs"`
}

// ErrDamaged is matched (errors.Is) by the errors of a store whose files
// are damaged: a line of the journal, or state.json, that cannot be read,
// or serials that do not follow each other. Repair keeps every intact
// record of such a store.
var ErrDamaged = errors.New("state is damaged")

// damageError is an error of a damaged store.
type damageError struct{ err error }

func (e *damageError) Error() string   { return e.err.Error() }
func (e *damageError) Unwrap() []error { return []error{e.err, ErrDamaged} }

func damaged(err error) error { return &damageError{err} }

// maxLoadAttempts bounds how often a reader starts over because a writer
// replaced state.json while it read. Compactions are thousands of records
// apart, so a second attempt practically always succeeds.
const maxLoadAttempts = 100

// loaded is the content of a store's files, read without the lock.
type loaded struct {
	lineage    string
	format     int        // of state.json
	hist       historyRef // of state.json
	serial     uint64
	snapSerial uint64
	index

	snapFile *os.File
	snapInfo os.FileInfo
	readOff  int64 // end of the last complete Put in the journal
	readLine int   // lines up to readOff
	stale    int   // journal lines already in state.json
	torn     bool  // the journal ends with a write cut short
}

func (l *loaded) close() {
	if l != nil && l.snapFile != nil {
		l.snapFile.Close()
	}
}

// load reads the store from its files, replacing what s held, and returns
// what it read.
func (s *Store) load() (*loaded, error) {
	for attempt := 1; ; attempt++ {
		l, changed, err := s.read()
		if !changed {
			if err != nil {
				l.close()
				return nil, err
			}
			s.install(l)
			return l, nil
		}
		l.close()
		if attempt == maxLoadAttempts {
			return nil, fmt.Errorf("read %s: %s kept being replaced while it was read", s.dir, snapshotName)
		}
	}
}

// install makes l the store's content.
func (s *Store) install(l *loaded) {
	if s.snapFile != nil {
		s.snapFile.Close()
	}
	s.lineage, s.serial, s.snapSerial = l.lineage, l.serial, l.snapSerial
	s.format, s.hist = l.format, l.hist
	s.index = l.index
	s.snapFile, s.snapInfo = l.snapFile, l.snapInfo
	s.readOff, s.readLine = l.readOff, l.readLine
	s.stale = l.stale
	s.valid = true
}

// read reads state.json and then the journal. changed reports that
// state.json was replaced meanwhile, so that what was read may miss records
// that a compaction moved from the journal into the new state.json; the
// caller must then read again, whatever err says.
func (s *Store) read() (l *loaded, changed bool, err error) {
	l = &loaded{index: newIndex(0)}
	snapPath := s.path(snapshotName)
	f, err := openFile(snapPath, os.O_RDONLY, 0)
	switch {
	case err == nil:
		// Held open until the next load, so that its inode cannot be
		// reused by a later state.json and fool snapshotChanged.
		l.snapFile = f
		if l.snapInfo, err = f.Stat(); err != nil {
			return l, false, fmt.Errorf("read %s: %w", snapPath, err)
		}
		// Read as one string, of which the records' strings are parts.
		var data strings.Builder
		data.Grow(int(l.snapInfo.Size()) + 1)
		if _, err := io.Copy(&data, f); err != nil {
			return l, false, fmt.Errorf("read %s: %w", snapPath, err)
		}
		if err := l.decodeSnapshot(data.String()); err != nil {
			return l, false, fmt.Errorf("read %s: %w", snapPath, err)
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return l, false, fmt.Errorf("read state: %w", err)
	}

	journalPath := s.path(journalName)
	data, err := readFile(journalPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return l, s.snapshotChanged(l.snapInfo), fmt.Errorf("read %s: %w", journalPath, err)
	}
	if s.snapshotChanged(l.snapInfo) {
		return l, true, nil
	}
	if err := l.replay(data, l.snapInfo != nil, journalPath, snapPath); err != nil {
		return l, false, err
	}
	return l, false, nil
}

// replay applies the journal's records to what state.json held (hasSnap:
// there was one).
func (l *loaded) replay(data []byte, hasSnap bool, journalPath, snapPath string) error {
	sc, err := scanJournal(data, 0, 0)
	if err != nil {
		return damaged(fmt.Errorf("read %s: %w (the file is damaged there; the records after it cannot be trusted)", journalPath, err))
	}
	l.readOff, l.readLine, l.torn = int64(sc.end), sc.lines, sc.torn

	// Records already in state.json come first (a compaction was cut
	// short before it truncated the journal): skip them.
	recs := sc.recs
	for len(recs) > 0 && recs[0].serial <= l.snapSerial {
		recs = recs[1:]
		l.stale++
	}
	if len(recs) > 0 && recs[0].serial != l.snapSerial+1 {
		line := l.stale + 1
		if !hasSnap {
			return damaged(fmt.Errorf("read %s: line %d: it begins at serial %d but %s, which holds the records before it, is missing", journalPath, line, recs[0].serial, snapPath))
		}
		return damaged(fmt.Errorf("read %s: line %d: serial %d follows serial %d of %s: records are missing", journalPath, line, recs[0].serial, l.snapSerial, snapPath))
	}
	if err := applyRecords(recs, l.stale, &l.index); err != nil {
		return damaged(fmt.Errorf("read %s: %w", journalPath, err))
	}
	if n := len(recs); n > 0 {
		l.serial = recs[n-1].serial
	}
	return nil
}

// decodeSnapshot reads state.json's content into l.
func (l *loaded) decodeSnapshot(data string) error {
	if strings.TrimSpace(data) == "" {
		// Not "unexpected end of JSON input": say what is wrong.
		return damaged(errors.New("the file is empty (truncated outside trainrun, which replaces it whole)"))
	}
	snap, err := parseSnapshot(data)
	if err != nil {
		return damaged(err)
	}
	switch {
	case snap.version == 0:
		return damaged(errors.New("not a trainrun state file (no format_version)"))
	case snap.version > formatVersion:
		return fmt.Errorf("written by a newer trainrun (format version %d; this one reads %d): upgrade trainrun", snap.version, formatVersion)
	case snap.hist.Records < 0 || snap.hist.Bytes < 0 || snap.hist.IndexBytes < 0:
		return fmt.Errorf("history %+v: negative", snap.hist)
	}
	l.lineage, l.serial, l.snapSerial = snap.lineage, snap.serial, snap.serial
	l.format, l.hist = snap.version, snap.hist
	l.index = newIndex(len(snap.runs))
	entries := make([]entry, len(snap.runs)) // one allocation for all
	for i, sr := range snap.runs {
		if err := CheckRunID(sr.run.ID); err != nil {
			return damaged(fmt.Errorf("run %d: %w", i+1, err))
		}
		if _, dup := l.runs[sr.run.ID]; dup {
			return damaged(fmt.Errorf("run %d: run %s is recorded twice", i+1, sr.run.ID))
		}
		e := &entries[i]
		*e = entry{run: sr.run, json: sr.json}
		l.runs[sr.run.ID] = e
		l.byAddr[sr.run.Address] = append(l.byAddr[sr.run.Address], e)
		l.indexFP(e)
	}
	return nil
}

// parsedSnapshot is state.json, decoded.
type parsedSnapshot struct {
	version int
	lineage string
	serial  uint64
	hist    historyRef
	runs    []snapshotRun
}

type snapshotRun struct {
	run  *Run
	json string
}

// parseSnapshot decodes state.json.
func parseSnapshot(data string) (parsedSnapshot, error) {
	if snap, ok := parseSnapshotLines(data); ok {
		return snap, nil
	}
	// Not laid out as compact writes it (edited by hand?): read it as any
	// JSON, which is slower but equivalent.
	var raw snapshotFile
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		return parsedSnapshot{}, err
	}
	snap := parsedSnapshot{version: raw.FormatVersion, lineage: raw.Lineage, serial: raw.Serial, hist: raw.History}
	jsons := make([]string, len(raw.Runs))
	for i, js := range raw.Runs {
		jsons[i] = string(js)
	}
	runs, bad, err := decodeAll(jsons)
	if err != nil {
		return parsedSnapshot{}, fmt.Errorf("run %d: %w", bad+1, err)
	}
	for i, r := range runs {
		snap.runs = append(snap.runs, snapshotRun{r, jsons[i]})
	}
	return snap, nil
}

// parseSnapshotLines reads state.json as compact writes it: a header line
// opening the runs array, one run per line, and a line closing it. It
// reports false for anything else.
func parseSnapshotLines(data string) (parsedSnapshot, bool) {
	const open, end = `"runs":[`, "]}\n"
	var snap parsedSnapshot
	header, body, ok := strings.Cut(data, "\n")
	if !ok || !strings.HasSuffix(header, open) || !strings.HasSuffix(body, end) {
		return snap, false
	}
	d := decoder{data: header + "]}"}
	err := d.object(func(k string) error {
		switch k {
		case "format_version":
			return d.intInto(&snap.version)
		case "lineage":
			return d.stringInto(&snap.lineage)
		case "serial":
			n, err := d.number()
			if err == nil {
				snap.serial, err = strconv.ParseUint(n, 10, 64)
			}
			return err
		case "history":
			return d.object(func(k string) error {
				var n int64
				var err error
				if s, e := d.number(); e != nil {
					err = e
				} else {
					n, err = strconv.ParseInt(s, 10, 64)
				}
				switch {
				case err != nil:
					return err
				case k == "records":
					snap.hist.Records = int(n)
				case k == "bytes":
					snap.hist.Bytes = n
				case k == "index_bytes":
					snap.hist.IndexBytes = n
				default:
					return errSlow
				}
				return nil
			})
		case "runs":
			return d.array(func() error { return errSlow })
		}
		return errSlow
	})
	if err != nil || !d.atEnd() {
		return snap, false
	}
	body = strings.TrimSuffix(body, end)
	if body == "" {
		return snap, true
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	for i, line := range lines[:len(lines)-1] {
		if line, ok = strings.CutSuffix(line, ","); !ok {
			return snap, false
		}
		lines[i] = line
	}
	runs, _, err := decodeAll(lines)
	if err != nil {
		return snap, false // for the slow path to report
	}
	snap.runs = make([]snapshotRun, len(runs))
	for i, r := range runs {
		snap.runs[i] = snapshotRun{r, lines[i]}
	}
	return snap, true
}

// decodeAll decodes records on every CPU: decoding is most of what Open
// costs, and every trainrun plan opens the store. On error, bad is the
// index of the first record that failed.
func decodeAll(jsons []string) (runs []*Run, bad int, err error) {
	runs = make([]*Run, len(jsons))
	const minPerWorker = 128
	workers := min(runtime.GOMAXPROCS(0), (len(jsons)+minPerWorker-1)/minPerWorker)
	if workers <= 1 {
		for i, js := range jsons {
			if runs[i], err = decodeRun(js); err != nil {
				return nil, i, err
			}
		}
		return runs, 0, nil
	}
	per := (len(jsons) + workers - 1) / workers
	errs := make([]error, len(jsons))
	var wg sync.WaitGroup
	for lo := 0; lo < len(jsons); lo += per {
		hi := min(lo+per, len(jsons))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				if runs[i], errs[i] = decodeRun(jsons[i]); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, i, err
		}
	}
	return runs, 0, nil
}

// applyRecords decodes the last record of each run in recs and makes it the
// run's latest. Superseded records are never decoded. line0 is the number
// of journal lines before recs[0]. Everything is decoded before anything
// is applied, so nothing is on error.
func applyRecords(recs []record, line0 int, idx *index) error {
	last := make(map[string]int, len(recs))
	for i, r := range recs {
		last[r.id] = i
	}
	var (
		jsons []string
		at    []int // index in recs of each of jsons
	)
	for i, r := range recs {
		if last[r.id] == i {
			// A copy: r.json is part of the whole journal's bytes.
			jsons = append(jsons, string(r.json))
			at = append(at, i)
		}
	}
	runs, bad, err := decodeAll(jsons)
	if err != nil {
		return fmt.Errorf("line %d: %w", line0+at[bad]+1, err)
	}
	for j, i := range at {
		if runs[j].ID != recs[i].id {
			return fmt.Errorf("line %d: the record of run %q is filed under %q", line0+i+1, runs[j].ID, recs[i].id)
		}
	}
	for j, i := range at {
		idx.apply(recs[i].id, runs[j], jsons[j])
	}
	return nil
}

// snapshotChanged reports whether state.json is no longer the file that
// info describes (nil: there was none).
func (s *Store) snapshotChanged(info os.FileInfo) bool {
	now, err := os.Lstat(s.path(snapshotName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return info != nil
	case err != nil:
		return true // cannot tell: read again
	case info == nil:
		return true
	}
	return !os.SameFile(info, now)
}

// reloadJournal reads what was appended to the journal since the last load.
// It reports false when that cannot be done (state.json was replaced, the
// journal was truncated, anything odd) and a full load is needed.
func (s *Store) reloadJournal() bool {
	if !s.valid || s.snapshotChanged(s.snapInfo) {
		return false
	}
	f, err := openFile(s.path(journalName), os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return s.readOff == 0 && !s.snapshotChanged(s.snapInfo)
	}
	if err != nil {
		return false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.Size() < s.readOff {
		return false
	}
	data, err := readFrom(f, s.readOff, info.Size()-s.readOff)
	if err != nil {
		return false
	}
	sc, err := scanJournal(data, s.serial+1, s.readLine)
	if err != nil || s.snapshotChanged(s.snapInfo) {
		return false
	}
	if len(sc.recs) == 0 {
		return true
	}
	if applyRecords(sc.recs, s.readLine, &s.index) != nil {
		return false
	}
	s.serial = sc.recs[len(sc.recs)-1].serial
	s.readOff += int64(sc.end)
	s.readLine += sc.lines
	return true
}

// Reload reads what was written since the store was opened or last
// reloaded, for readers that follow a writer. It does nothing for the
// writer, which has everything.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("reload state: the store is closed")
	case s.lock != nil:
		return nil
	}
	if s.reloadJournal() {
		return nil
	}
	_, err := s.load()
	return err
}

// readFrom reads n bytes at off, or fewer when the file is shorter.
func readFrom(f *os.File, off, n int64) ([]byte, error) {
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:got], nil
}
