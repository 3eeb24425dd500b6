// Package policy decides what a sweep does with its runs from the values of
// one metric that they report: which live runs to stop early (the bandit,
// median stopping and truncation selection policies of Azure ML's
// HyperDrive) and which points successive halving (ASHA) promotes to a
// larger budget.
//
// Everything here is a pure function of the reports it is given: the same
// reports always give the same decisions, so a decision can be recorded
// with the values that made it and checked again. Nothing here reads
// files, knows runs or waits; the runtime feeds reports in and carries
// decisions out.
//
// A report is a (step, value) pair. Policies count intervals in steps: a
// policy with evaluation_interval 2 and delay_evaluation 4 looks at a run
// when it reports steps 4, 6, 8, …. The caller gives a report without a
// step the number of the report (1, 2, 3, …), which is HyperDrive's
// interval.
package policy
