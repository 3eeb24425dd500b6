package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadSeries(t *testing.T) {
	long := `{"name":"x","value":1,"pad":"` + strings.Repeat("a", maxMetricLine) + `"}`
	tests := []struct {
		name     string
		file     string
		want     []string // name=value@step per point
		problems []string // line numbers reported
	}{
		{"empty", "", nil, nil},
		{"series kept in order", `{"name":"loss","value":0.5,"step":1}
{"name":"loss","value":0.25,"step":2}
{"name":"acc","value":0.9}
`, []string{"loss=0.5@1", "loss=0.25@2", "acc=0.9@-"}, nil},
		{"no final newline, blank lines, CRLF", "\n{\"name\":\"a\",\"value\":1}\r\n\n{\"name\":\"a\",\"value\":2}",
			[]string{"a=1@-", "a=2@-"}, nil},
		{"malformed lines skipped by number", `{"name":"a","value":1}
not json
{"value":3}
{"name":"","value":3}
{"name":"a"}
{"name":"a","value":"3"}
{"name":"a","value":true}
{"name":"a","value":2,"time":"yesterday"}
{"name":"a","value":4}
`, []string{"a=1@-", "a=4@-"}, []string{":2:", ":3:", ":4:", ":5:", ":6:", ":7:", ":8:"}},
		{"Python's NaN and infinities", `{"name": "loss", "value": NaN, "step": 3}
{"name": "loss", "value": Infinity}
{"name": "loss", "value": -Infinity}
{"name": "NaN Infinity", "value": 1.5}
{"name": "a\"NaN", "value": NaN}
`, []string{"loss=NaN@3", "loss=+Inf@-", "loss=-Inf@-", "NaN Infinity=1.5@-", `a"NaN=NaN@-`}, nil},
		{"a huge line is skipped, reading goes on", `{"name":"a","value":1}` + "\n" + long + "\n" + `{"name":"a","value":2}` + "\n",
			[]string{"a=1@-", "a=2@-"}, []string{":2: skipped a metrics line longer than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			points, problems := ReadSeries(path)
			var got []string
			for _, p := range points {
				step := "-"
				if p.Step != nil {
					step = formatFloat(*p.Step)
				}
				got = append(got, p.Name+"="+formatFloat(p.Value)+"@"+step)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("points = %q, want %q", got, tt.want)
			}
			if len(problems) != len(tt.problems) {
				t.Fatalf("problems = %q, want %d naming %q", problems, len(tt.problems), tt.problems)
			}
			for i, p := range problems {
				if !strings.Contains(p, tt.problems[i]) || !strings.HasPrefix(p, path) {
					t.Errorf("problem %d = %q, want it to name %s and %q", i, p, path, tt.problems[i])
				}
			}
		})
	}
}

// formatFloat writes NaN, +Inf and -Inf as such.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func TestReadMetricsLatestAndTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	data := `{"name":"loss","value":0.5,"step":1,"time":1700000000.5}
{"name":"loss","value":0.25,"step":2,"time":"2024-01-02T03:04:05Z"}
{"name":"acc","value":0.75}
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	m, problems := ReadMetrics(path)
	if len(problems) != 0 {
		t.Fatalf("problems: %q", problems)
	}
	if got := m["loss"]; got.Value != 0.25 || got.Step == nil || *got.Step != 2 || !got.Time.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("loss = %+v, want the last point", got)
	}
	if got := m["acc"]; got.Value != 0.75 || got.Step != nil || !got.Time.IsZero() {
		t.Errorf("acc = %+v", got)
	}
	points, _ := ReadSeries(path)
	if want := time.Unix(1700000000, 5e8).UTC(); !points[0].Time.Equal(want) || points[0].Line != 1 || points[2].Line != 3 {
		t.Errorf("first point %+v, want time %v and line numbers", points[0], want)
	}
	if m, problems := ReadMetrics(filepath.Join(t.TempDir(), "none")); m != nil || problems != nil {
		t.Errorf("a missing file: %v %q, want nothing", m, problems)
	}
}
