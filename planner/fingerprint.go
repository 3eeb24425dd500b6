package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/state"
)

// fingerprintVersion changes whenever what a fingerprint hashes changes, so
// that old fingerprints never collide with new ones.
const fingerprintVersion = "trainrun-fp-2"

// Inputs returns what the fingerprint of inst hashes, secrets redacted: the
// snapshot id of its source, its command, env, params, environment
// fingerprint and, per dependency, the upstream outputs hashes (with the
// upstream instances' keys for an input that names a whole sweep).
func Inputs(cfg *lang.Config, inst *lang.Instance, snapshotID, envFP string, upstream map[string][]string) *state.FingerprintInputs {
	red := func(s string) string { return lang.Redact(s, cfg.Secrets) }
	in := &state.FingerprintInputs{
		Snapshot:     snapshotID,
		SourceDir:    inst.SourceDir,
		Shell:        red(inst.Shell),
		Environment:  envFP,
		Upstream:     upstream,
		Outputs:      inst.Outputs,
		ParamsFile:   inst.ParamsFile,
		MetricsFiles: inst.Metrics,
	}
	for name, keys := range inst.InputKeys {
		if in.UpstreamKeys == nil {
			in.UpstreamKeys = make(map[string][]string, len(inst.InputKeys))
		}
		in.UpstreamKeys["input."+name] = keys
	}
	for _, a := range inst.Command {
		in.Command = append(in.Command, red(a))
	}
	if len(inst.Env) > 0 {
		in.Env = make(map[string]string, len(inst.Env))
		for k, v := range inst.Env {
			in.Env[k] = red(v)
		}
	}
	if len(inst.Params) > 0 {
		in.Params = make(map[string]json.RawMessage, len(inst.Params))
		for k, v := range inst.Params {
			in.Params[k] = redactJSON(v, cfg.Secrets)
		}
	}
	if used := inst.SecretsUsed(cfg.Secrets); len(used) > 0 {
		in.SecretsHash = lang.SecretsHash(used)
	}
	return in
}

// redactJSON redacts a JSON value, keeping it valid JSON: a secret inside
// a string becomes "(sensitive)" there, as JSON escapes are among the forms
// Redact finds. Where redaction would break the JSON (a secret that is a
// number, or spans a string's quotes), the whole value is "(sensitive)".
// Never the redacted text encoded again: "\"(sensitive)\"" is no value.
func redactJSON(raw json.RawMessage, secrets []string) json.RawMessage {
	s := lang.Redact(string(raw), secrets)
	if s == string(raw) {
		return raw
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(lang.Redacted)
	return b
}

// Fingerprint hashes fingerprint inputs canonically: json.Marshal sorts map
// keys, so map order never matters. SourceDir and Outputs are recorded but
// not hashed (SPEC §3): moving a project does not re-run it, its content
// does; declared outputs say what to collect, not what to compute.
func Fingerprint(in *state.FingerprintInputs) string {
	c := *in
	c.SourceDir, c.Outputs, c.MetricsFiles = "", nil, nil
	b, err := json.Marshal(&c)
	if err != nil {
		panic(fmt.Sprintf("fingerprint inputs do not encode: %v", err)) // only plain data is in there
	}
	h := sha256.New()
	h.Write([]byte(fingerprintVersion))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultEnvironment is the fingerprint of the default host environment.
const DefaultEnvironment = "host"

// EnvironmentFingerprint hashes an environment block's kind and values.
// Sensitive attribute values enter only through a salted hash.
func EnvironmentFingerprint(cfg *lang.Config, name string) string {
	if name == "" {
		return DefaultEnvironment
	}
	b := cfg.Environments[name]
	if b == nil {
		return DefaultEnvironment
	}
	keys := make([]string, 0, len(b.Values))
	for k := range b.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	fmt.Fprintf(h, "env\x00%s\x00", b.Kind)
	for _, k := range keys {
		v := b.Values[k]
		js, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			js = []byte(v.GoString())
		}
		if v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			js = []byte(secretsOrValue(string(js), cfg.Secrets))
		}
		fmt.Fprintf(h, "%s=%s\x00", k, js)
	}
	return b.Kind + ":" + hex.EncodeToString(h.Sum(nil))[:32]
}

func secretsOrValue(s string, secrets []string) string {
	if r := lang.Redact(s, secrets); r != s {
		return r + lang.SecretsHash([]string{s})
	}
	return s
}
