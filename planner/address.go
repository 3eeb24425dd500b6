package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/trainrun/trainrun/lang"
)

// unknownAddress is the error for an address, given with flag, that names
// nothing in cfg. It says what the user most likely meant: a sweep key
// whose quotes the shell removed, keys out of order, or the instances the
// experiment does have.
func unknownAddress(cfg *lang.Config, flag, addr string) error {
	msg := fmt.Sprintf("%s %s: no such experiment or instance in the configuration", flag, addr)
	name, key, hasKey := splitAddress(addr)
	exp := cfg.Experiments[name]
	switch {
	case !strings.HasPrefix(addr, "experiment."):
		return fmt.Errorf("%s. An address is experiment.NAME (all of its instances) or experiment.NAME[\"KEY\"] (one instance of a sweep)", msg)
	case exp == nil || !hasKey: // experiment.NAME matches when NAME exists
		return fmt.Errorf("%s. %s", msg, experimentList(cfg))
	}
	if in := instanceWithKey(exp, key); in != nil {
		return fmt.Errorf("%s. Did you mean %s? Keys are quoted, with their parameters sorted by name; in a shell, put single quotes around the address: %s '%s'", msg, in.Address, flag, in.Address)
	}
	return fmt.Errorf("%s. experiment.%s has: %s", msg, name, instanceList(exp))
}

// splitAddress splits experiment.NAME[KEY] into NAME and KEY as written
// (quotes and all), and experiment.NAME into NAME.
func splitAddress(addr string) (name, key string, hasKey bool) {
	rest := strings.TrimPrefix(addr, "experiment.")
	if i := strings.IndexByte(rest, '['); i >= 0 && strings.HasSuffix(rest, "]") {
		return rest[:i], rest[i+1 : len(rest)-1], true
	}
	return rest, "", false
}

// instanceWithKey finds the instance of exp whose key is key once quotes
// (double, single, or none: the shell ate them) are set aside, escapes
// undone and its parameters sorted by name.
func instanceWithKey(exp *lang.Experiment, key string) *lang.Instance {
	key = strings.TrimSpace(key)
	if len(key) >= 2 && (key[0] == '"' || key[0] == '\'') && key[len(key)-1] == key[0] {
		key = key[1 : len(key)-1]
	}
	key = strings.ReplaceAll(key, `\"`, `"`)
	want := canonicalKey(key)
	for _, in := range exp.Instances {
		if canonicalKey(in.Key) == want {
			return in
		}
	}
	return nil
}

// canonicalKey sorts the k=v pairs of a key. Values holding commas make
// the split ambiguous; those keys are then simply compared as they are.
func canonicalKey(key string) string {
	parts := strings.Split(key, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// instanceList names up to 5 of exp's instances.
func instanceList(exp *lang.Experiment) string {
	const shown = 5
	var names []string
	for i, in := range exp.Instances {
		if i == shown {
			names = append(names, fmt.Sprintf("and %d more", len(exp.Instances)-shown))
			break
		}
		names = append(names, in.Address)
	}
	return strings.Join(names, ", ")
}

// experimentList says which experiments there are.
func experimentList(cfg *lang.Config) string {
	if len(cfg.Experiments) == 0 {
		return "The configuration has no experiments"
	}
	names := make([]string, 0, len(cfg.Experiments))
	for name := range cfg.Experiments {
		names = append(names, "experiment."+name)
	}
	sort.Strings(names)
	return "The experiments are: " + strings.Join(names, ", ")
}
