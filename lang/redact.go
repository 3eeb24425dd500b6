package lang

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Redacted is what Redact writes in place of a secret.
const Redacted = "(sensitive)"

// Redact replaces every secret in s, in any of the forms a program may
// print it (see NewRedactor), by "(sensitive)". At each position the
// longest match is replaced, and what was replaced is not searched again.
func Redact(s string, secrets []string) string {
	if len(secrets) == 0 || s == "" {
		return s
	}
	return redactorFor(secrets).Redact(s)
}

// SecretForms lists the forms in which the secrets may be written, longest
// first, without duplicates: each secret as it is and as quoting writes it
// inside its quotes, once or twice over (a message that quotes a quoted
// value). The quotings are Go's %q and %+q, JSON's (with and without HTML
// escapes) and HCL's: error messages of functions and conversions quote
// their arguments, so a secret with a '"', a '\', a control or non-ASCII
// character shows there only escaped.
func SecretForms(secrets []string) []string {
	seen := map[string]bool{}
	var forms []string
	add := func(f string) bool {
		if f == "" || seen[f] {
			return false
		}
		seen[f] = true
		forms = append(forms, f)
		return true
	}
	for _, sec := range secrets {
		if !add(sec) || plain(sec) {
			continue
		}
		for _, once := range escapings(sec) {
			if add(once) { // new: quote it once more
				for _, twice := range escapings(once) {
					add(twice)
				}
			}
		}
	}
	// Longest first: a form that contains another is replaced whole.
	slices.SortFunc(forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return forms
}

// plain reports whether no quoting changes s: printable ASCII without the
// characters any of them escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte(`"\<>&$%`, c) >= 0 {
			return false
		}
	}
	return true
}

// escapings returns s as each quoting writes it between its quotes.
func escapings(s string) []string {
	return []string{
		unquote(strconv.Quote(s)),
		unquote(strconv.QuoteToASCII(s)),
		unquote(jsonString(s, true)),
		unquote(jsonString(s, false)),
		hclString(s),
	}
}

func unquote(q string) string {
	if len(q) >= 2 {
		return q[1 : len(q)-1]
	}
	return q
}

func jsonString(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// hclString is s as hclwrite writes it in a quoted string, without the
// quotes: as it stands in a configuration or var-file.
func hclString(s string) string {
	toks := hclwrite.TokensForValue(cty.StringVal(s))
	if len(toks) != 3 { // "…": open quote, literal, close quote
		return ""
	}
	return string(toks[1].Bytes)
}

// redactorCache holds the redactor of the secrets Redact was last called
// with: a log is redacted line by line with the same secrets.
var redactorCache atomic.Pointer[cachedRedactor]

type cachedRedactor struct {
	secrets []string
	r       *Redactor
}

func redactorFor(secrets []string) *Redactor {
	if c := redactorCache.Load(); c != nil && slices.Equal(c.secrets, secrets) {
		return c.r
	}
	r := NewRedactor(secrets)
	redactorCache.Store(&cachedRedactor{secrets: slices.Clone(secrets), r: r})
	return r
}

// SecretsUsed lists the secrets that appear anywhere in the instance: the
// ones its run is given. Changing a secret an instance does not use does
// not re-run it, and its log is not searched for one.
func (inst *Instance) SecretsUsed(secrets []string) []string {
	var used []string
	text := instanceText(inst)
	for _, sec := range secrets {
		if sec != "" && strings.Contains(text, sec) {
			used = append(used, sec)
		}
	}
	sort.Strings(used)
	return used
}

// instanceText joins every value of the instance that may hold a secret.
func instanceText(inst *Instance) string {
	var b strings.Builder
	for _, a := range inst.Command {
		b.WriteString(a + "\x00")
	}
	b.WriteString(inst.Shell + "\x00")
	for _, v := range inst.Env {
		b.WriteString(v + "\x00")
	}
	for _, v := range inst.Params {
		b.WriteString(ParamString(v) + "\x00")
	}
	return b.String()
}

// SecretsHash hashes secrets with a fixed salt: enough to notice a change,
// and not a plain hash of the value that a lookup table would reverse.
func SecretsHash(secrets []string) string {
	h := sha256.New()
	h.Write([]byte("trainrun-secrets\x00"))
	for _, s := range secrets {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}
