package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
)

func TestEnvironmentRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".trainrun")
	e, err := OpenEnvironments(dir)
	if err != nil || len(e.All()) != 0 {
		t.Fatalf("empty: %v, %v", e.All(), err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &Environment{Name: "sk", Compute: "here", ComputeKind: "local", Location: "/w/envs/venv-a",
		Spec: providers.EnvSpec{Kind: "venv", ID: "venv-a", Requirements: []string{"numpy"}}, Created: true, PreparedAt: t0}
	b := &Environment{Name: "sk", Compute: "here", ComputeKind: "local", Location: "/w/envs/venv-b",
		Spec: providers.EnvSpec{Kind: "venv", ID: "venv-b"}, Created: true, PreparedAt: t0.Add(time.Hour)}
	for _, r := range []*Environment{a, b} {
		if err := e.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	a.Spec.Requirements[0] = "changed after Put" // records are copies
	again, err := OpenEnvironments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.All(); len(got) != 2 || got[0].Spec.Requirements[0] != "numpy" {
		t.Fatalf("reopened: %+v", got)
	}
	if got := again.Last("sk", "here"); got == nil || got.Spec.ID != "venv-b" {
		t.Errorf("last %+v", got)
	}
	if again.Last("sk", "elsewhere") != nil || again.Find("here", "venv-x", "") != nil {
		t.Error("found what is not there")
	}
	// Put replaces the record of the same environment in the same place.
	removed := *again.Find("here", "venv-a", "/w/envs/venv-a")
	removed.Removed = true
	if err := again.Put(&removed); err != nil {
		t.Fatal(err)
	}
	if got := again.All(); len(got) != 2 || !again.Find("here", "venv-a", "").Removed {
		t.Errorf("after replacing: %+v", got)
	}
	if s, ok := again.Spec("venv-a"); !ok || s.Requirements[0] != "numpy" {
		t.Errorf("spec %+v %v", s, ok)
	}

	h, err := e.PutLock("numpy==1.24.2\n")
	if err != nil {
		t.Fatal(err)
	}
	if h2, _ := e.PutLock("numpy==1.24.2\n"); h2 != h {
		t.Error("one text, two hashes")
	}
	if text, err := again.Lock(h); err != nil || text != "numpy==1.24.2\n" {
		t.Errorf("lock %q, %v", text, err)
	}
	for _, bad := range []string{"", "../environments.json", h[:10]} {
		if _, err := again.Lock(bad); err == nil {
			t.Errorf("lock %q: no error", bad)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, environmentsName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode: %v, %v", fi, err)
	}

	if err := os.WriteFile(filepath.Join(dir, environmentsName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenEnvironments(dir); err == nil {
		t.Error("a damaged file: no error")
	}
}
