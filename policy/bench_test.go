package policy

import (
	"strconv"
	"testing"
)

// BenchmarkReport is the cost of one metric line of one run in a sweep of
// 1000 live runs that report in lockstep, the policy looking at every
// step: what following a thousand runs costs per line.
func BenchmarkReport(b *testing.B) {
	for _, p := range []Stopping{
		{Policy: Bandit, SlackFactor: 0.1},
		{Policy: Median},
		{Policy: Truncation, TruncationPercentage: 20},
	} {
		b.Run(p.Policy, func(b *testing.B) {
			p.Metric, p.Goal, p.EvaluationInterval, p.DelayEvaluation = "loss", Minimize, 1, 1e9
			const runs = 1000
			ids := make([]string, runs)
			for i := range ids {
				ids[i] = strconv.Itoa(i)
			}
			w := NewSweep(p)
			// A history of 100 steps each, then the policy looks at every
			// further step (values spread so that few runs stop).
			for step := 1; step <= 100; step++ {
				for i, id := range ids {
					w.Add(id, float64(step), 1+float64(i%7)/1000)
				}
			}
			w.s.DelayEvaluation = 0
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				i := n % runs
				step := float64(101 + n/runs)
				w.Report(ids[i], step, 1+float64(i%7)/1000)
			}
		})
	}
}
