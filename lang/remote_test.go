package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRemote(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		kind      string // "" with no error: no remote
		attrs     map[string]string
		err       string
	}{
		{name: "none", src: `trainrun {}`},
		{name: "dir", src: `trainrun {
  remote "dir" { path = "/shared/store" }
}`, kind: "dir", attrs: map[string]string{"path": "/shared/store"}},
		{name: "ssh", src: `trainrun {
  remote "ssh" {
    host = "store.example.org"
    path = "trainrun"
    port = 2222
  }
}`, kind: "ssh", attrs: map[string]string{"host": "store.example.org", "path": "trainrun"}},
		{name: "s3", src: `trainrun {
  remote "s3" { bucket = "team" }
}`, kind: "s3", attrs: map[string]string{"bucket": "team"}},
		{name: "unknown kind", src: `trainrun {
  remote "ftp" { path = "x" }
}`, err: `There is no remote "ftp"`},
		{name: "variable", src: `variable "p" { default = "/x" }
trainrun {
  remote "dir" { path = var.p }
}`, err: "may not refer to anything"},
		{name: "missing path", src: `trainrun {
  remote "dir" {}
}`, err: `A remote "dir" needs path`},
		{name: "secret attribute", src: `trainrun {
  remote "s3" {
    bucket     = "team"
    secret_key = "x"
  }
}`, err: `secret_key`},
		{name: "two", src: `trainrun {
  remote "dir" { path = "/a" }
}
trainrun {
  remote "dir" { path = "/b" }
}`, err: "Duplicate remote block"},
		{name: "empty", src: `trainrun {
  remote "dir" { path = "" }
}`, err: "must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "trainrun.hcl"), []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			r, _, diags := LoadRemote(dir)
			if tc.err != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.err) {
					t.Fatalf("diags %v, want %q", diags, tc.err)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if tc.kind == "" {
				if r != nil {
					t.Fatalf("remote %+v", r)
				}
				return
			}
			if r == nil || r.Kind != tc.kind {
				t.Fatalf("remote %+v, want kind %s", r, tc.kind)
			}
			for k, v := range tc.attrs {
				if got := r.String(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// Load checks the backend and remote blocks as the commands that use them
// read them, so that validate and plan report a misspelt attribute at its
// line instead of a project planned without its remote.
func TestLoadChecksBackendAndRemote(t *testing.T) {
	for _, tc := range []struct{ name, block, err, at string }{
		{name: "remote attribute", block: `remote "dir" { pth = "/shared" }`, err: `An argument named "pth" is not expected here`, at: "trainrun.hcl:2,"},
		{name: "remote kind", block: `remote "dirr" { path = "/shared" }`, err: `There is no remote "dirr"`, at: "trainrun.hcl:2,"},
		{name: "backend attribute", block: `backend "postgres" { conn_string = "postgres://db/ml" }`, err: `An argument named "conn_string" is not expected here`, at: "trainrun.hcl:2,"},
		{name: "backend kind", block: `backend "postgress" {}`, err: `There is no backend "postgress"`, at: "trainrun.hcl:2,"},
		{name: "valid", block: `backend "postgres" { project = "vision" }
  remote "dir" { path = "/shared" }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "trainrun {\n  " + tc.block + "\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "trainrun.hcl"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, diags := Load(dir, Options{})
			if tc.err == "" {
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.err) || !strings.Contains(diags.Error(), tc.at) {
				t.Fatalf("diags %v, want %q at %s", diags, tc.err, tc.at)
			}
		})
	}
}
