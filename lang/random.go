package lang

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/trainrun/trainrun/internal/plural"
)

// A random search is declared inside sweep:
//
//	sweep {
//	  random {
//	    count   = 20
//	    seed    = 7
//	    lr      = loguniform(1e-4, 1e-1)
//	    batch   = choice([32, 64])
//	    dropout = uniform(0, 0.5)
//	    layers  = randint(1, 4)
//	  }
//	}
//
// count and seed are settings; every other attribute is a parameter and its
// distribution. Each value depends only on (seed, draw number, parameter
// name), through SHA-256: the same configuration gives the same points on
// every machine, and raising count keeps the earlier points and adds new
// ones. Draws that repeat an earlier point are skipped.

// randomVersion changes whenever the values drawn for a (seed, draw,
// parameter) change, so that old points are never silently reinterpreted.
const randomVersion = "trainrun-random-1"

// randomDigits is how many significant digits uniform and loguniform values
// keep: instance addresses stay readable, and hyperparameters need no more.
const randomDigits = 6

// maxDrawsPerPoint bounds the draws spent looking for count distinct
// points when continuous parameters repeat after rounding.
const maxDrawsPerPoint = 100

var distributionNames = []string{"choice", "loguniform", "randint", "uniform"}

// distribution is one parameter of a random search.
type distribution struct {
	name    string
	kind    string
	lo, hi  float64 // uniform, loguniform
	ilo     int64   // randint: lo + a draw below n
	n       uint64  // randint: how many integers; choice: how many values
	choices []pval  // choice
}

// pval is one value of a sweep parameter.
type pval struct {
	val  cty.Value // possibly marked
	str  string    // as written in instance keys
	json json.RawMessage
}

// sweepDim is one dimension of a sweep: a list of alternatives, each giving
// a value to each of names. A grid axis is a dimension with one name; a
// random search is one dimension with a name per parameter.
type sweepDim struct {
	names []string // sorted
	alts  [][]pval // alts[k][j]: the value of names[j] in alternative k
}

func gridDim(ax axis) sweepDim {
	d := sweepDim{names: []string{ax.name}, alts: make([][]pval, len(ax.vals))}
	for k := range ax.vals {
		d.alts[k] = []pval{{val: ax.vals[k], str: ax.strs[k], json: ax.jsons[k]}}
	}
	return d
}

// evalRandom evaluates a sweep's random block into its points.
func (l *loader) evalRandom(e *expDecl, ctx *hcl.EvalContext) (*sweepDim, bool) {
	attrs := e.random
	countAttr := attrs["count"]
	if countAttr == nil {
		l.errorf(e.randomRange.Ptr(), "Missing random count",
			"A random search needs count = N, the number of points to draw, such as count = 20.")
		return nil, false
	}
	v, ok := l.eval(countAttr.Expr, ctx)
	if !ok {
		return nil, false
	}
	count, ok := l.wholeNumber(l.unmark(v, false), countAttr, "count", 1)
	if !ok {
		return nil, false
	}
	if count > maxInstancesPerExperiment {
		l.errorf(countAttr.Expr.Range().Ptr(), "Sweep too large",
			"count is more than %d. Split the search into several experiments or draw fewer points.", maxInstancesPerExperiment)
		return nil, false
	}
	seed := 0
	if a := attrs["seed"]; a != nil {
		v, ok := l.eval(a.Expr, ctx)
		if !ok {
			return nil, false
		}
		if seed, ok = l.wholeNumber(l.unmark(v, false), a, "seed", 0); !ok {
			return nil, false
		}
	}

	var dists []*distribution
	for _, a := range sortedAttrs(attrs) {
		if a.Name == "count" || a.Name == "seed" {
			continue
		}
		if !validName(a.Name) {
			l.errorf(a.NameRange.Ptr(), "Invalid parameter name",
				"%q is not a valid parameter name. A name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", a.Name)
			return nil, false
		}
		d, ok := l.evalDistribution(a, ctx)
		if !ok {
			return nil, false
		}
		dists = append(dists, d)
	}
	if len(dists) == 0 {
		l.errorf(e.randomRange.Ptr(), "Empty random search",
			"random draws nothing: add a parameter with its distribution, such as lr = loguniform(1e-4, 1e-1).")
		return nil, false
	}
	if space, finite := spaceSize(dists); finite && space < uint64(count) {
		l.errorf(countAttr.Expr.Range().Ptr(), "Random search larger than its space",
			"count is %d, but the parameters have only %d distinct combinations. Lower count, or use grid to run every combination.", count, space)
		return nil, false
	}

	d := &sweepDim{names: make([]string, len(dists))}
	for j, dist := range dists {
		d.names[j] = dist.name
	}
	seen := make(map[string]bool, count)
	var key strings.Builder
	for draw := 0; len(d.alts) < count; draw++ {
		if draw >= count*maxDrawsPerPoint {
			l.errorf(countAttr.Expr.Range().Ptr(), "Random search larger than its space",
				"After %d draws only %d of the %d points are distinct. Lower count, or widen the ranges.", draw, len(d.alts), count)
			return nil, false
		}
		alt := make([]pval, len(dists))
		key.Reset()
		for j, dist := range dists {
			alt[j] = dist.sample(unitDraw(seed, draw, dist.name))
			key.WriteString(alt[j].str)
			key.WriteByte(0)
		}
		if seen[key.String()] {
			continue
		}
		seen[key.String()] = true
		d.alts = append(d.alts, alt)
	}
	return d, true
}

// evalDistribution reads one parameter of a random search: a call of
// uniform, loguniform, randint or choice.
func (l *loader) evalDistribution(a *hcl.Attribute, ctx *hcl.EvalContext) (*distribution, bool) {
	call, diags := hcl.ExprCall(a.Expr)
	if diags.HasErrors() || !containsString(distributionNames, call.Name) {
		detail := fmt.Sprintf("The parameter %s of a random search must be a distribution: uniform(a, b), loguniform(a, b), randint(a, b) or choice([…]).", a.Name)
		if call != nil {
			detail = fmt.Sprintf("There is no distribution called %q.%s %s", call.Name, didYouMean(call.Name, distributionNames), detail)
		}
		l.errorf(a.Expr.Range().Ptr(), "Invalid distribution", "%s", detail)
		return nil, false
	}
	want := 2
	usage := call.Name + "(a, b)"
	if call.Name == "choice" {
		want, usage = 1, "choice([v1, v2, …])"
	}
	if len(call.Arguments) != want {
		l.errorf(call.ArgsRange.Ptr(), "Invalid distribution", "%s takes %s: write %s.", call.Name, plural.Count(want, "argument"), usage)
		return nil, false
	}
	args := make([]cty.Value, len(call.Arguments))
	for i, x := range call.Arguments {
		v, ok := l.eval(x, ctx)
		if !ok {
			return nil, false
		}
		args[i] = v
	}
	d := &distribution{name: a.Name, kind: call.Name}
	bad := func(format string, args ...any) (*distribution, bool) {
		l.errorf(call.ArgsRange.Ptr(), "Invalid distribution", format, args...)
		return nil, false
	}
	switch call.Name {
	case "uniform", "loguniform":
		lo, okLo := finite(l.unmark(args[0], false))
		hi, okHi := finite(l.unmark(args[1], false))
		switch {
		case !okLo || !okHi:
			return bad("%s takes two finite numbers: write %s.", call.Name, usage)
		case !(lo < hi):
			return bad("%s(%v, %v): the lower bound must be below the upper bound. For a fixed value, put the parameter in params.", call.Name, lo, hi)
		case call.Name == "loguniform" && lo <= 0:
			return bad("loguniform(%v, %v): both bounds must be above 0, as the values are drawn uniformly between their logarithms.", lo, hi)
		}
		d.lo, d.hi = lo, hi
	case "randint":
		lo, okLo := wholeInt(l.unmark(args[0], false))
		hi, okHi := wholeInt(l.unmark(args[1], false))
		switch {
		case !okLo || !okHi:
			return bad("randint takes two whole numbers between -2^53 and 2^53: write randint(1, 4).")
		case lo > hi:
			return bad("randint(%d, %d): the lower bound must not be above the upper bound.", lo, hi)
		}
		d.ilo, d.n = lo, uint64(hi-lo)+1
	case "choice":
		list, marks := args[0].Unmark()
		ty := list.Type()
		if list.IsNull() || !(ty.IsListType() || ty.IsTupleType() || ty.IsSetType()) || list.LengthInt() == 0 {
			return bad("choice takes a non-empty list of values: write choice([32, 64]).")
		}
		seen := map[string]bool{}
		for it := list.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			ev = ev.WithMarks(marks)
			clear := l.unmark(ev, false)
			j, err := canonicalJSON(clear)
			if err != nil {
				return bad("A value of %s cannot be written as JSON: %v.", a.Name, err)
			}
			if seen[string(j)] {
				continue // a repeated value would only weigh more
			}
			seen[string(j)] = true
			s := string(j)
			if clear.Type() == cty.String && !clear.IsNull() {
				s = clear.AsString()
			}
			d.choices = append(d.choices, pval{val: ev, str: s, json: j})
		}
		d.n = uint64(len(d.choices))
	}
	return d, true
}

// sample maps a uniform draw u in [0, 1) to a value of d.
func (d *distribution) sample(u float64) pval {
	switch d.kind {
	case "choice":
		return d.choices[pick(u, d.n)]
	case "randint":
		return numberVal(cty.NumberIntVal(d.ilo + int64(pick(u, d.n))))
	}
	var x float64
	if d.kind == "loguniform" {
		x = math.Exp(math.Log(d.lo) + u*(math.Log(d.hi)-math.Log(d.lo)))
	} else {
		x = d.lo*(1-u) + d.hi*u // no overflow for bounds near ±MaxFloat64
	}
	if math.IsNaN(x) {
		x = d.lo
	}
	x = math.Min(math.Max(x, d.lo), d.hi)
	// The rounded decimal is the value: what the key says is what the
	// run gets.
	v, err := cty.ParseNumberVal(strconv.FormatFloat(x, 'g', randomDigits, 64))
	if err != nil {
		v = cty.NumberFloatVal(x)
	}
	return numberVal(v)
}

func numberVal(v cty.Value) pval {
	j, _ := canonicalJSON(v) // a number always encodes
	return pval{val: v, str: string(j), json: j}
}

// pick maps u in [0, 1) to 0…n-1.
func pick(u float64, n uint64) uint64 {
	i := uint64(u * float64(n))
	if i >= n {
		i = n - 1
	}
	return i
}

// unitDraw is the uniform draw in [0, 1) of parameter name at draw number
// draw for seed: 53 bits of SHA-256 over all three.
func unitDraw(seed, draw int, name string) float64 {
	h := sha256.New()
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(seed))
	binary.BigEndian.PutUint64(buf[8:], uint64(draw))
	h.Write([]byte(randomVersion))
	h.Write([]byte{0})
	h.Write(buf[:])
	h.Write([]byte(name))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// spaceSize is the number of distinct points when every parameter is
// discrete; finite is false when one is continuous.
func spaceSize(dists []*distribution) (size uint64, finite bool) {
	size = 1
	for _, d := range dists {
		if d.kind != "choice" && d.kind != "randint" {
			return 0, false
		}
		if d.n != 0 && size > math.MaxUint64/d.n {
			return math.MaxUint64, true
		}
		size *= d.n
	}
	return size, true
}

func finite(v cty.Value) (float64, bool) {
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() || !n.IsKnown() {
		return 0, false
	}
	f, _ := n.AsBigFloat().Float64()
	return f, !math.IsInf(f, 0) && !math.IsNaN(f)
}

func wholeInt(v cty.Value) (int64, bool) {
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() || !n.IsKnown() {
		return 0, false
	}
	bf := n.AsBigFloat()
	if !bf.IsInt() {
		return 0, false
	}
	i, acc := bf.Int64()
	const limit = 1 << 53
	return i, acc == big.Exact && i >= -limit && i <= limit
}

func containsString(list []string, s string) bool {
	i := sort.SearchStrings(list, s)
	return i < len(list) && list[i] == s
}

// declareRandom takes the random block of a sweep, if any: at most one.
func (l *loader) declareRandom(e *expDecl, blocks hcl.Blocks) bool {
	for _, b := range blocks {
		if e.random != nil {
			l.add(hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Duplicate random block",
				Detail:   fmt.Sprintf("A random block was already given at %s. A sweep has at most one; merge them.", rangeString(e.randomRange)),
				Subject:  b.DefRange.Ptr(),
			}})
			return false
		}
		attrs, diags := b.Body.JustAttributes()
		l.add(diags)
		if diags.HasErrors() {
			return false
		}
		e.random, e.randomRange = attrs, b.DefRange
	}
	return true
}

// slot says where the value of one swept parameter comes from: alternative
// idx[dim] of dims[dim], position j.
type slot struct {
	name   string
	dim, j int
}

// sweepSlots lists the swept parameters in name order.
func sweepSlots(dims []sweepDim) []slot {
	var slots []slot
	for i, d := range dims {
		for j, name := range d.names {
			slots = append(slots, slot{name: name, dim: i, j: j})
		}
	}
	sort.Slice(slots, func(a, b int) bool { return slots[a].name < slots[b].name })
	return slots
}

// sweptNames lists every swept parameter, sorted.
func sweptNames(dims []sweepDim) []string {
	var names []string
	for _, d := range dims {
		names = append(names, d.names...)
	}
	sort.Strings(names)
	return names
}

// sweepSubject is where a diagnostic about the sweep as a whole points:
// the grid when it is all there is.
func sweepSubject(e *expDecl) *hcl.Range {
	if g := e.sweep["grid"]; g != nil && e.random == nil {
		return g.Expr.Range().Ptr()
	}
	return e.sweepRange.Ptr()
}
