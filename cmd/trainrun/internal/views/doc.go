// Package views is how trainrun's commands show what they do, as
// Terraform's command/views: a plan (Plan, PlanJSON), the events of an
// apply (Events: lines for a person, with a status line on a terminal, or
// JSON lines), tables (Table), and watch's full-screen view on a terminal
// (Screen). The commands decide what to show; views decide how it looks.
// Everything that comes from runs and computes is escaped (termtext)
// before it reaches a terminal.
package views
