// Package envtest gives integration tests of environments what they need
// for real: Debian's python3 with its venv module, wheels built on the spot
// (no package index is reachable), podman able to run containers, and a
// busybox image imported from a local root file system (no registry is
// reachable either).
//
// Missing Debian packages are installed with apt-get. When something cannot
// be had (not root, no apt-get, no network) the test is skipped with the
// reason, or fails when TRAINRUN_REQUIRE_INTEGRATION=1.
package envtest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Python is the interpreter Debian's python3-* packages install for.
const Python = "/usr/bin/python3"

// Unavailable skips t, or fails it under TRAINRUN_REQUIRE_INTEGRATION=1.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "envtest: " + fmt.Sprintf(format, args...)
	if os.Getenv("TRAINRUN_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg + " (TRAINRUN_REQUIRE_INTEGRATION=1)")
	}
	t.Skip(msg)
}

// skipShort skips t under go test -short: what needs these services is an
// integration test, which make test runs (and CI, where nothing is skipped).
func skipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip("envtest: " + what + ": not with -short (make test runs it)")
	}
}

var aptMu sync.Mutex

// Install installs Debian packages that are missing. It returns an error
// when that cannot be done.
func Install(pkgs ...string) error {
	aptMu.Lock()
	defer aptMu.Unlock()
	var missing []string
	for _, p := range pkgs {
		out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s missing and installing needs root", strings.Join(missing, ", "))
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%s missing and there is no apt-get", strings.Join(missing, ", "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	apt := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600", "-y", "-qq"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v: %s", strings.Join(args, " "), err, lastLines(out, 5))
		}
		return nil
	}
	if err := apt(append([]string{"install"}, missing...)...); err != nil {
		if err := apt("update"); err != nil {
			return err
		}
		return apt(append([]string{"install"}, missing...)...)
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RequireVenv makes sure Debian's python3 can create virtual environments.
func RequireVenv(t testing.TB) {
	t.Helper()
	skipShort(t, "creates virtual environments")
	if err := exec.Command(Python, "-c", "import venv, ensurepip").Run(); err == nil {
		return
	}
	if err := Install("python3-venv", "python3-pip"); err != nil {
		Unavailable(t, "python3 venv: %v", err)
	}
	if out, err := exec.Command(Python, "-c", "import venv, ensurepip").CombinedOutput(); err != nil {
		Unavailable(t, "python3 venv after installing python3-venv: %v: %s", err, out)
	}
}

// RequireSklearn makes sure Debian's python3 has scikit-learn.
func RequireSklearn(t testing.TB) {
	t.Helper()
	skipShort(t, "trains with scikit-learn")
	if err := exec.Command(Python, "-c", "import sklearn").Run(); err == nil {
		return
	}
	if err := Install("python3-sklearn"); err != nil {
		Unavailable(t, "scikit-learn: %v", err)
	}
}

// Wheel writes a pure-Python wheel of package name (a module of the same
// name whose VERSION is version) into dir and returns its path.
func Wheel(t testing.TB, dir, name, version string) string {
	t.Helper()
	mod := strings.ReplaceAll(name, "-", "_")
	dist := mod + "-" + version + ".dist-info"
	files := []struct{ name, body string }{
		{mod + "/__init__.py", fmt.Sprintf("VERSION = %q\n", version)},
		{dist + "/METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: a test package\n", name, version)},
		{dist + "/WHEEL", "Wheel-Version: 1.0\nGenerator: envtest\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", dist)
	w, err := zw.Create(dist + "/RECORD")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, mod+"-"+version+"-py3-none-any.whl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// BusyboxImage is the image Podman imports: a static busybox and its
// applets.
const BusyboxImage = "localhost/trainrun-test-busybox:1"

// RequirePodman makes sure podman can run containers of BusyboxImage, and
// returns the `podman run` options this machine needs for that (on some,
// crun cannot run and the default open-files limit is refused: see
// REAL-SERVICES.md).
func RequirePodman(t testing.TB) []string {
	t.Helper()
	skipShort(t, "runs podman containers")
	if err := Install("podman", "runc", "busybox-static"); err != nil {
		Unavailable(t, "podman: %v", err)
	}
	if err := importBusybox(); err != nil {
		Unavailable(t, "podman: %v", err)
	}
	var last error
	for _, opts := range [][]string{nil, {"--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}} {
		args := append(append([]string{"run", "--rm", "--init"}, opts...), BusyboxImage, "true")
		out, err := exec.Command("podman", args...).CombinedOutput()
		if err == nil {
			return opts
		}
		last = fmt.Errorf("podman %s: %v: %s", strings.Join(args, " "), err, lastLines(out, 3))
	}
	Unavailable(t, "podman cannot run containers here: %v", last)
	return nil
}

var importOnce struct {
	sync.Mutex
	done bool
}

// importBusybox imports BusyboxImage, once, from a root file system holding
// busybox-static.
func importBusybox() error {
	importOnce.Lock()
	defer importOnce.Unlock()
	if importOnce.done || exec.Command("podman", "image", "exists", BusyboxImage).Run() == nil {
		importOnce.done = true
		return nil
	}
	if err := podmanImport(exec.Command("podman", "import", "--change", "ENV PATH=/bin", "-", BusyboxImage)); err != nil {
		return err
	}
	importOnce.done = true
	return nil
}

// ImportBusyboxAs imports BusyboxImage into the podman storage of user
// (rootless podman keeps one per user), with su, and returns the `podman
// run` options that user needs (no network: rootless podman on these
// machines cannot open /dev/net/tun). RequirePodman must have passed.
func ImportBusyboxAs(t testing.TB, user string, runOpts []string) []string {
	t.Helper()
	script := "cd && podman image exists " + BusyboxImage + " || podman import --change 'ENV PATH=/bin' - " + BusyboxImage
	if err := podmanImport(exec.Command("su", "-s", "/bin/sh", user, "-c", script)); err != nil {
		Unavailable(t, "rootless podman for %s: %v", user, err)
	}
	opts := append([]string{"--network", "none"}, runOpts...)
	check := "cd && podman run --rm --init " + strings.Join(opts, " ") + " " + BusyboxImage + " true"
	if out, err := exec.Command("su", "-s", "/bin/sh", user, "-c", check).CombinedOutput(); err != nil {
		Unavailable(t, "rootless podman for %s cannot run containers: %v: %s", user, err, lastLines(out, 3))
	}
	return opts
}

// podmanImport runs cmd (a podman import reading stdin) with the busybox
// root file system as its input.
func podmanImport(cmd *exec.Cmd) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return errors.New("no busybox")
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "tmp/", "etc/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(data))})
	tw.Write(data)
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\n"
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Mode: 0o644, Size: int64(len(passwd))})
	tw.Write([]byte(passwd))
	if err := tw.Close(); err != nil {
		return err
	}
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("podman import: %v: %s", err, lastLines(out, 3))
	}
	return nil
}

// SmallFilesystem mounts a tmpfs of size bytes (rounded up to pages) on
// dir, an empty directory, writable by anyone (mode 1777, as /tmp), and
// unmounts it when the test ends: a real file system that fills up, for
// tests of a full disk. Mounting needs root.
func SmallFilesystem(t testing.TB, dir string, size int64) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=1777", size)); err != nil {
		Unavailable(t, "mount a %d-byte tmpfs on %s: %v (needs root)", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}
