package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstall runs 'make install' as the README says, into a PREFIX
// and into a GOBIN, and runs what it installed.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds trainrun with make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		env  string
		want string // where trainrun is installed, under the test's directory
	}{
		{"PREFIX", []string{"PREFIX=%s/usr"}, "", "usr/bin/trainrun"},
		{"GOBIN", nil, "GOBIN=%s/gobin", "gobin/trainrun"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"-C", root, "install", "BIN=" + filepath.Join(dir, "build", "trainrun")}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "%s", dir))
			}
			cmd := exec.Command("make", args...)
			cmd.Env = os.Environ()
			if tt.env != "" {
				cmd.Env = append(cmd.Env, strings.ReplaceAll(tt.env, "%s", dir))
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make install: %v\n%s", err, out)
			}
			bin := filepath.Join(dir, tt.want)
			if !strings.Contains(string(out), "installed "+bin) {
				t.Errorf("make install does not say where it installed:\n%s", out)
			}
			if !strings.Contains(string(out), "is not on your PATH") {
				t.Errorf("make install does not say that %s is not on PATH:\n%s", filepath.Dir(bin), out)
			}
			v, err := exec.Command(bin, "version").Output()
			if err != nil || !strings.HasPrefix(string(v), "trainrun ") {
				t.Errorf("%s version: %q, %v", bin, v, err)
			}
		})
	}
}

// TestCINeverShort checks that CI runs every test: go test -short skips the
// integration tests, so neither .ci/run nor make test may pass it.
func TestCINeverShort(t *testing.T) {
	ci, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(ci), "-short") || !strings.Contains(string(ci), "make test\n") {
		t.Errorf(".ci/run must run make test, without -short:\n%s", ci)
	}
	_, recipe, ok := strings.Cut(string(mk), "\ntest: ")
	recipe, _, _ = strings.Cut(recipe, "\n\n")
	if !ok || !strings.Contains(recipe, "test ") || strings.Contains(recipe, "-short") {
		t.Errorf("make test must run go test without -short:\n%s", recipe)
	}
}
