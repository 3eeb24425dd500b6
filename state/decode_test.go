package state

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fill sets every field reachable from v to a value that is not zero, so
// that the JSON of a filled Run has every key.
func fill(v reflect.Value, n int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf(`s%d "quoted" <&> é 😀 \ tab	nl
`, n))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(n + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(n) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n+1)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 23, 13, 5, 2, 123456789+n, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n+i)
			}
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := range 2 {
			val := reflect.New(v.Type().Elem()).Elem()
			fill(val, n+i)
			v.SetMapIndex(reflect.ValueOf(fmt.Sprintf("k%d", i)).Convert(v.Type().Key()), val)
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(fmt.Sprintf(`{"a":[%d,2.5e-3,"x\"y",true,null,{}]}`, n)))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), n+i)
		}
	default:
		panic(fmt.Sprintf("fill: add %s", v.Kind()))
	}
}

func TestFastDecodeCoversRun(t *testing.T) {
	// Every field of Run, and of the types in it, must be known to the
	// fast decoder; else every record would take the slow path.
	var full Run
	fill(reflect.ValueOf(&full).Elem(), 0)
	js, err := json.Marshal(&full)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  *Run
	}{
		{"every field set", &full},
		{"zero", &Run{}},
		{"sample", sampleRun(3)},
		{"local times", func() *Run {
			r := sampleRun(4)
			now := time.Now() // with the local zone and a monotonic clock reading
			r.CreatedAt, r.StartedAt = now, &now
			return r
		}()},
	} {
		js, _ := json.Marshal(tc.run)
		d := decoder{data: string(js)}
		got := new(Run)
		if err := d.run(got); err != nil || !d.atEnd() {
			t.Errorf("%s: the fast decoder does not handle\n%s\nHas Run or a type in it gained a field? Teach decode.go about it.", tc.name, js)
			continue
		}
		want := new(Run)
		if err := json.Unmarshal(js, want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fast decoder:\n%+v\nencoding/json:\n%+v", tc.name, got, want)
		}
	}
	_ = js
}

// sameRun compares two decoded runs, NaN equal to NaN.
func sameRun(a, b *Run) bool {
	if a == nil || b == nil {
		return a == b
	}
	a, b = a.Clone(), b.Clone()
	for _, r := range []*Run{a, b} {
		for k, m := range r.Metrics {
			if math.IsNaN(m.Value) {
				m.Value = -12345.678
			}
			if m.Step != nil && math.IsNaN(*m.Step) {
				*m.Step = -12345.678
			}
			r.Metrics[k] = m
		}
	}
	return reflect.DeepEqual(a, b)
}

// decodeSeeds are records the fast decoder must decode exactly as
// encoding/json does, or hand over to it.
var decodeSeeds = []string{
	`{"id":"a"}`,
	`{"id":"a","ID":"b"}`,
	`{"id":"a","id":"b"}`,
	` { "id" : "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00" , "attempts" : -0 } `,
	`{"id":"\ud83d"}`,
	`{"id":"\u12"}`,
	`{"id":"é"}`,
	"{\"id\":\"\xff\"}",
	"{\"id\":\"a\x01\"}",
	`{"id":"a","attempts":1.0}`,
	`{"id":"a","attempts":1e2}`,
	`{"id":"a","attempts":99999999999999999999}`,
	`{"id":"a","attempts":01}`,
	`{"id":"a","attempts":"1"}`,
	`{"id":"a","exit_code":null,"started_at":null,"status":null,"settings":null}`,
	`{"id":"a","exit_code":3,"exit_code":null}`,
	`{"id":"a","inputs":{"command":["x",null],"upstream":{"u":null,"v":[]},"env":{"A":null}}}`,
	`{"id":"a","inputs":{"env":{"A":"1"}},"inputs":{"env":{"B":"2"}}}`,
	`{"id":"a","params":{"x":[1,{"y":null}],"z":"q\"","n":-1.5E+3},"params":{"w":true}}`,
	`{"id":"a","params":{"x":[1,}}`,
	`{"id":"a","params":{"x":nul}}`,
	`{"id":"a","params":{"x\"":1}}`,
	`{"id":"a","metrics":{"loss":{"value":"NaN","step":"+Inf"},"m":{"value":"-Inf"},"n":null,"o":{"value":1,"extra":2}}}`,
	`{"id":"a","metrics":{"loss":{"value":"\u004eaN"}}}`,
	`{"id":"a","metrics":{"loss":{"value":1e400}}}`,
	`{"id":"a","metrics":{"loss":5}}`,
	`{"id":"a","created_at":"2026-02-30T00:00:00Z"}`,
	`{"id":"a","created_at":"2026-02-28T24:00:00Z"}`,
	`{"id":"a","created_at":"2026-02-28T23:00:00.Z"}`,
	`{"id":"a","created_at":"2026-02-28T23:00:00.1234567891Z"}`,
	`{"id":"a","created_at":"2026-02-28T23:00:00.5+02:00"}`,
	`{"id":"a","created_at":"0000-01-01T00:00:00Z"}`,
	`{"id":"a","git":{"dirty":"true"}}`,
	`{"id":"a","git":{"dirty":false,"commit":"c"}}`,
	`{"id":"a","handle":{"id":"1","started_at":"2026-01-01T00:00:00Z"},"handle":{"kind":"local"}}`,
	`{"id":"a","settings":{"resources":{"memory":1099511627776,"cpus":-2}}}`,
	`{"id":"a","unknown":{"x":1}}`,
	`{"id":"a"} x`,
	`{"id":"a",}`,
	`null`,
	`[]`,
	``,
	`{"id":"a","params":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`,
}

func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	for _, js := range decodeSeeds {
		checkDecode(t, js)
	}
}

func checkDecode(t *testing.T, js string) {
	t.Helper()
	got, err := decodeRun(js)
	want := new(Run)
	werr := json.Unmarshal([]byte(js), want)
	switch {
	case (err == nil) != (werr == nil):
		t.Errorf("%s: decodeRun: %v; encoding/json: %v", js, err, werr)
	case err == nil && !sameRun(got, want):
		t.Errorf("%s:\ndecodeRun:     %+v\nencoding/json: %+v", js, got, want)
	}
}

func FuzzDecodeRun(f *testing.F) {
	for _, js := range decodeSeeds {
		f.Add(js)
	}
	js, _ := json.Marshal(sampleRun(1))
	f.Add(string(js))
	f.Fuzz(func(t *testing.T, js string) {
		checkDecode(t, js)
	})
}

func TestParseUTC(t *testing.T) {
	for _, s := range []string{
		"2026-11-23T13:05:02Z",
		"2026-11-23T13:05:02.1Z",
		"2026-11-23T13:05:02.123456789Z",
		"2024-02-29T23:59:59Z",
		"1999-12-31T00:00:00.000000001Z",
	} {
		got, ok := parseUTC(s)
		want, err := time.Parse(time.RFC3339Nano, s)
		if !ok || err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseUTC(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"2023-02-29T00:00:00Z", "2026-11-23T13:05:02", "2026-11-23T13:05:02+00:00", "2026-13-01T00:00:00Z", "2026-11-23T13:05:60Z", "-026-11-23T13:05:02Z"} {
		if _, ok := parseUTC(s); ok {
			t.Errorf("parseUTC(%q) accepted it", s)
		}
	}
}
