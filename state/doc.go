// Package state records runs: every transition of every run, as it happens,
// so that a killed trainrun loses nothing and submits nothing twice.
package state
