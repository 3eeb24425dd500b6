package lang

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	ctyyaml "github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// The conversions below take unmarked, wholly known values and report
// what is wrong at rng, in words a user can act on, never quoting a value.

func (l *loader) toString(v cty.Value, rng hcl.Range, what string) (string, bool) {
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() || !s.IsKnown() {
		l.errorf(rng.Ptr(), "Invalid value for "+what, "%s must be a string.", what)
		return "", false
	}
	return s.AsString(), true
}

func (l *loader) toBool(v cty.Value, rng hcl.Range, what string) (bool, bool) {
	b, err := convert.Convert(v, cty.Bool)
	if err != nil || b.IsNull() || !b.IsKnown() {
		l.errorf(rng.Ptr(), "Invalid value for "+what, "%s must be true or false.", what)
		return false, false
	}
	return b.True(), true
}

// stringList converts a list or tuple whose elements are strings, numbers
// or bools into strings. example is a valid value, for the error message.
func (l *loader) stringList(v cty.Value, rng hcl.Range, what, example string) ([]string, bool) {
	ty := v.Type()
	if v.IsNull() || !(ty.IsListType() || ty.IsTupleType() || ty.IsSetType()) {
		l.errorf(rng.Ptr(), "Invalid value for "+what, "%s must be a list of strings, such as %s.", what, example)
		return nil, false
	}
	// AsValueSlice, not ElementIterator: the iterator allocates a number
	// for each index.
	elems := v.AsValueSlice()
	out := make([]string, 0, len(elems))
	for i, ev := range elems {
		if !ev.IsKnown() || ev.IsNull() || !ev.Type().IsPrimitiveType() {
			l.errorf(rng.Ptr(), "Invalid value for "+what, "Element %d of %s must be a string, number or bool.", i, what)
			return nil, false
		}
		out = append(out, primitiveString(ev))
	}
	return out, true
}

// stringMap converts an object or map whose values are strings, numbers or
// bools into strings.
func (l *loader) stringMap(v cty.Value, rng hcl.Range, what string) (map[string]string, bool) {
	ty := v.Type()
	if v.IsNull() || !(ty.IsObjectType() || ty.IsMapType()) {
		l.errorf(rng.Ptr(), "Invalid value for "+what, "%s must be a map of strings, such as { SEED = \"42\" }.", what)
		return nil, false
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if !ev.IsKnown() || ev.IsNull() || !ev.Type().IsPrimitiveType() {
			l.errorf(rng.Ptr(), "Invalid value for "+what, "The value of %s in %s must be a string, number or bool.", k.AsString(), what)
			return nil, false
		}
		out[k.AsString()] = primitiveString(ev)
	}
	return out, true
}

// primitiveString is a known, non-null string, number or bool as text, as
// cty's conversion to string writes it. Whole numbers take a fast path:
// big.Float's shortest formatting dominated the cost of large sweeps.
func primitiveString(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Bool:
		return strconv.FormatBool(v.True())
	}
	bf := v.AsBigFloat()
	if bf.IsInt() {
		if i, acc := bf.Int64(); acc == big.Exact {
			return strconv.FormatInt(i, 10)
		}
	}
	return bf.Text('f', -1)
}

// wholeNumber converts v to an int that is at least lo.
func (l *loader) wholeNumber(v cty.Value, a *hcl.Attribute, what string, lo int) (int, bool) {
	n, err := convert.Convert(v, cty.Number)
	if err == nil && !n.IsNull() {
		bf := n.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact && i >= int64(lo) && i <= math.MaxInt32 {
				return int(i), true
			}
		}
	}
	l.errorf(a.Expr.Range().Ptr(), "Invalid value for "+what, "%s must be a whole number of at least %d.", what, lo)
	return 0, false
}

// parseDuration accepts Go durations ("90s", "1h30m") and days ("2d",
// "1d12h"). Negative durations are refused.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("the duration is empty")
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%q is negative", s)
	}
	// Split off a leading days component, then let time.ParseDuration do
	// the rest.
	var days float64
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		f, err := strconv.ParseFloat(strings.TrimPrefix(s[:i], "+"), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("%q is not a valid duration", s)
		}
		days, rest = f, s[i+1:]
		if rest == "" {
			rest = "0s"
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a valid duration", s)
	}
	total := days*24*float64(time.Hour) + float64(d)
	if total > float64(math.MaxInt64) {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(total), nil
}

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
}

// parseBytes reads an amount of memory: a number of bytes, or a string
// with a decimal (KB, MB, GB, TB; also K, M, G, T) or binary (KiB, MiB,
// GiB, TiB) unit.
func parseBytes(v cty.Value) (int64, error) {
	if v.IsNull() {
		return 0, errors.New("memory is null")
	}
	var f float64
	switch v.Type() {
	case cty.Number:
		f, _ = v.AsBigFloat().Float64()
	case cty.String:
		s := strings.TrimSpace(v.AsString())
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
		mult, ok := byteUnits[unit]
		n, err := strconv.ParseFloat(num, 64)
		if !ok || err != nil {
			return 0, fmt.Errorf("%q is not an amount of memory", s)
		}
		f = n * mult
	default:
		return 0, errors.New("memory must be a string such as \"16GiB\" or a number of bytes")
	}
	if f < 0 || math.IsNaN(f) || f >= math.MaxInt64 {
		return 0, errors.New("memory must be a non-negative amount")
	}
	return int64(math.Ceil(f)), nil
}

// checkOutputPath says why an output path is unusable, or nil.
func checkOutputPath(p string) error {
	if p == "" {
		return errors.New("is empty")
	}
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || len(p) > 1 && p[1] == ':' {
		return errors.New("is absolute")
	}
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return errors.New("escapes the working directory (it contains \"..\")")
		}
	}
	if c := path.Clean(strings.ReplaceAll(p, `\`, "/")); c == "." {
		return errors.New("names the whole working directory")
	}
	return nil
}

// ParamsFileFormats are the extensions params_file accepts.
var ParamsFileFormats = []string{".json", ".yaml", ".yml"}

// EncodeParams writes params (canonical JSON values) as the content of a
// params file named name: YAML for .yaml and .yml, else JSON, keys sorted,
// so that a script that reads a params file runs unchanged.
func EncodeParams(name string, params map[string]json.RawMessage) ([]byte, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		obj := make(map[string]cty.Value, len(params))
		for k, js := range params {
			v, err := jsonValue(js)
			if err != nil {
				return nil, fmt.Errorf("param %s: %w", k, err)
			}
			obj[k] = v
		}
		v := cty.EmptyObjectVal
		if len(obj) > 0 {
			v = cty.ObjectVal(obj)
		}
		return ctyyaml.Marshal(v)
	}
	if params == nil {
		params = map[string]json.RawMessage{}
	}
	b, err := json.MarshalIndent(params, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// jsonValue is the value whose canonical JSON is js.
func jsonValue(js json.RawMessage) (cty.Value, error) {
	ty, err := ctyjson.ImpliedType(js)
	if err != nil {
		return cty.NilVal, err
	}
	return ctyjson.Unmarshal(js, ty)
}

// canonicalJSON is the value as JSON, with its own type: 0.1 → 0.1, "x" →
// "x", [1, 2] → [1,2].
func canonicalJSON(v cty.Value) (json.RawMessage, error) {
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// walkLeaves calls fn with the text of every primitive value in v.
func walkLeaves(v cty.Value, fn func(string)) {
	if !v.IsKnown() || v.IsNull() {
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		fn(v.AsString())
	case ty == cty.Number:
		fn(v.AsBigFloat().Text('f', -1))
	case ty == cty.Bool:
		fn(strconv.FormatBool(v.True()))
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType() || ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			walkLeaves(ev, fn)
		}
	}
}

// didYouMean suggests the candidate closest to name, as " Did you mean
// "x"?", or "" when none is close.
func didYouMean(name string, candidates []string) string {
	best := Nearest(name, candidates)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// Nearest returns the candidate closest to name in spelling (ignoring
// case), or "" when none is close enough to be what was meant, or name
// itself is one.
func Nearest(name string, candidates []string) string {
	best, bestDist := "", 0
	limit := 2
	if len(name) > 8 {
		limit = 3
	}
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(name), strings.ToLower(c), limit)
		if d <= limit && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	if best == name {
		return ""
	}
	return best
}

// levenshtein is the edit distance of a and b, or limit+1 once it is
// certain to exceed limit.
func levenshtein(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
