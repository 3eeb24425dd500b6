// Package ui serves trainrun's web dashboard (trainrun ui): the instances,
// the run history, one run (its fingerprint inputs, log and metric charts),
// an experiment's compare table and charts, the plan and the graph.
//
// It is a view: it reads the state through the same queries as the
// command line (runtime.Instances, compare.BuildWith, runtime.LiveMetrics,
// state.History) and decides nothing. The only thing it changes is what
// its caller's Cancel does, on a POST that carries the page's CSRF token.
//
// Pages are rendered on the server with html/template, charts are SVG
// drawn in Go, and a small script keeps pages live through Server-Sent
// Events. Everything is embedded in the binary: no request leaves the
// machine.
package ui
