package envs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	_ "embed"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
)

//go:embed image.sh
var imageScript string

// Container returns the "container" environment kind: runs start inside a
// podman or docker container of an image, pulled or built from a context
// (tagged by the context's content hash).
func Container() providers.EnvironmentKind { return containerKind{} }

type containerKind struct{}

func (containerKind) Schema() providers.Schema {
	return providers.Schema{
		Attrs: []providers.Attr{
			{Name: "image", Type: cty.String, Doc: "The image to run, pulled when the compute lacks it; instead of build."},
			{Name: "runtime", Type: cty.String, Doc: "\"podman\" or \"docker\". Default: whichever the compute has, podman first."},
			{Name: "run_args", Type: cty.List(cty.String), Doc: "Further options of `run`, before the image: [\"--shm-size\", \"8g\"]."},
		},
		Blocks: []providers.Block{{Name: "build", Attrs: []providers.Attr{
			{Name: "context", Type: cty.String, Doc: "The build context directory, relative to the working directory."},
			{Name: "dockerfile", Type: cty.String, Doc: "Relative to the context. Default: Dockerfile."},
			{Name: "args", Type: cty.Map(cty.String), Doc: "Build arguments (--build-arg NAME=VALUE)."},
		}}},
	}
}

type containerSettings struct {
	image      string
	runtime    string
	runArgs    []string
	build      bool
	context    string
	dockerfile string
	args       map[string]string
}

func decodeContainer(v providers.Values) (containerSettings, []providers.Problem) {
	var s containerSettings
	var ps []providers.Problem
	var p *providers.Problem
	var hasImage bool
	s.image, hasImage, p = str(v, "image")
	ps = appendProblem(ps, p)
	if hasImage && (s.image == "" || strings.ContainsAny(s.image, " \t\n")) {
		ps = append(ps, *problem("image", "image must be an image reference, such as \"docker.io/library/python:3.12\"."))
	}
	var ok bool
	s.runtime, ok, p = str(v, "runtime")
	ps = appendProblem(ps, p)
	if ok && s.runtime != "podman" && s.runtime != "docker" {
		ps = append(ps, *problem("runtime", "runtime must be \"podman\" or \"docker\", not %q.", s.runtime))
	}
	s.runArgs, _, p = list(v, "run_args")
	ps = appendProblem(ps, p)
	if b, ok := v["build"]; ok && !b.IsNull() {
		b, _ = b.UnmarkDeep()
		if !b.Type().IsObjectType() {
			return s, append(ps, *problem("build", "build must be a block."))
		}
		s.build = true
		get := func(name string) cty.Value {
			if b.Type().HasAttribute(name) {
				return b.GetAttr(name)
			}
			return cty.NullVal(cty.DynamicPseudoType)
		}
		var ok bool
		s.context, ok, p = asString(get("context"), "context")
		ps = appendProblem(ps, p)
		if !ok || s.context == "" {
			ps = append(ps, *problem("build", "build needs context = \"DIR\", the directory to build from."))
		}
		s.dockerfile, _, p = asString(get("dockerfile"), "dockerfile")
		ps = appendProblem(ps, p)
		if s.dockerfile == "" {
			s.dockerfile = "Dockerfile"
		}
		if d := s.dockerfile; path.IsAbs(d) || path.Clean(d) != d || d == ".." || strings.HasPrefix(d, "../") {
			ps = append(ps, *problem("dockerfile", "dockerfile must be a path inside the context, such as \"docker/Dockerfile\" (%q).", d))
		}
		s.args, p = stringMap(get("args"), "args")
		ps = appendProblem(ps, p)
	}
	switch {
	case s.build && hasImage:
		ps = append(ps, *problem("image", "Give image or a build block, not both."))
	case !s.build && !hasImage && len(ps) == 0:
		ps = append(ps, providers.Problem{Summary: "No image", Detail: "A container environment needs image = \"REFERENCE\" or a build { context = \"DIR\" } block."})
	}
	return s, ps
}

func (containerKind) Validate(v providers.Values) []providers.Problem {
	_, ps := decodeContainer(v)
	return ps
}

func (containerKind) Open(name string, v providers.Values, env providers.Env) (providers.Environment, error) {
	s, ps := decodeContainer(v)
	if err := firstProblem("container", name, ps); err != nil {
		return nil, err
	}
	e := &container{name: name, s: s}
	// Builds: a built image is built, an image named is pulled when
	// missing: either way, something to make on the compute.
	spec := providers.EnvSpec{Kind: "container", Builds: true, Attrs: map[string]string{}}
	if len(s.runArgs) > 0 {
		b, _ := json.Marshal(s.runArgs)
		spec.Attrs["run_args"] = string(b)
	}
	if !s.build {
		spec.Attrs["image"] = s.image
		e.spec = withID(spec)
		return e, nil
	}
	dir := s.context
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(env.Dir, dir)
	}
	m, err := scanContext(dir, env.DataDir)
	if err != nil {
		return nil, fmt.Errorf("environment %q: build context: %w", name, err)
	}
	df, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(s.dockerfile)))
	if err != nil {
		return nil, fmt.Errorf("environment %q: %w", name, err)
	}
	e.contextDir, e.context = dir, m
	spec.Attrs["context.sha256"] = m.ID
	spec.Attrs["dockerfile"] = s.dockerfile
	spec.Attrs["dockerfile.sha256"] = sha(df)
	if len(s.args) > 0 {
		b, _ := json.Marshal(s.args) // sorted keys
		spec.Attrs["build_args"] = string(b)
	}
	e.spec = withID(spec)
	return e, nil
}

// scanContext snapshots a build context with the snapshot rules
// (.gitignore, .trainrunignore), with a stat cache under dataDir.
func scanContext(dir, dataDir string) (*snapshot.Manifest, error) {
	var cache *snapshot.StatCache
	var cachePath string
	if dataDir != "" {
		cachePath = filepath.Join(dataDir, "envs", "statcache-"+sha([]byte(dir))[:16])
		cache, _ = snapshot.LoadStatCache(cachePath) // a bad cache is only slower
	}
	m, _, err := snapshot.Scan(dir, snapshot.ScanOptions{Cache: cache})
	if err != nil {
		return nil, err
	}
	if cache != nil && os.MkdirAll(filepath.Dir(cachePath), 0o700) == nil {
		_ = cache.Save(cachePath) // best effort: the next plan rehashes
	}
	return m, nil
}

type container struct {
	name       string
	s          containerSettings
	spec       providers.EnvSpec
	contextDir string
	context    *snapshot.Manifest
}

func (e *container) Spec(context.Context, providers.Machine) (providers.EnvSpec, error) {
	return e.spec, nil
}

// tag is the image a build makes: named after the environment, tagged
// with its content hash.
func (e *container) tag(id string) string {
	var b strings.Builder
	dash := true
	for _, c := range strings.ToLower(e.name) {
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if name == "" {
		name = "env"
	}
	return "localhost/trainrun-" + name + ":" + strings.TrimPrefix(id, "container-")
}

// probeImageScript finds the runtime (podman first) and says who runs and
// whether the image is there. Arguments: RUNTIME IMAGE; RUNTIME may be
// empty. Prints the runtime, uid, gid, and the image id or "missing".
const probeImageScript = `rt=$1
if [ -z "$rt" ]; then
	for t in podman docker; do
		if command -v "$t" >/dev/null 2>&1; then rt=$t; break; fi
	done
	[ -n "$rt" ] || { echo "neither podman nor docker is installed (or on PATH)" >&2; exit 3; }
elif ! command -v "$rt" >/dev/null 2>&1; then
	echo "$rt is not installed (or not on PATH)" >&2
	exit 3
fi
echo "$rt"
id -u
id -g
"$rt" image inspect --format '{{.Id}}' "$2" 2>/dev/null || echo missing`

// probe is what probeImageScript says.
type probe struct {
	runtime, uid, gid, imageID string // imageID "" when missing
}

func probeImage(ctx context.Context, m providers.Machine, runtime, image string) (probe, error) {
	out, err := m.Run(ctx, []string{"sh", "-c", probeImageScript, "trainrun-probe", runtime, image}, nil)
	if err != nil {
		return probe{}, err
	}
	f := strings.Fields(string(out))
	if len(f) != 4 {
		return probe{}, fmt.Errorf("unexpected answer %q", firstLine(string(out)))
	}
	p := probe{runtime: f[0], uid: f[1], gid: f[2]}
	if f[3] != "missing" {
		p.imageID = strings.TrimPrefix(f[3], "sha256:")
	}
	for _, n := range []string{p.uid, p.gid} {
		if _, err := strconv.Atoi(n); err != nil {
			return probe{}, fmt.Errorf("unexpected user id %q", n)
		}
	}
	return p, nil
}

func (e *container) Prepare(ctx context.Context, m providers.Machine, dir string, spec providers.EnvSpec) (*providers.Prepared, error) {
	if spec.ID != e.spec.ID {
		return nil, fmt.Errorf("environment %q changed since it was planned (its build context was edited?); plan again", e.name)
	}
	ref := e.s.image
	if e.s.build {
		ref = e.tag(spec.ID)
	}
	p, err := probeImage(ctx, m, e.s.runtime, ref)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", e.name, err)
	}
	built := false
	if p.imageID == "" {
		if e.s.build {
			if err := e.buildImage(ctx, m, dir, spec.ID, p.runtime, ref); err != nil {
				return nil, fmt.Errorf("container %s: %w", e.name, err)
			}
			built = true
		} else if _, err := m.Run(ctx, []string{p.runtime, "pull", "--quiet", ref}, nil); err != nil {
			return nil, fmt.Errorf("container %s: pull %s: %w", e.name, ref, err)
		}
		if p, err = probeImage(ctx, m, p.runtime, ref); err != nil {
			return nil, fmt.Errorf("container %s: %w", e.name, err)
		}
		if p.imageID == "" {
			return nil, fmt.Errorf("container %s: %s is still missing after %s", e.name, ref, map[bool]string{true: "building it", false: "pulling it"}[e.s.build])
		}
	}
	return &providers.Prepared{
		Location: ref,
		Built:    built,
		Created:  e.s.build,
		Digest:   "sha256:" + p.imageID,
		Env:      map[string]string{},
		Launcher: &launcher{
			runtime: p.runtime,
			docker:  path.Base(p.runtime) == "docker",
			// Not root: podman is rootless, and maps the user's
			// id inside the container to the user with keep-id.
			rootless: path.Base(p.runtime) != "docker" && p.uid != "0",
			uid:      p.uid,
			gid:      p.gid,
			image:    p.imageID,
			runArgs:  e.s.runArgs,
		},
	}, nil
}

// buildImage uploads the context and builds the image under the
// environment's lock.
func (e *container) buildImage(ctx context.Context, m providers.Machine, dir, id, runtime, tag string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	files, err := contextFiles(e.contextDir, e.context)
	if err != nil {
		return err
	}
	up := path.Join(dir, ".d", id+"."+randomSuffix()+".context")
	if err := m.Mkdir(ctx, up, 0o700); err != nil {
		return fmt.Errorf("upload build context: %w", err)
	}
	clean := func() { _ = m.RemoveAll(context.WithoutCancel(ctx), up) }
	if err := m.Put(ctx, up, files); err != nil {
		clean()
		return fmt.Errorf("upload build context: %w", err)
	}
	argv := []string{"sh", "-c", lockScript + imageScript, "trainrun-image", dir, id, runtime, tag, up, e.s.dockerfile}
	for _, k := range slices.Sorted(maps.Keys(e.s.args)) {
		argv = append(argv, "--build-arg", k+"="+e.s.args[k])
	}
	out, err := m.Run(ctx, argv, nil)
	clean() // the script removes it too; not when it was killed
	if err != nil {
		return fmt.Errorf("build failed: %w", err)
	}
	if s := strings.TrimSpace(string(out)); s != "built" && s != "cached" {
		return fmt.Errorf("build: unexpected output %q", firstLine(s))
	}
	return nil
}

// contextFiles lists the context's files for Machine.Put, read from where
// they are: a symlink carries its target.
func contextFiles(dir string, m *snapshot.Manifest) ([]providers.File, error) {
	files := make([]providers.File, len(m.Entries))
	for i, en := range m.Entries {
		local := filepath.Join(dir, filepath.FromSlash(en.Path))
		files[i] = providers.File{Path: en.Path, Mode: en.Mode, Blob: local}
		if en.IsSymlink() {
			t, err := os.Readlink(local)
			if err != nil {
				return nil, fmt.Errorf("build context: %w", err)
			}
			files[i].Blob = t
		}
	}
	return files, nil
}

// removeImageScript removes IMAGE with whichever runtime has it.
const removeImageScript = `for t in podman docker; do
	command -v "$t" >/dev/null 2>&1 || continue
	"$t" image inspect "$1" >/dev/null 2>&1 || continue
	"$t" rmi "$1" >/dev/null || exit 1
done`

// Remove removes an image that a build made; other images (pulled ones)
// are left alone.
func (containerKind) Remove(ctx context.Context, m providers.Machine, _, location string) error {
	if !strings.HasPrefix(location, "localhost/trainrun-") {
		return nil
	}
	if _, err := m.Run(ctx, []string{"sh", "-c", removeImageScript, "trainrun-rmi", location}, nil); err != nil {
		return fmt.Errorf("remove image %s: %w", location, err)
	}
	return nil
}

// launcher starts a run's command in a container of the prepared image:
// the run directory mounted at its own path (so every TRAINRUN_* path
// holds inside), inputs read-only, the run's variables passed by name,
// the compute's user, the run's GPUs.
type launcher struct {
	runtime  string
	docker   bool
	rootless bool // podman run by a user other than root
	uid, gid string
	image    string // the image id: exactly the recorded image
	runArgs  []string
}

func (l *launcher) Launch(x providers.Launch) ([]string, error) {
	for _, p := range append([]string{x.RunDir, x.WorkDir}, x.Mounts...) {
		if !path.IsAbs(p) || strings.ContainsAny(p, ":,\x00") {
			return nil, fmt.Errorf("container: cannot mount %q (a path must be absolute, without ':' or ',')", p)
		}
	}
	argv := []string{l.runtime, "run", "--rm", "--init", "--user", l.uid + ":" + l.gid}
	if l.rootless {
		argv = append(argv, "--userns=keep-id") // the same uid inside and out
	}
	argv = append(argv, "--volume", x.RunDir+":"+x.RunDir, "--workdir", x.WorkDir)
	for _, m := range x.Mounts {
		argv = append(argv, "--volume", m+":"+m+":ro")
	}
	for _, name := range x.Env {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return nil, fmt.Errorf("container: %q cannot be an environment variable name", name)
		}
		argv = append(argv, "--env", name)
	}
	if len(x.GPUs) > 0 {
		if l.docker {
			ids := make([]string, len(x.GPUs))
			for i, g := range x.GPUs {
				ids[i] = strconv.Itoa(g)
			}
			argv = append(argv, "--gpus", `"device=`+strings.Join(ids, ",")+`"`)
		} else {
			for _, g := range x.GPUs {
				argv = append(argv, "--device", "nvidia.com/gpu="+strconv.Itoa(g))
			}
		}
	}
	argv = append(argv, l.runArgs...)
	if len(x.Argv) == 0 {
		return nil, errors.New("container: the run has no command")
	}
	argv = append(argv, l.image)
	return append(argv, x.Argv...), nil
}
