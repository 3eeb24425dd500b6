package state

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/trainrun/trainrun/internal/atomicfile"
	"github.com/trainrun/trainrun/providers"
)

// The history: runs that are no longer current. state.json holds only the
// current records (the latest run of every instance and every live run), so
// that opening a store costs what its instances cost, not what its past
// does. Compaction moves every other record to the end of two append-only
// files:
//
//	history      one line per record: "CRC ID JSON", CRC the CRC-32C (hex)
//	             of the rest of the line
//	history.idx  one line per record: "OFF LEN CREATED ID STATUS FP EXP ADDR",
//	             where the record is in history (byte offset and length of
//	             its line), its creation time (Unix nanoseconds), id,
//	             status, the first 16 digits of its fingerprint ("-": none),
//	             and its experiment and address, quoted as Go strings
//
// state.json says how much of each file is history (historyRef): bytes past
// that were appended by a compaction that a crash cut short before it
// replaced state.json; readers ignore them and the next compaction cuts
// them off. A run's record in history is replaced by a later one (a run that
// came back, as destroy marks it cleaned, and left again): the last line of
// an id wins.
const (
	historyName      = "history"
	historyIndexName = "history.idx"
)

// historyRef is how much of the history files state.json covers.
type historyRef struct {
	Records    int   `json:"records"`
	Bytes      int64 `json:"bytes"`
	IndexBytes int64 `json:"index_bytes"`
}

// histEntry is one line of history.idx.
type histEntry struct {
	off, len            int64
	created             int64 // Unix nanoseconds
	id                  string
	status              providers.State
	fp                  string // the fingerprint's first 16 digits; "" when it has none
	experiment, address string
}

// histIndex is history.idx, read.
type histIndex struct {
	lineage string // of the store it was read from
	ref     historyRef
	entries []histEntry
	byID    map[string]int // the last entry of each id

	// The entries of each fingerprint key (fpKey), made when first
	// needed: only the run cache asks, and most commands never do.
	fpOnce sync.Once
	byFP   map[string][]int
}

// fingerprints returns the entries of each fingerprint key.
func (hi *histIndex) fingerprints() map[string][]int {
	hi.fpOnce.Do(func() {
		hi.byFP = make(map[string][]int)
		for i, e := range hi.entries {
			if e.fp != "" {
				hi.byFP[e.fp] = append(hi.byFP[e.fp], i)
			}
		}
	})
	return hi.byFP
}

// fpKey is what the index keeps of a fingerprint.
func fpKey(fp string) string { return fp[:min(16, len(fp))] }

// appendIndexLine appends the index line of the record of r, whose line in
// history is at off and len bytes long.
func appendIndexLine(b []byte, off, n int64, r *Run) []byte {
	b = strconv.AppendInt(b, off, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.CreatedAt.UnixNano(), 10)
	b = append(b, ' ')
	b = append(b, r.ID...)
	b = append(b, ' ')
	b = append(b, orDash(string(r.Status))...)
	b = append(b, ' ')
	b = append(b, orDash(fpKey(r.Fingerprint))...)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, r.Experiment)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, r.Address)
	return append(b, '\n')
}

func orDash(s string) string {
	if s == "" || strings.ContainsAny(s, " \n") {
		return "-"
	}
	return s
}

// parseIndexLine parses one line of history.idx, without its newline.
func parseIndexLine(line string) (histEntry, error) { return parseIndexLineIn(line, nil) }

// parseIndexLineIn is parseIndexLine sharing, through intern, the strings
// that many lines repeat: an address, quoted with escapes (the quotes of a
// sweep point's key), is unquoted once, not once per run of its instance.
func parseIndexLineIn(line string, intern map[string]string) (histEntry, error) {
	var e histEntry
	var f [6]string
	rest := line
	for i := range f {
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, " "); !ok {
			return e, errors.New("missing fields")
		}
	}
	var err error
	if e.off, err = strconv.ParseInt(f[0], 10, 64); err != nil || e.off < 0 {
		return e, fmt.Errorf("bad offset %q", f[0])
	}
	if e.len, err = strconv.ParseInt(f[1], 10, 64); err != nil || e.len <= 0 {
		return e, fmt.Errorf("bad length %q", f[1])
	}
	if e.created, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return e, fmt.Errorf("bad time %q", f[2])
	}
	if err := CheckRunID(f[3]); err != nil {
		return e, err
	}
	e.id = f[3]
	if f[4] != "-" {
		e.status = providers.State(f[4])
	}
	if f[5] != "-" {
		e.fp = f[5]
	}
	exp, rest, err := cutQuoted(rest, intern)
	if err != nil {
		return e, fmt.Errorf("bad experiment: %w", err)
	}
	if rest, ok := strings.CutPrefix(rest, " "); !ok {
		return e, errors.New("missing address")
	} else if e.address, rest, err = cutQuoted(rest, intern); err != nil || rest != "" {
		return e, fmt.Errorf("bad address: %v", err)
	}
	e.experiment = exp
	return e, nil
}

// cutQuoted reads a Go-quoted string at the beginning of s. intern, when
// not nil, maps the quoted strings with escapes already read to their
// values.
func cutQuoted(s string, intern map[string]string) (v, rest string, err error) {
	if len(s) == 0 || s[0] != '"' {
		return "", s, errors.New("not quoted")
	}
	// Without escapes, the string is what lies between the quotes.
	if end := strings.IndexByte(s[1:], '"'); end >= 0 && !strings.Contains(s[1:1+end], `\`) {
		return s[1 : 1+end], s[2+end:], nil
	}
	q, err := quotedPrefix(s)
	if err != nil {
		return "", s, err
	}
	if v, ok := intern[q]; ok {
		return v, s[len(q):], nil
	}
	if v, err = strconv.Unquote(q); err == nil && intern != nil {
		intern[q] = v
	}
	return v, s[len(q):], err
}

// quotedPrefix is strconv.QuotedPrefix, fast for what the index holds: a
// double-quoted string whose only escapes are \" and \\ ends at the first
// quote not escaped; anything else is left to strconv.
func quotedPrefix(s string) (string, error) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return s[:i+1], nil
		case '\\':
			if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				i++
				continue
			}
			return strconv.QuotedPrefix(s)
		}
	}
	return strconv.QuotedPrefix(s)
}

// appendHistoryLine appends the history line of a record.
func appendHistoryLine(b []byte, id, js string) []byte {
	start := len(b)
	b = append(b, "00000000 "...)
	body := len(b)
	b = append(b, id...)
	b = append(b, ' ')
	b = append(b, js...)
	sum := crc32.Checksum(b[body:], castagnoli)
	const digits = "0123456789abcdef"
	for i := 7; i >= 0; i-- {
		b[start+i] = digits[sum&0xf]
		sum >>= 4
	}
	return append(b, '\n')
}

// parseHistoryLine checks one history line (with its newline) and returns
// its record's id and JSON.
func parseHistoryLine(line []byte) (id, js string, err error) {
	line, ok := bytes.CutSuffix(line, []byte("\n"))
	if !ok || len(line) < 9 || line[8] != ' ' {
		return "", "", errors.New("malformed line")
	}
	want, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil {
		return "", "", errors.New("malformed checksum")
	}
	body := line[9:]
	if crc32.Checksum(body, castagnoli) != uint32(want) {
		return "", "", errors.New("checksum mismatch")
	}
	i := bytes.IndexByte(body, ' ')
	if i < 0 {
		return "", "", errors.New("malformed line")
	}
	return string(body[:i]), string(body[i+1:]), nil
}

// historyIndex returns the index of the history that state.json covers,
// reading what it has not read yet. It requires s.mu (read or write).
func (s *Store) historyIndex() (*histIndex, error) {
	s.histMu.Lock()
	defer s.histMu.Unlock()
	ref := s.hist
	hi := s.histIdx
	switch {
	case hi != nil && hi.ref == ref && hi.lineage == s.lineage:
		return hi, nil
	case hi == nil || hi.lineage != s.lineage || hi.ref.IndexBytes > ref.IndexBytes || hi.ref.Records > ref.Records:
		hi = &histIndex{lineage: s.lineage, entries: make([]histEntry, 0, ref.Records), byID: make(map[string]int, ref.Records)}
	default:
		// The history grew: read only what was appended. A copy, since
		// readers may hold the old one.
		old := hi
		hi = &histIndex{lineage: old.lineage, ref: old.ref, entries: slices.Clip(old.entries),
			byID: make(map[string]int, ref.Records)}
		maps.Copy(hi.byID, old.byID)
	}
	if ref.IndexBytes > hi.ref.IndexBytes {
		path := s.path(historyIndexName)
		f, err := openFile(path, os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		// Read as one string, of which the entries' strings are parts.
		want := ref.IndexBytes - hi.ref.IndexBytes
		var b strings.Builder
		b.Grow(int(want))
		n, err := io.Copy(&b, io.NewSectionReader(f, hi.ref.IndexBytes, want))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if n != want {
			return nil, fmt.Errorf("read %s: it is %d bytes shorter than %s says", path, want-n, snapshotName)
		}
		text := b.String()
		line := len(hi.entries)
		intern := make(map[string]string)
		for text != "" {
			l, rest, ok := strings.Cut(text, "\n")
			if !ok {
				return nil, fmt.Errorf("read %s: line %d: cut short", path, line+1)
			}
			e, err := parseIndexLineIn(l, intern)
			if err != nil {
				return nil, fmt.Errorf("read %s: line %d: %w", path, line+1, err)
			}
			hi.byID[e.id] = len(hi.entries)
			hi.entries = append(hi.entries, e)
			text = rest
			line++
		}
	}
	if len(hi.entries) != ref.Records {
		return nil, fmt.Errorf("read %s: %d records where %s says %d", s.path(historyIndexName), len(hi.entries), snapshotName, ref.Records)
	}
	hi.ref = ref
	s.histIdx = hi
	return hi, nil
}

// readHistory reads the records of entries from history, in their order.
func (s *Store) readHistory(entries []histEntry) ([]*Run, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	path := s.path(historyName)
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	out := make([]*Run, len(entries))
	for i, e := range entries {
		buf := make([]byte, e.len)
		if _, err := f.ReadAt(buf, e.off); err != nil {
			return nil, fmt.Errorf("read %s at byte %d: %w", path, e.off, err)
		}
		id, js, err := parseHistoryLine(buf)
		if err == nil && id != e.id {
			err = fmt.Errorf("holds run %s where %s says %s", id, historyIndexName, e.id)
		}
		var r *Run
		if err == nil {
			r, err = decodeRun(js)
		}
		if err == nil && r.ID != id {
			err = fmt.Errorf("the record of run %q is filed under %q", r.ID, id)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s at byte %d: %w", path, e.off, err)
		}
		out[i] = r
	}
	return out, nil
}

// current returns the ids of the records that stay in state.json: the
// latest run of every instance and every live run.
func (s *Store) current() map[string]bool {
	keep := make(map[string]bool, len(s.byAddr))
	for addr := range s.byAddr {
		if r := s.latest(addr); r != nil {
			keep[r.ID] = true
		}
	}
	for id, e := range s.runs {
		if e.run.Live() {
			keep[id] = true
		}
	}
	return keep
}

// appendHistory appends entries to the history files, after cutting off
// what a compaction cut short left past s.hist, and syncs them. It returns
// what state.json is to say of the history once it holds the rest.
func (s *Store) appendHistory(entries []*entry) (historyRef, error) {
	ref := s.hist
	var data, index []byte
	for _, e := range entries {
		off := ref.Bytes + int64(len(data))
		data = appendHistoryLine(data, e.run.ID, e.json)
		index = appendIndexLine(index, off, ref.Bytes+int64(len(data))-off, e.run)
	}
	for _, f := range []struct {
		name string
		at   int64
		data []byte
	}{{historyName, ref.Bytes, data}, {historyIndexName, ref.IndexBytes, index}} {
		path := s.path(f.name)
		if err := appendAt(path, f.at, f.data); err != nil {
			return ref, fmt.Errorf("write %s: %w", path, err)
		}
	}
	ref.Records += len(entries)
	ref.Bytes += int64(len(data))
	ref.IndexBytes += int64(len(index))
	return ref, nil
}

// appendAt writes data at offset at of the file at path, cutting off what
// is past it, and syncs the file (and the directory when it created it).
func appendAt(path string, at int64, data []byte) error {
	_, statErr := os.Lstat(path)
	f, err := openFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(at)
	if err == nil {
		_, err = f.WriteAt(data, at)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, fs.ErrNotExist) {
		err = atomicfile.SyncDir(pathDir(path))
	}
	return err
}

func pathDir(path string) string {
	if i := strings.LastIndexByte(path, os.PathSeparator); i > 0 {
		return path[:i]
	}
	return "."
}

// count is the number of runs recorded: the current ones and those of the
// history.
func (s *Store) count() (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	hi, err := s.historyIndex()
	if err != nil {
		return len(s.runs), err
	}
	n := len(s.runs)
	for id := range hi.byID {
		if _, current := s.runs[id]; !current {
			n++
		}
	}
	return n, nil
}

// salvageHistory returns how much of the history files in dir holds intact
// records, one after the other from the start: what a repaired state.json
// says of the history when the damaged one cannot (ok false). Lines past the
// first that is not intact are left to be cut off, and said.
func salvageHistory(dir string, ref historyRef, ok bool) (historyRef, []string) {
	s := &Store{dir: dir, hist: ref}
	if ok {
		if _, err := s.historyIndex(); err == nil {
			return ref, nil
		}
	}
	idx, err := readFile(s.path(historyIndexName))
	if err != nil {
		return historyRef{}, nil
	}
	data, _ := readFile(s.path(historyName))
	var got historyRef
	var dropped []string
	for n, line := range strings.SplitAfter(string(idx), "\n") {
		if line == "" {
			break
		}
		where := fmt.Sprintf("%s line %d", historyIndexName, n+1)
		e, err := parseIndexLine(strings.TrimSuffix(line, "\n"))
		if err == nil && !strings.HasSuffix(line, "\n") {
			err = errors.New("cut short")
		}
		if err == nil && (e.off != got.Bytes || e.off+e.len > int64(len(data))) {
			err = fmt.Errorf("its record is not where the history continues")
		}
		if err == nil {
			var id string
			if id, _, err = parseHistoryLine(data[e.off : e.off+e.len]); err == nil && id != e.id {
				err = fmt.Errorf("the history holds run %s there, not %s", id, e.id)
			}
		}
		if err != nil {
			dropped = append(dropped, fmt.Sprintf("%s: %v; the history is kept up to it", where, err))
			break
		}
		got.Records++
		got.Bytes += e.len
		got.IndexBytes += int64(len(line))
	}
	return got, dropped
}
