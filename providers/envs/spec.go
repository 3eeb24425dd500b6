package envs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/trainrun/trainrun/providers"
)

// specVersion changes whenever what an environment's ID hashes changes.
const specVersion = "trainrun-env-1"

// withID returns s with its ID: the kind and a hash of everything else.
func withID(s providers.EnvSpec) providers.EnvSpec {
	s.ID = ""
	b, err := json.Marshal(s) // maps are encoded with sorted keys
	if err != nil {
		// Only strings are in there; nothing fails to encode.
		b = []byte(s.Kind)
	}
	h := sha256.New()
	h.Write([]byte(specVersion))
	h.Write([]byte{0})
	h.Write(b)
	s.ID = s.Kind + "-" + hex.EncodeToString(h.Sum(nil))[:32]
	return s
}

// validID reports whether id can name a directory and an image tag: what
// withID makes.
func validID(id string) bool {
	if id == "" || len(id) > 100 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// requirementName matches the distribution name that starts a PEP 508
// requirement.
var requirementName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`)

// normalizeRequirement writes a requirement the way pip compares names
// (PEP 503: lower case, runs of -_. as one -), the rest trimmed, so that
// "Scikit_Learn == 1.2.1" and "scikit-learn==1.2.1" are one requirement.
// Spaces are dropped around the version part but kept in markers, where
// they separate words.
func normalizeRequirement(r string) string {
	r = strings.TrimSpace(r)
	name := requirementName.FindString(r)
	if name == "" {
		return r
	}
	rest := strings.TrimSpace(r[len(name):])
	marker := ""
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		marker = "; " + strings.TrimSpace(rest[i+1:])
		rest = rest[:i]
	}
	if !strings.Contains(rest, "@") {
		rest = strings.Join(strings.Fields(rest), "")
	} else {
		rest = " " + strings.TrimSpace(rest)
	}
	return canonicalName(name) + rest + marker
}

func canonicalName(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		if c == '-' || c == '_' || c == '.' {
			if !dash {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		dash = false
		b.WriteRune(c)
	}
	return b.String()
}

// normalizeRequirements normalizes, drops blanks and duplicates, and sorts:
// pip resolves a set, so order and spelling do not change what is built.
func normalizeRequirements(rs []string) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		if n := normalizeRequirement(r); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortStrings(s []string) { slices.Sort(s) }
