package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/trainrun/trainrun/state"
)

// Point is one line of a run's metrics file: one value of one metric.
type Point struct {
	Name  string
	Value float64 // NaN and ±Inf are kept: a diverging loss is a result too
	Step  *float64
	Time  time.Time // zero when the line has none
	Line  int       // line number in the file, from 1
}

// maxMetricLine bounds one line of a metrics file; a longer one is
// reported and skipped, and reading goes on after it.
const maxMetricLine = 1 << 20

// ReadSeries reads every point of a metrics file (JSON lines as SPEC §4
// describes, Python's NaN, Infinity and -Infinity accepted), in file
// order. Malformed lines are skipped, each reported with its line number:
// they never fail a run. A missing file has no points.
func ReadSeries(path string) ([]Point, []string) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, []string{fmt.Sprintf("read metrics %s: %v", path, err)}
	}
	defer f.Close()
	var points []Point
	problems := readPoints(f, path, func(p Point) { points = append(points, p) })
	return points, problems
}

// EachPoint calls fn with each well-formed point of r, a metrics file or
// part of one (whole lines), in order, without keeping them: how the web
// UI reads a long file, and then only what was appended since.
func EachPoint(r io.Reader, fn func(Point)) []string { return readPoints(r, "metrics", fn) }

// readPoints calls fn with each well-formed point of r.
func readPoints(r io.Reader, name string, fn func(Point)) []string {
	var problems []string
	br := bufio.NewReaderSize(r, 64*1024)
	var buf []byte
	tooLong := false
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(buf)+len(chunk) > maxMetricLine {
				tooLong, buf = true, buf[:0]
			} else if !tooLong {
				buf = append(buf, chunk...)
			}
			continue
		}
		line := chunk
		if len(buf) > 0 {
			buf = append(buf, chunk...)
			line = buf
		}
		tooLong = tooLong || len(line) > maxMetricLine
		if len(line) > 0 || tooLong {
			n++
			line = bytes.TrimSpace(line)
			switch {
			case tooLong:
				problems = append(problems, fmt.Sprintf("%s:%d: skipped a metrics line longer than %d bytes", name, n, maxMetricLine))
			case len(line) == 0:
			default:
				if p, ok := parsePoint(line); ok {
					p.Line = n
					fn(p)
				} else {
					problems = append(problems, fmt.Sprintf("%s:%d: skipped a malformed metrics line; want {\"name\":\"loss\",\"value\":0.3,\"step\":10}", name, n))
				}
			}
		}
		buf, tooLong = buf[:0], false
		if err != nil {
			if !errors.Is(err, io.EOF) {
				problems = append(problems, fmt.Sprintf("%s: read: %v", name, err))
			}
			return problems
		}
	}
}

// metricLine is one line of a run's TRAINRUN_METRICS_FILE.
type metricLine struct {
	Name  *string         `json:"name"`
	Value *flexFloat      `json:"value"`
	Step  *float64        `json:"step"`
	Time  json.RawMessage `json:"time"` // seconds since the epoch, or an RFC 3339 string
}

func parsePoint(line []byte) (Point, bool) {
	if p, ok := parseFast(line); ok {
		return p, true
	}
	return parseSlow(line)
}

// parseSlow decodes a metrics line with encoding/json: every spelling it
// accepts (escapes, NaN, a time as a string, keys in other cases).
func parseSlow(line []byte) (Point, bool) {
	var m metricLine
	if err := json.Unmarshal(pythonNumbers(line), &m); err != nil || m.Name == nil || *m.Name == "" || m.Value == nil {
		return Point{}, false
	}
	p := Point{Name: *m.Name, Value: float64(*m.Value), Step: m.Step}
	if len(m.Time) > 0 && string(m.Time) != "null" {
		t, ok := parseTime(m.Time)
		if !ok {
			return Point{}, false
		}
		p.Time = t
	}
	return p, true
}

func parseTime(raw json.RawMessage) (time.Time, bool) {
	var sec float64
	if err := json.Unmarshal(raw, &sec); err == nil {
		if math.IsNaN(sec) || math.Abs(sec) > 1e12 {
			return time.Time{}, false
		}
		whole, frac := math.Modf(sec)
		return time.Unix(int64(whole), int64(frac*1e9)).UTC(), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// flexFloat is a JSON number, or one of the strings pythonNumbers writes
// for NaN and the infinities.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = flexFloat(math.NaN())
	case `"+Inf"`:
		*f = flexFloat(math.Inf(1))
	case `"-Inf"`:
		*f = flexFloat(math.Inf(-1))
	default:
		v, err := strconv.ParseFloat(string(b), 64)
		if err != nil || b[0] == '"' {
			return fmt.Errorf("metric value %s is not a number", b)
		}
		*f = flexFloat(v)
	}
	return nil
}

// pythonNumbers rewrites the NaN, Infinity and -Infinity that Python's
// json module writes outside strings as JSON strings flexFloat reads. Most
// lines have none and are returned as they are.
func pythonNumbers(line []byte) []byte {
	if !bytes.Contains(line, []byte("NaN")) && !bytes.Contains(line, []byte("Infinity")) {
		return line
	}
	out := make([]byte, 0, len(line)+8)
	inString := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if inString {
			out = append(out, c)
			switch c {
			case '\\':
				if i+1 < len(line) {
					i++
					out = append(out, line[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
			out = append(out, c)
		case bytes.HasPrefix(line[i:], []byte("NaN")):
			out = append(out, `"NaN"`...)
			i += len("NaN") - 1
		case bytes.HasPrefix(line[i:], []byte("-Infinity")):
			out = append(out, `"-Inf"`...)
			i += len("-Infinity") - 1
		case bytes.HasPrefix(line[i:], []byte("Infinity")):
			out = append(out, `"+Inf"`...)
			i += len("Infinity") - 1
		default:
			out = append(out, c)
		}
	}
	return out
}

// latestMetrics keeps each metric's last point: the latest value of each,
// as the run record holds them.
func latestMetrics(r io.Reader, name string) (map[string]state.Metric, []string) {
	out := make(map[string]state.Metric)
	problems := readPoints(r, name, func(p Point) {
		out[p.Name] = state.Metric{Value: p.Value, Step: p.Step, Time: p.Time}
	})
	if len(out) == 0 {
		out = nil
	}
	return out, problems
}
