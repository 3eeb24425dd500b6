package envs

import (
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
)

// Decoding helpers for the values lang decoded with a kind's schema: each
// attribute is absent, or converted to its declared type already. They
// never panic on values of another shape: those are problems.

func str(v providers.Values, name string) (string, bool, *providers.Problem) {
	val, ok := v[name]
	if !ok || val.IsNull() {
		return "", false, nil
	}
	return asString(val, name)
}

func asString(val cty.Value, name string) (string, bool, *providers.Problem) {
	val, _ = val.UnmarkDeep()
	if !val.IsKnown() || val.IsNull() {
		return "", false, nil
	}
	if val.Type() != cty.String {
		return "", false, problem(name, "%s must be a string.", name)
	}
	s := val.AsString()
	if strings.IndexByte(s, 0) >= 0 {
		return "", false, problem(name, "%s cannot contain a NUL byte.", name)
	}
	return s, true, nil
}

func list(v providers.Values, name string) ([]string, bool, *providers.Problem) {
	val, ok := v[name]
	if !ok || val.IsNull() {
		return nil, false, nil
	}
	return asList(val, name)
}

func asList(val cty.Value, name string) ([]string, bool, *providers.Problem) {
	val, _ = val.UnmarkDeep()
	if !val.IsKnown() || val.IsNull() {
		return nil, false, nil
	}
	ty := val.Type()
	if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
		return nil, false, problem(name, "%s must be a list of strings.", name)
	}
	out := []string{}
	for it := val.ElementIterator(); it.Next(); {
		_, e := it.Element()
		s, ok, p := asString(e, name)
		if p != nil || !ok {
			return nil, false, problem(name, "%s must be a list of strings.", name)
		}
		out = append(out, s)
	}
	return out, true, nil
}

func boolean(v providers.Values, name string) (bool, *providers.Problem) {
	val, ok := v[name]
	if !ok || val.IsNull() {
		return false, nil
	}
	val, _ = val.UnmarkDeep()
	if !val.IsKnown() || val.Type() != cty.Bool {
		return false, problem(name, "%s must be true or false.", name)
	}
	return val.True(), nil
}

// stringMap decodes a map or object of strings.
func stringMap(val cty.Value, name string) (map[string]string, *providers.Problem) {
	val, _ = val.UnmarkDeep()
	if !val.IsKnown() || val.IsNull() {
		return nil, nil
	}
	ty := val.Type()
	if !ty.IsMapType() && !ty.IsObjectType() {
		return nil, problem(name, "%s must be a map of strings.", name)
	}
	out := map[string]string{}
	for it := val.ElementIterator(); it.Next(); {
		k, e := it.Element()
		s, ok, p := asString(e, name)
		if p != nil || !ok {
			return nil, problem(name, "%s must be a map of strings.", name)
		}
		key := k.AsString()
		if key == "" || strings.ContainsAny(key, "=\x00") {
			return nil, problem(name, "%s: %q cannot be an argument name.", name, key)
		}
		out[key] = s
	}
	return out, nil
}

func problem(attr, format string, args ...any) *providers.Problem {
	return &providers.Problem{Attr: attr, Summary: "Invalid " + attr, Detail: fmt.Sprintf(format, args...)}
}

func appendProblem(ps []providers.Problem, p *providers.Problem) []providers.Problem {
	if p != nil {
		ps = append(ps, *p)
	}
	return ps
}

// firstProblem turns problems into an error for Open.
func firstProblem(kind, name string, ps []providers.Problem) error {
	if len(ps) == 0 {
		return nil
	}
	return fmt.Errorf("environment %q (%s): %s", name, kind, ps[0].Detail)
}
