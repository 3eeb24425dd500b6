package state

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
)

// castagnoli is CRC-32C, which the CPU computes in hardware on amd64 and
// arm64; it is read-only after initialization.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one journal line.
type record struct {
	serial uint64 // this record's serial
	last   uint64 // the serial of the last record of its Put
	id     string
	json   []byte
}

// appendRecord appends one journal line to b:
//
//	CRC SERIAL LAST ID JSON\n
//
// CRC is the CRC-32C, in 8 hex digits, of everything between it and the
// newline. JSON never holds a raw newline (encoding/json escapes them).
func appendRecord(b []byte, serial, last uint64, id, js string) []byte {
	start := len(b)
	b = append(b, "00000000 "...)
	body := len(b)
	b = strconv.AppendUint(b, serial, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, last, 10)
	b = append(b, ' ')
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

// parseRecord parses one journal line without its newline.
func parseRecord(line []byte) (record, error) {
	var r record
	if len(line) < 9 || line[8] != ' ' {
		return r, errors.New("malformed line")
	}
	want, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil {
		return r, errors.New("malformed checksum")
	}
	body := line[9:]
	if crc32.Checksum(body, castagnoli) != uint32(want) {
		return r, errors.New("checksum mismatch")
	}
	fields := make([][]byte, 0, 4)
	rest := body
	for range 3 {
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			return r, errors.New("malformed record: missing fields")
		}
		fields = append(fields, rest[:i])
		rest = rest[i+1:]
	}
	if r.serial, err = strconv.ParseUint(string(fields[0]), 10, 64); err != nil || r.serial == 0 {
		return r, fmt.Errorf("malformed serial %q", fields[0])
	}
	if r.last, err = strconv.ParseUint(string(fields[1]), 10, 64); err != nil || r.last < r.serial {
		return r, fmt.Errorf("malformed batch end %q", fields[1])
	}
	if err := CheckRunID(string(fields[2])); err != nil {
		return r, err
	}
	r.id = string(fields[2])
	if len(rest) == 0 || rest[0] != '{' {
		return r, errors.New("malformed record: no JSON object")
	}
	r.json = rest
	return r, nil
}

// scan is what a journal holds.
type scan struct {
	recs  []record // records of complete Puts, in order
	end   int      // offset just past the last complete Put
	lines int      // lines up to end
	torn  bool     // bytes after end were ignored: a torn or damaged tail
}

// errJournal is a damaged journal line that is not the last one.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

// scanJournal parses journal bytes. next is the serial the first record must
// have, or 0 when unknown; line0 is the number of lines before data (for
// error messages). A damaged last line, a line without its newline and a
// Put whose last record is missing at the end are the traces of a write
// cut short: they end the scan without error. Damage before the end is a
// *lineError.
func scanJournal(data []byte, next uint64, line0 int) (scan, error) {
	var (
		s       scan
		off     int
		lineNo  = line0
		pending []record
	)
	for off < len(data) {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			s.torn = true
			break
		}
		lineNo++
		r, err := parseRecord(data[off : off+nl])
		if err != nil {
			if off+nl+1 == len(data) {
				s.torn = true
				break
			}
			return s, &lineError{lineNo, err}
		}
		switch {
		case next != 0 && r.serial != next:
			return s, &lineError{lineNo, fmt.Errorf("serial %d where %d was expected", r.serial, next)}
		case len(pending) > 0 && r.last != pending[0].last:
			return s, &lineError{lineNo, fmt.Errorf("a new write begins before the write ending at serial %d is complete", pending[0].last)}
		}
		next = r.serial + 1
		pending = append(pending, r)
		off += nl + 1
		if r.serial == r.last {
			s.recs = append(s.recs, pending...)
			s.lines += len(pending)
			s.end = off
			pending = pending[:0]
		}
	}
	if len(pending) > 0 {
		s.torn = true
	}
	return s, nil
}
