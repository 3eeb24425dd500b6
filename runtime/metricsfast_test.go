package runtime

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/trainrun/trainrun/policy"
)

var metricLines = []string{
	`{"name":"loss","value":0.3,"step":10}`,
	`{"name": "val_loss", "value": 1.5e-3, "step": 2, "time": 1718000000.5}`,
	`  {"step":3,"value":-0,"name":"a"}  `,
	`{"name":"loss","value":1E+2}`,
	`{"name":"é","value":1}`,
	`{"name":"loss","value":0.3,"step":10,"extra":1}`,
	`{"Name":"loss","value":1}`,
	`{"name":"lo\"ss","value":1}`,
	`{"name":"loss","value":NaN}`,
	`{"name":"loss","value":"NaN"}`,
	`{"name":"loss","value":1,"time":"2024-01-01T00:00:00Z"}`,
	`{"name":"loss","value":1,"time":1e13}`,
	`{"name":"loss","value":1,"step":null}`,
	`{"name":"loss","value":1e400}`,
	`{"name":"loss","value":01}`,
	`{"name":"loss","value":1.}`,
	`{"name":"loss","value":.5}`,
	`{"name":"loss","value":+1}`,
	`{"name":"loss","value":1}x`,
	`{"name":"loss","value":1,}`,
	`{"name":"","value":1}`,
	`{"value":1}`,
	`{"name":"loss"}`,
	`{}`,
	`[]`,
	``,
	`{"name":"loss","value":1,"name":"acc"}`,
	"{\"name\":\"a\xffb\",\"value\":1}",
	"{\"name\":\"a\tb\",\"value\":1}",
}

// TestParseFastAgreesWithEncodingJSON: whatever the fast path takes, the
// full decoding takes the same way; the rest it leaves to it.
func TestParseFastAgreesWithEncodingJSON(t *testing.T) {
	fast := 0
	for _, line := range metricLines {
		checkFast(t, line)
		if _, ok := parseFast([]byte(line)); ok {
			fast++
		}
	}
	if fast < 5 {
		t.Errorf("the fast path took only %d lines", fast)
	}
}

func checkFast(t *testing.T, line string) {
	t.Helper()
	p, ok := parseFast([]byte(line))
	if !ok {
		return
	}
	q, slowOK := parseSlow([]byte(line))
	if !slowOK || !reflect.DeepEqual(p, q) {
		t.Errorf("%q: fast %+v, slow %+v (ok %v)", line, p, q, slowOK)
	}
}

func FuzzParseFast(f *testing.F) {
	for _, l := range metricLines {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) { checkFast(t, line) })
}

func BenchmarkParsePoint(b *testing.B) {
	line := []byte(`{"name":"val_loss","value":0.123456,"step":17,"time":1718000000.5}`)
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			parsePoint(line)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for range b.N {
			parseSlow(line)
		}
	})
}

// BenchmarkLiveLine is what one line of a live run's metrics costs apply:
// parsed, given to a median-stopping policy over 1000 live runs that
// report in lockstep, and kept as the run's latest values. The policy's
// ≤ 1 ms a line is the budget; this is well inside it.
func BenchmarkLiveLine(b *testing.B) {
	const runs = 1000
	sw := newStopper(policy.Stopping{Policy: policy.Median, Metric: "val_loss", Goal: policy.Minimize, EvaluationInterval: 1})
	close(sw.ready)
	ids := make([]string, runs)
	for i := range ids {
		ids[i] = fmt.Sprintf("run%04d", i)
		for step := 1; step <= 100; step++ {
			sw.sweep.Add(ids[i], float64(step), 1)
		}
	}
	lms := make([]*liveMetrics, runs)
	for i := range lms {
		lms[i] = &liveMetrics{r: &Runtime{}, id: ids[i], sw: sw, counts: map[string]float64{}, sent: time.Now().Add(time.Hour)}
	}
	lines := make([][]byte, 64)
	for i := range lines {
		lines[i] = []byte(fmt.Sprintf(`{"name":"val_loss","value":1,"step":%d,"time":1718000000.5}`, 101+i))
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		p, _ := parsePoint(lines[(n/runs)%len(lines)])
		lms[n%runs].point(p)
	}
}
