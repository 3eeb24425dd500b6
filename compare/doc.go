// Package compare lays the instances of one experiment side by side, as
// `trainrun compare` shows them: each instance's params and the latest
// value of each of its metrics, sorted, with the best value of each metric
// marked.
package compare
