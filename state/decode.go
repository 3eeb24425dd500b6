package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/trainrun/trainrun/providers"
)

// Every trainrun plan decodes every run's record, and encoding/json decodes
// them at a few tens of MB/s: 40 ms for 1000 runs, most of a plan's
// budget. decoder reads the JSON that encoding/json writes for Run, field
// by field, several times faster. Anything it does not expect (a field it
// does not know, a null where it wants a string, an odd number or string)
// sends the whole record to encoding/json instead, so the result is always
// what encoding/json would give. TestFastDecodeCoversRun fails when Run
// gains a field the decoder does not know.

// errSlow says: let encoding/json decode this.
var errSlow = errors.New("not in the fast decoder's repertoire")

// decodeRun decodes the JSON of one record. The strings of the run are
// parts of js.
func decodeRun(js string) (*Run, error) {
	d := decoder{data: js}
	r := new(Run)
	if d.run(r) != nil || !d.atEnd() {
		r = new(Run)
		if err := json.Unmarshal([]byte(js), r); err != nil {
			return nil, err
		}
	}
	if err := r.checkRunIDs(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkRunIDs checks the ids of other runs that r names (CheckRunID): each
// may become a path.
func (r *Run) checkRunIDs() error {
	if r.ReproOf != "" {
		if err := CheckRunID(r.ReproOf); err != nil {
			return fmt.Errorf("repro_of: %w", err)
		}
	}
	for name, ids := range r.InputRuns {
		for _, id := range ids {
			if err := CheckRunID(id); err != nil {
				return fmt.Errorf("input_runs: %s: %w", name, err)
			}
		}
	}
	if r.Inputs != nil {
		for name, hashes := range r.Inputs.Upstream {
			for _, h := range hashes {
				// An upstream whose outputs were never stored stands for
				// itself: "run:ID".
				if id, ok := strings.CutPrefix(h, "run:"); ok {
					if err := CheckRunID(id); err != nil {
						return fmt.Errorf("inputs: upstream %s: %w", name, err)
					}
				}
			}
		}
	}
	return nil
}

// decoder reads JSON from data. It works on a string so that the strings
// it returns are parts of it, not copies.
type decoder struct {
	data  string
	pos   int
	depth int
}

const maxDepth = 1000

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) atEnd() bool {
	d.ws()
	return d.pos == len(d.data)
}

// consume skips white space and then c, if c is next.
func (d *decoder) consume(c byte) bool {
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// null consumes a null, if one is next.
func (d *decoder) null() bool {
	d.ws()
	if len(d.data)-d.pos >= 4 && d.data[d.pos:d.pos+4] == "null" {
		d.pos += 4
		return true
	}
	return false
}

// object calls fn for each key of an object, positioned on its value,
// which fn must consume.
func (d *decoder) object(fn func(key string) error) error {
	if !d.consume('{') {
		return errSlow
	}
	if d.consume('}') {
		return nil
	}
	for {
		key, err := d.key()
		if err != nil {
			return err
		}
		if !d.consume(':') {
			return errSlow
		}
		if err := fn(key); err != nil {
			return err
		}
		if d.consume(',') {
			continue
		}
		if d.consume('}') {
			return nil
		}
		return errSlow
	}
}

// array calls fn for each element of an array, positioned on it.
func (d *decoder) array(fn func() error) error {
	if !d.consume('[') {
		return errSlow
	}
	if d.consume(']') {
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		if d.consume(',') {
			continue
		}
		if d.consume(']') {
			return nil
		}
		return errSlow
	}
}

// key reads an object key without escapes.
func (d *decoder) key() (string, error) {
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return "", errSlow
	}
	for i := d.pos + 1; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			k := d.data[d.pos+1 : i]
			d.pos = i + 1
			return k, nil
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", errSlow
		}
	}
	return "", errSlow
}

// str reads a string.
func (d *decoder) str() (string, error) {
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return "", errSlow
	}
	start := d.pos + 1
	ascii, escaped := true, false
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			b := d.data[start:i]
			if escaped {
				return unescape(b)
			}
			if !ascii && !utf8.ValidString(b) {
				return "", errSlow // encoding/json replaces invalid bytes
			}
			return b, nil
		case c == '\\':
			escaped = true
			i++ // the escaped character cannot end the string
		case c < 0x20:
			return "", errSlow
		case c >= 0x80:
			ascii = false
		}
	}
	return "", errSlow
}

// unescape decodes the inside of a JSON string holding escapes.
func unescape(b string) (string, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return "", errSlow
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[i+2:])
			if !ok {
				return "", errSlow
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if len(b) < i+6 || b[i] != '\\' || b[i+1] != 'u' {
					return "", errSlow
				}
				r2, ok := hex4(b[i+2:])
				r = utf16.DecodeRune(r, r2)
				if !ok || r == utf8.RuneError {
					return "", errSlow
				}
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", errSlow
		}
		i += 2
	}
	if !utf8.Valid(out) {
		return "", errSlow
	}
	return string(out), nil
}

func hex4(b string) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(b[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a number, checking JSON's grammar.
func (d *decoder) number() (string, error) {
	d.ws()
	b, i := d.data, d.pos
	digits := func() bool {
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return "", errSlow
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return "", errSlow
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return "", errSlow
		}
	}
	n := b[d.pos:i]
	d.pos = i
	return n, nil
}

func (d *decoder) int64() (int64, error) {
	n, err := d.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0, errSlow
	}
	return v, nil
}

func (d *decoder) float() (float64, error) {
	n, err := d.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return 0, errSlow
	}
	return v, nil
}

// skip reads any value and returns it.
func (d *decoder) skip() (string, error) {
	d.ws()
	start := d.pos
	if d.pos >= len(d.data) {
		return "", errSlow
	}
	var err error
	switch c := d.data[d.pos]; {
	case c == '"':
		_, err = d.str()
	case c == '{':
		d.depth++
		if d.depth > maxDepth {
			return "", errSlow
		}
		err = d.object(func(string) error { _, err := d.skip(); return err })
		d.depth--
	case c == '[':
		d.depth++
		if d.depth > maxDepth {
			return "", errSlow
		}
		err = d.array(func() error { _, err := d.skip(); return err })
		d.depth--
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(d.data)-d.pos >= len(lit) && d.data[d.pos:d.pos+len(lit)] == lit {
				d.pos += len(lit)
				return d.data[start:d.pos], nil
			}
		}
		err = errSlow
	default:
		_, err = d.number()
	}
	if err != nil {
		return "", err
	}
	return d.data[start:d.pos], nil
}

// The into* methods decode a value into *p as encoding/json does: null
// leaves a value as it is and sets a pointer, map or slice to nil.

func (d *decoder) stringInto(p *string) (err error) {
	if d.null() {
		return nil
	}
	*p, err = d.str()
	return err
}

func (d *decoder) intInto(p *int) error {
	if d.null() {
		return nil
	}
	v, err := d.int64()
	if err != nil || int64(int(v)) != v {
		return errSlow
	}
	*p = int(v)
	return nil
}

func (d *decoder) intPtrInto(p **int) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = new(int)
	}
	return d.intInto(*p)
}

func (d *decoder) int64Into(p *int64) error {
	if d.null() {
		return nil
	}
	v, err := d.int64()
	*p = v
	return err
}

func (d *decoder) boolInto(p *bool) error {
	if d.null() {
		return nil
	}
	v, err := d.skip()
	switch {
	case err != nil:
		return err
	case v == "true":
		*p = true
	case v == "false":
		*p = false
	default:
		return errSlow
	}
	return nil
}

func (d *decoder) timeInto(p *time.Time) error {
	if d.null() {
		return nil
	}
	d.ws()
	start := d.pos
	s, err := d.str()
	if err != nil {
		return err
	}
	if t, ok := parseUTC(s); ok {
		*p = t
		return nil
	}
	// The very function encoding/json calls.
	if p.UnmarshalJSON([]byte(d.data[start:d.pos])) != nil {
		return errSlow
	}
	return nil
}

// parseUTC parses the times that encoding/json writes for UTC,
// "2006-01-02T15:04:05.999999999Z", and reports false for anything else.
func parseUTC(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(s string) int {
		n := 0
		for _, c := range []byte(s) {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[:4]), num(s[5:7]), num(s[8:10])
	hour, min, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	nsec := 0
	switch frac := s[19 : len(s)-1]; {
	case frac == "":
	case len(frac) >= 2 && len(frac) <= 10 && frac[0] == '.':
		nsec = num(frac[1:])
		for range 10 - len(frac) {
			nsec *= 10
		}
	default:
		return time.Time{}, false
	}
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59 || nsec < 0 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC)
	if t.Day() != day { // 31 June
		return time.Time{}, false
	}
	return t, true
}

func (d *decoder) timePtrInto(p **time.Time) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = new(time.Time)
	}
	return d.timeInto(*p)
}

func (d *decoder) stringsInto(p *[]string) error {
	if d.null() {
		*p = nil
		return nil
	}
	var buf [16]string // on the stack: one allocation of the right size below
	s := buf[:0]
	err := d.array(func() error {
		var v string
		err := d.stringInto(&v)
		s = append(s, v)
		return err
	})
	*p = append(make([]string, 0, len(s)), s...)
	return err
}

func (d *decoder) intsInto(p *[]int) error {
	if d.null() {
		*p = nil
		return nil
	}
	var s []int
	err := d.array(func() error {
		var v int
		err := d.intInto(&v)
		s = append(s, v)
		return err
	})
	*p = s
	return err
}

func (d *decoder) stringMapInto(p *map[string]string) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = map[string]string{}
	}
	m := *p
	return d.object(func(k string) error {
		var v string // encoding/json decodes map elements from zero
		err := d.stringInto(&v)
		m[k] = v
		return err
	})
}

func (d *decoder) rawMapInto(p *map[string]json.RawMessage) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = map[string]json.RawMessage{}
	}
	m := *p
	return d.object(func(k string) error {
		v, err := d.skip()
		m[k] = json.RawMessage(v)
		return err
	})
}

func (d *decoder) stringsMapInto(p *map[string][]string) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = map[string][]string{}
	}
	m := *p
	return d.object(func(k string) error {
		var v []string
		err := d.stringsInto(&v)
		m[k] = v
		return err
	})
}

// jsonFloatInto reads a float that may be written "NaN", "+Inf", "-Inf".
func (d *decoder) jsonFloatInto(p *float64) error {
	if d.null() {
		return nil
	}
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == '"' {
		// jsonFloat compares the token as written, escapes and all.
		start := d.pos
		if _, err := d.str(); err != nil {
			return err
		}
		switch d.data[start+1 : d.pos-1] {
		case "NaN":
			*p = math.NaN()
		case "+Inf", "Inf":
			*p = math.Inf(1)
		case "-Inf":
			*p = math.Inf(-1)
		default:
			return errSlow
		}
		return nil
	}
	v, err := d.float()
	*p = v
	return err
}

func (d *decoder) run(r *Run) error {
	return d.object(func(k string) error {
		switch k {
		case "id":
			return d.stringInto(&r.ID)
		case "address":
			return d.stringInto(&r.Address)
		case "experiment":
			return d.stringInto(&r.Experiment)
		case "fingerprint":
			return d.stringInto(&r.Fingerprint)
		case "inputs":
			if d.null() {
				r.Inputs = nil
				return nil
			}
			if r.Inputs == nil {
				r.Inputs = new(FingerprintInputs)
			}
			return d.inputs(r.Inputs)
		case "git":
			if d.null() {
				r.Git = nil
				return nil
			}
			if r.Git == nil {
				r.Git = new(Git)
			}
			return d.git(r.Git)
		case "compute":
			return d.stringInto(&r.Compute)
		case "environment":
			return d.stringInto(&r.Environment)
		case "env":
			if d.null() {
				r.Env = nil
				return nil
			}
			if r.Env == nil {
				r.Env = new(RunEnvironment)
			}
			return d.runEnvironment(r.Env)
		case "params":
			return d.rawMapInto(&r.Params)
		case "settings":
			return d.settings(&r.Settings)
		case "status":
			return d.stringInto((*string)(&r.Status))
		case "exit_code":
			return d.intPtrInto(&r.ExitCode)
		case "reason":
			return d.stringInto(&r.Reason)
		case "attempts":
			return d.intInto(&r.Attempts)
		case "requeues":
			return d.intInto(&r.Requeues)
		case "environ":
			return d.stringMapInto(&r.Environ)
		case "handle":
			if d.null() {
				r.Handle = nil
				return nil
			}
			if r.Handle == nil {
				r.Handle = new(providers.Handle)
			}
			return d.handle(r.Handle)
		case "user":
			return d.stringInto(&r.User)
		case "host":
			return d.stringInto(&r.Host)
		case "created_at":
			return d.timeInto(&r.CreatedAt)
		case "started_at":
			return d.timePtrInto(&r.StartedAt)
		case "finished_at":
			return d.timePtrInto(&r.FinishedAt)
		case "running_at":
			return d.timePtrInto(&r.RunningAt)
		case "queued_at":
			return d.timePtrInto(&r.QueuedAt)
		case "dir":
			return d.stringInto(&r.Dir)
		case "metrics":
			return d.metrics(&r.Metrics)
		case "outputs":
			return d.stringInto(&r.Outputs)
		case "warnings":
			return d.stringsInto(&r.Warnings)
		case "repro_of":
			return d.stringInto(&r.ReproOf)
		case "cached_from":
			return d.stringInto(&r.CachedFrom)
		case "input_runs":
			return d.stringsMapInto(&r.InputRuns)
		case "cleaned":
			return d.boolInto(&r.Cleaned)
		case "early_stopping":
			return d.stringInto(&r.EarlyStopping)
		case "stop_reason":
			return d.stringInto(&r.StopReason)
		case "promoted_from":
			return d.stringInto(&r.PromotedFrom)
		case "promotion":
			return d.stringInto(&r.Promotion)
		}
		return errSlow
	})
}

func (d *decoder) inputs(in *FingerprintInputs) error {
	return d.object(func(k string) error {
		switch k {
		case "snapshot":
			return d.stringInto(&in.Snapshot)
		case "source_dir":
			return d.stringInto(&in.SourceDir)
		case "command":
			return d.stringsInto(&in.Command)
		case "shell":
			return d.stringInto(&in.Shell)
		case "env":
			return d.stringMapInto(&in.Env)
		case "params":
			return d.rawMapInto(&in.Params)
		case "environment":
			return d.stringInto(&in.Environment)
		case "upstream":
			return d.stringsMapInto(&in.Upstream)
		case "upstream_keys":
			return d.stringsMapInto(&in.UpstreamKeys)
		case "params_file":
			return d.stringInto(&in.ParamsFile)
		case "metrics_files":
			return d.stringsInto(&in.MetricsFiles)
		case "outputs":
			return d.stringsInto(&in.Outputs)
		case "secrets_hash":
			return d.stringInto(&in.SecretsHash)
		}
		return errSlow
	})
}

func (d *decoder) runEnvironment(e *RunEnvironment) error {
	return d.object(func(k string) error {
		switch k {
		case "id":
			return d.stringInto(&e.ID)
		case "location":
			return d.stringInto(&e.Location)
		case "lock":
			return d.stringInto(&e.Lock)
		case "digest":
			return d.stringInto(&e.Digest)
		}
		return errSlow
	})
}

func (d *decoder) git(g *Git) error {
	return d.object(func(k string) error {
		switch k {
		case "commit":
			return d.stringInto(&g.Commit)
		case "dirty":
			return d.boolInto(&g.Dirty)
		}
		return errSlow
	})
}

func (d *decoder) settings(s *Settings) error {
	if d.null() {
		return nil
	}
	return d.object(func(k string) error {
		switch k {
		case "compute":
			return d.stringInto(&s.Compute)
		case "resources":
			return d.resources(&s.Resources)
		case "timeout":
			return d.stringInto(&s.Timeout)
		case "retries":
			return d.intInto(&s.Retries)
		}
		return errSlow
	})
}

func (d *decoder) resources(r *providers.Resources) error {
	if d.null() {
		return nil
	}
	return d.object(func(k string) error {
		switch k {
		case "cpus":
			return d.intInto(&r.CPUs)
		case "memory":
			return d.int64Into(&r.Memory)
		case "gpus":
			return d.intInto(&r.GPUs)
		case "nodes":
			return d.intInto(&r.Nodes)
		}
		return errSlow
	})
}

func (d *decoder) handle(h *providers.Handle) error {
	return d.object(func(k string) error {
		switch k {
		case "compute":
			return d.stringInto(&h.Compute)
		case "kind":
			return d.stringInto(&h.Kind)
		case "id":
			return d.stringInto(&h.ID)
		case "dir":
			return d.stringInto(&h.Dir)
		case "host":
			return d.stringInto(&h.Host)
		case "started_at":
			return d.timeInto(&h.StartedAt)
		case "start_ticks":
			return d.stringInto(&h.StartTicks)
		case "gpus":
			return d.intsInto(&h.GPUs)
		}
		return errSlow
	})
}

func (d *decoder) metrics(p *map[string]Metric) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = map[string]Metric{}
	}
	ms := *p
	return d.object(func(name string) error {
		// Map elements are decoded from zero, and Metric.UnmarshalJSON
		// makes null a zero Metric.
		var m Metric
		if !d.null() {
			err := d.object(func(k string) error {
				switch k {
				case "value":
					return d.jsonFloatInto(&m.Value)
				case "step":
					if d.null() {
						m.Step = nil
						return nil
					}
					if m.Step == nil {
						m.Step = new(float64)
					}
					return d.jsonFloatInto(m.Step)
				case "time":
					return d.timeInto(&m.Time)
				}
				return errSlow
			})
			if err != nil {
				return err
			}
		}
		ms[name] = m
		return nil
	})
}
