// Package planner turns a loaded configuration and the recorded state into
// a Plan: which instances run and why.
//
// For every instance it computes a fingerprint — the hash of its source
// snapshot, resolved command, env, params, environment and upstream
// fingerprints (SPEC §3) — and compares it with the instance's latest
// recorded run. The result lists one Action per instance with the reasons a
// person needs to trust it: "source changed: train.py modified",
// "param lr: 0.1 → 0.05", "last run failed".
//
// A Plan can be written to a file and applied later; Check refuses it when
// the state or the configuration moved underneath.
package planner
