package runtime

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// parseFast parses the usual line of a metrics file — one object whose
// keys are "name" (a string without escapes), "value", "step" and "time"
// (numbers) — without encoding/json's reflection, which costs a thousand
// live runs writing ten lines a second most of their following. ok is false
// for anything else (other keys, escapes, NaN, null, a time as a string,
// a malformed line), which parsePoint decodes in full; whatever parseFast
// takes, parsePoint would take the same way.
func parseFast(line []byte) (p Point, ok bool) {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return p, false
	}
	i++
	var name string
	var hasName, hasValue bool
	for first := true; ; first = false {
		i = skipSpace(line, i)
		if i >= len(line) {
			return p, false
		}
		if line[i] == '}' && first {
			return p, false // {}: no name
		}
		key, j, isStr := plainString(line, i)
		if !isStr {
			return p, false
		}
		i = skipSpace(line, j)
		if i >= len(line) || line[i] != ':' {
			return p, false
		}
		i = skipSpace(line, i+1)
		switch key {
		case "name":
			if name, i, isStr = plainString(line, i); !isStr {
				return p, false
			}
			hasName = true
		case "value", "step", "time":
			var v float64
			var isNum bool
			if v, i, isNum = number(line, i); !isNum {
				return p, false
			}
			switch key {
			case "value":
				p.Value, hasValue = v, true
			case "step":
				p.Step = &v
			case "time":
				if math.Abs(v) > 1e12 {
					return p, false
				}
				whole, frac := math.Modf(v)
				p.Time = time.Unix(int64(whole), int64(frac*1e9)).UTC()
			}
		default:
			return p, false
		}
		i = skipSpace(line, i)
		if i >= len(line) {
			return p, false
		}
		if line[i] == ',' {
			i++
			continue
		}
		if line[i] != '}' || skipSpace(line, i+1) != len(line) {
			return p, false
		}
		break
	}
	if !hasName || name == "" || !hasValue {
		return p, false
	}
	p.Name = name
	return p, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] that has no escapes and is valid
// UTF-8 without control characters; ok is false for any other.
func plainString(b []byte, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !utf8.Valid(b[i+1 : j]) {
				return "", i, false
			}
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20:
			return "", i, false
		}
	}
	return "", i, false
}

// number reads a JSON number at b[i], as encoding/json's grammar has it;
// ok is false for anything else, or one a float64 cannot hold.
func number(b []byte, i int) (v float64, next int, ok bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return 0, i, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == k {
			return 0, i, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == k {
			return 0, i, false
		}
	}
	f, err := strconv.ParseFloat(string(b[i:j]), 64)
	if err != nil {
		return 0, i, false
	}
	return f, j, true
}
