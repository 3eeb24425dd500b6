package envs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
)

func TestPackagesKey(t *testing.T) {
	base := packagesKey("node", "/usr/bin/python3", []string{"100 /usr/lib/python3/dist-packages", "200 /usr/local/lib/python3.11/dist-packages"})
	if again := packagesKey("node", "/usr/bin/python3", []string{"100 /usr/lib/python3/dist-packages", "200 /usr/local/lib/python3.11/dist-packages"}); again != base {
		t.Fatalf("same interpreter and directories: %s, then %s", base, again)
	}
	for name, key := range map[string]string{
		"another machine":     packagesKey("other", "/usr/bin/python3", []string{"100 /usr/lib/python3/dist-packages", "200 /usr/local/lib/python3.11/dist-packages"}),
		"another interpreter": packagesKey("node", "/usr/bin/python3.12", []string{"100 /usr/lib/python3/dist-packages", "200 /usr/local/lib/python3.11/dist-packages"}),
		"a directory changed": packagesKey("node", "/usr/bin/python3", []string{"101 /usr/lib/python3/dist-packages", "200 /usr/local/lib/python3.11/dist-packages"}),
		"a directory gone":    packagesKey("node", "/usr/bin/python3", []string{"100 /usr/lib/python3/dist-packages"}),
		"no directories":      packagesKey("node", "/usr/bin/python3", nil),
	} {
		if key == base {
			t.Errorf("%s: same key %s", name, key)
		}
	}
}

// TestHostPackages lists a venv's packages, from the cache while its
// package directory is unchanged, and again when a package appears; with
// lock = true they change the environment's ID.
func TestHostPackages(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	dir := t.TempDir()
	v := filepath.Join(dir, "v")
	if out, err := exec.Command(py, "-m", "venv", "--without-pip", v).CombinedOutput(); err != nil {
		t.Skipf("python3 -m venv: %v: %s", err, out)
	}
	site, _ := filepath.Glob(filepath.Join(v, "lib", "python3*", "site-packages"))
	if len(site) != 1 {
		t.Fatalf("site-packages of the venv: %q", site)
	}
	vals := providers.Values{"python": cty.StringVal(filepath.Join(v, "bin", "python")), "lock": cty.True}
	env := open(t, Host(), vals, dir)
	unlocked := open(t, Host(), providers.Values{"python": vals["python"]}, dir)
	m := &machine{}
	look := func(e providers.Environment) providers.EnvSpec {
		t.Helper()
		s, err := e.Spec(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := look(env)
	if strings.Contains(first.Packages, "fakepkg") || !strings.HasPrefix(first.Packages, "#") {
		t.Fatalf("packages of an empty venv: %q", first.Packages)
	}
	runs := m.runs
	if again := look(env); again.ID != first.ID || again.Packages != first.Packages || m.runs != runs+1 {
		t.Fatalf("unchanged: ID %s then %s, %d commands (want 1: the probe, packages from the cache)", first.ID, again.ID, m.runs-runs)
	}
	before := look(unlocked)
	info := filepath.Join(site[0], "fakepkg-1.0.dist-info")
	if err := os.Mkdir(info, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(info, "METADATA"), []byte("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	after := look(env)
	if !strings.Contains(after.Packages, "\nfakepkg==1.0\n") || after.ID == first.ID {
		t.Fatalf("after installing fakepkg (lock = true): ID %s (was %s), packages %q", after.ID, first.ID, after.Packages)
	}
	if got := providers.PackagesDiff(first.Packages, after.Packages); got != "+fakepkg 1.0" {
		t.Errorf("diff %q", got)
	}
	if u := look(unlocked); u.ID != before.ID || u.Packages != after.Packages {
		t.Errorf("lock = false: ID %s (was %s), packages %q", u.ID, before.ID, u.Packages)
	}
	p, err := env.Prepare(context.Background(), nil, "", after)
	if err != nil || p.Lock != after.Packages {
		t.Fatalf("prepared lock %q, %v", p.Lock, err)
	}
}
