// Package runtext writes the short texts that describe a recorded run —
// its status, metrics, times, notes and command line — the same way in
// every view that shows runs: the terminal's tables and the web UI.
//
// The texts are plain: a terminal view escapes them (internal/termtext),
// a web page through html/template.
package runtext

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// Status is the run's status, with its exit code when it failed with one
// and ", not collected" when it ended while no apply followed it.
func Status(r *state.Run) string {
	s := string(r.Status)
	if r.Status == providers.Failed && r.ExitCode != nil {
		s += " (exit " + strconv.Itoa(*r.ExitCode) + ")"
	}
	if r.Uncollected {
		s += ", not collected"
	}
	return s
}

// Metrics lists metrics as NAME=VALUE, first (the objective) first, then
// by name; "-" when there are none.
func Metrics(m map[string]state.Metric, first string) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	if v, ok := m[first]; ok {
		parts = append(parts, first+"="+strconv.FormatFloat(v.Value, 'g', 6, 64))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != first {
			parts = append(parts, k+"="+strconv.FormatFloat(m[k].Value, 'g', 6, 64))
		}
	}
	return strings.Join(parts, " ")
}

// Age is how long before now t was, short: 45s, 12m, 3h, 2d.
func Age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// Elapsed is how long something took, as Go writes durations, to the
// hundredth of a second: 340ms, 1.25s, 2m3.4s. Lines and tables show
// every duration so (Duration, Queued, apply's "after" and "queued").
func Elapsed(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }

// Ticking is how long a run took or has taken on a screen redrawn each
// second: whole seconds while it runs (1s, 3m04s, 2h05m: the width barely
// changes as it ticks), tenths for a short run that ended.
func Ticking(d time.Duration, ended bool) string {
	d = max(d, 0)
	switch {
	case ended && d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Duration is the run's own running time (state.Run.RunTime: queue and
// hold time apart), "-" before its process started.
func Duration(r *state.Run) string {
	d, ok := r.RunTime(time.Now())
	if !ok {
		return "-"
	}
	return Elapsed(d)
}

// Queued is the time the run's last attempt waited before its process
// started, "" when under a second.
func Queued(r *state.Run) string {
	if q := r.QueueTime(); q >= time.Second {
		return Elapsed(q)
	}
	return ""
}

// By is who created the run and where, "user@host", as far as it was
// recorded ("" for a run recorded before trainrun recorded them).
func By(r *state.Run) string {
	switch {
	case r.User != "" && r.Host != "":
		return r.User + "@" + r.Host
	case r.Host != "":
		return "@" + r.Host
	}
	return r.User
}

// ManyBy reports whether runs were created by more than one user or host:
// a view then names who created each (a team's shared record).
func ManyBy(runs []*state.Run) bool {
	first := ""
	for _, r := range runs {
		if r == nil {
			continue
		}
		if b := By(r); first == "" {
			first = b
		} else if b != "" && b != first {
			return true
		}
	}
	return false
}

// Note marks the runs that are not a plain run of their instance:
// reproductions (trainrun rerun) and restores from the run cache.
func Note(r *state.Run) string {
	switch {
	case r.ReproOf != "":
		return "rerun of " + r.ReproOf
	case r.CachedFrom != "":
		return "cached from " + r.CachedFrom
	}
	return ""
}

// QuoteArgs quotes, Go-style, the arguments of a command line that would
// not read back as one word: empty ones and those with blanks, quotes, a
// backslash, $ or `.
func QuoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return out
}
