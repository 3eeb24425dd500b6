package providers

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// EnvironmentKind is one kind of environment ("host", "venv", "conda",
// "container").
type EnvironmentKind interface {
	Schema() Schema
	// Validate checks decoded values beyond their types. It must not
	// contact anything.
	Validate(v Values) []Problem
	// Open returns the environment described by v. It contacts nothing; it
	// may read local files that v names (a requirements file, a build
	// context), relative to env.Dir.
	Open(name string, v Values, env Env) (Environment, error)
}

// Environment is one configured environment. Its methods may be called from
// several goroutines at once.
type Environment interface {
	// Spec says what the environment is on m: its declaration, normalized,
	// and for user-managed kinds what m actually has (the interpreter's
	// path and version). Kinds that build what they declare read only
	// local files and leave m alone.
	Spec(ctx context.Context, m Machine) (EnvSpec, error)
	// Prepare makes the environment of spec ready on m, below dir (a
	// directory trainrun owns there, shared by concurrent trainrun
	// processes), building it when it is not there yet: at most one
	// build per spec at a time, a failed build leaving nothing behind and
	// reporting the build tool's own error. It says how runs use it.
	Prepare(ctx context.Context, m Machine, dir string, spec EnvSpec) (*Prepared, error)
}

// EnvRemover is implemented by environment kinds whose Prepare creates
// something on the machine (a directory, an image), so that destroy can
// remove it, even after the environment left the configuration.
type EnvRemover interface {
	// Remove deletes what Prepare created at location (Prepared.Location)
	// below dir. What is already gone is not an error.
	Remove(ctx context.Context, m Machine, dir, location string) error
}

// EnvSpec is an environment's identity, as its kind normalizes it. Runs that
// use the environment hash Kind and ID into their fingerprint; a plan
// compares two specs to say what changed.
type EnvSpec struct {
	Kind string `json:"kind"`
	// ID hashes everything below (and the content of files the
	// declaration names); it names the environment's directory or image on
	// a compute. Lower-case letters, digits and '-' only.
	ID string `json:"id"`
	// Requirements are the packages asked for, normalized and sorted
	// (venv, conda).
	Requirements []string `json:"requirements,omitempty"`
	// Attrs are the other settings in normalized text form (python,
	// pip_args, image, the build context's content hash, an observed
	// interpreter version…).
	Attrs map[string]string `json:"attrs,omitempty"`
	// Builds says whether Prepare makes something on the compute (builds
	// or pulls it); false: user-managed, nothing to create.
	Builds bool `json:"builds,omitempty"`
	// Packages is the package set a kind that looks (host) found on the
	// machine ("name==version" lines, sorted), when it looked; not
	// recorded with the spec and not part of ID unless the kind hashes it
	// (host: lock = true). Prepare gives it as the Lock.
	Packages string `json:"-"`
}

// Fingerprint is what a run's fingerprint hashes for the environment.
func (s EnvSpec) Fingerprint() string { return s.Kind + ":" + s.ID }

// Prepared is an environment made ready on one machine.
type Prepared struct {
	// Location is where it lives on the machine: a directory, an image
	// reference, an interpreter.
	Location string
	// Env is what a run using it sees besides its own env. Directories to
	// put first on PATH are in TRAINRUN_PATH_PREPEND (colon-separated):
	// the machine owns PATH.
	Env map[string]string
	// Built is true when this call built it; false when it was there.
	Built bool
	// Created is true when trainrun created what Location names (a pulled
	// image, an interpreter that was installed already, are not): destroy
	// removes only what trainrun created.
	Created bool
	// Lock is the resolved package set (pip freeze, conda's export), when
	// the kind has one; read from the machine when not built now.
	Lock string
	// Digest identifies a container image exactly (its image id).
	Digest string
	// Launcher, when not nil, starts the run's command inside the
	// environment (a container).
	Launcher Launcher
}

// PathPrependVar names a colon-separated list of directories that the run
// wrapper puts first on the command's PATH (only on the machine is its own
// PATH known); the command does not see the variable itself.
const PathPrependVar = "TRAINRUN_PATH_PREPEND"

// Launcher turns a run's command into the command the run wrapper starts,
// such as `podman run … IMAGE COMMAND`.
type Launcher interface {
	Launch(l Launch) ([]string, error)
}

// Launch is what a launcher needs to know of one run, on its machine.
type Launch struct {
	RunDir  string   // the run's directory; the command's working directory is WorkDir inside it
	WorkDir string   // the materialized snapshot
	Argv    []string // the run's command
	// Env names the variables the command must see. Their values are in
	// the launcher's own environment, so that no value appears in a
	// command line.
	Env []string
	// Mounts are further directories the run reads (its inputs).
	Mounts []string
	GPUs   []int // GPU indices given to the run
}

// Machine is what an environment needs of the machine it is prepared on.
// Every executor.Executor is one.
type Machine interface {
	// Run runs argv to completion and returns its stdout. A non-zero exit
	// is an error that carries the command's stderr.
	Run(ctx context.Context, argv []string, stdin io.Reader) ([]byte, error)
	ReadFile(ctx context.Context, path string) ([]byte, error)
	WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error
	Mkdir(ctx context.Context, path string, mode os.FileMode) error
	RemoveAll(ctx context.Context, path string) error
	// Put materializes files below dir, which must exist.
	Put(ctx context.Context, dir string, files []File) error
}

// EnvironmentHost is implemented by computes that hold environments: runs
// start on Machine, and environments live in EnvironmentDir on it.
type EnvironmentHost interface {
	EnvironmentMachine(ctx context.Context) (m Machine, dir string)
}

// Changes says what differs from old to s, for a plan's reasons:
// "requirements changed: +numpy, scikit-learn 1.2.1 → 1.3.0",
// "python: 3.11.2 → 3.11.7". Attributes named NAME.sha256 hash a file or
// tree: "NAME changed".
func (s EnvSpec) Changes(old EnvSpec) []string {
	var out []string
	if s.Kind != old.Kind {
		out = append(out, fmt.Sprintf("kind changed: %s → %s", old.Kind, s.Kind))
	}
	if d := requirementsDiff(old.Requirements, s.Requirements); d != "" {
		out = append(out, "requirements changed: "+d)
	}
	keys := make([]string, 0, len(s.Attrs)+len(old.Attrs))
	for k := range s.Attrs {
		keys = append(keys, k)
	}
	for k := range old.Attrs {
		if _, ok := s.Attrs[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, inOld := old.Attrs[k]
		b, inNew := s.Attrs[k]
		if inOld && inNew && a == b {
			continue
		}
		if name, ok := strings.CutSuffix(k, ".sha256"); ok {
			out = append(out, name+" changed")
			continue
		}
		switch {
		case !inOld:
			out = append(out, fmt.Sprintf("%s added: %s", k, short(b)))
		case !inNew:
			out = append(out, fmt.Sprintf("%s removed (was %s)", k, short(a)))
		default:
			out = append(out, fmt.Sprintf("%s: %s → %s", k, short(a), short(b)))
		}
	}
	return out
}

func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// PackagesDiff says how the package set new ("name==version" lines, a
// lock) differs from old: "+torch 2.1.0, -six, numpy 1.24.2 → 1.26.4";
// "" when they hold the same packages.
func PackagesDiff(old, new string) string {
	return requirementsDiff(lockLines(old), lockLines(new))
}

func lockLines(lock string) []string {
	var out []string
	for _, l := range strings.Split(lock, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// requirementsDiff lists added (+name), removed (-name) and changed
// (name old → new) requirements, by package name.
func requirementsDiff(old, new []string) string {
	o, n := requirementMap(old), requirementMap(new)
	names := make([]string, 0, len(o)+len(n))
	for k := range n {
		names = append(names, k)
	}
	for k := range o {
		if _, ok := n[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		a, inOld := o[name]
		b, inNew := n[name]
		switch {
		case !inOld:
			parts = append(parts, "+"+name+versionSuffix(b))
		case !inNew:
			parts = append(parts, "-"+name)
		case a != b:
			parts = append(parts, fmt.Sprintf("%s %s → %s", name, versionText(a), versionText(b)))
		}
	}
	return strings.Join(parts, ", ")
}

// requirementMap splits requirements into name → the rest ("==1.2.1").
func requirementMap(rs []string) map[string]string {
	m := make(map[string]string, len(rs))
	for _, r := range rs {
		i := 0
		for i < len(r) && (isNameByte(r[i])) {
			i++
		}
		if i == 0 {
			m[r] = ""
			continue
		}
		m[r[:i]] = strings.TrimSpace(r[i:])
	}
	return m
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
}

// versionText writes a pin as its version (==1.2.1 and =1.2.1 are 1.2.1)
// and any other constraint as it is.
func versionText(v string) string {
	switch {
	case v == "":
		return "any"
	case strings.HasPrefix(v, "==") && !strings.ContainsAny(v[2:], "=<>!~,*; "):
		return v[2:]
	case strings.HasPrefix(v, "=") && !strings.ContainsAny(v[1:], "=<>!~,*; "):
		return v[1:]
	}
	return v
}

func versionSuffix(v string) string {
	if v == "" {
		return ""
	}
	return " " + versionText(v)
}
