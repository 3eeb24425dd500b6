package planner

import (
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/trainrun/trainrun/lang"
)

// WriteDOT writes the configuration's dependency graph in Graphviz DOT:
// one node per block, an edge from each block to every block it references.
func WriteDOT(w io.Writer, cfg *lang.Config) {
	nodes := make(map[string]bool)
	for from, tos := range cfg.Graph {
		nodes[from] = true
		for _, to := range tos {
			nodes[to] = true
		}
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "digraph trainrun {")
	fmt.Fprintln(w, "  rankdir = \"RL\";")
	fmt.Fprintln(w, "  node [shape = \"box\"];")
	for _, n := range names {
		fmt.Fprintf(w, "  %s;\n", strconv.Quote(n))
	}
	for _, from := range names {
		tos := append([]string(nil), cfg.Graph[from]...)
		sort.Strings(tos)
		for _, to := range tos {
			fmt.Fprintf(w, "  %s -> %s;\n", strconv.Quote(from), strconv.Quote(to))
		}
	}
	fmt.Fprintln(w, "}")
}
