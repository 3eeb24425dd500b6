package state

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
)

func TestComputesRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".trainrun")
	c, err := OpenComputes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Get("box") != nil || len(c.All()) != 0 {
		t.Fatal("records in a missing file")
	}
	rec := &Compute{Name: "box", Kind: "ssh", AttachedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Hosts: []providers.HostFacts{
		{Host: "ml@gpu1:22", OS: "Debian GNU/Linux 12 (bookworm)", CPUs: 64, Memory: 512 << 30, GPUs: []string{"A100", "A100"}},
	}}
	if err := c.Put(rec); err != nil {
		t.Fatal(err)
	}
	rec.Hosts[0].GPUs[0] = "changed after Put"
	if err := c.Put(&Compute{Name: "other", Kind: "ssh"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, computesName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v %v", fi, err)
	}
	again, err := OpenComputes(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := again.Get("box")
	want := &Compute{Name: "box", Kind: "ssh", AttachedAt: rec.AttachedAt, Hosts: []providers.HostFacts{
		{Host: "ml@gpu1:22", OS: "Debian GNU/Linux 12 (bookworm)", CPUs: 64, Memory: 512 << 30, GPUs: []string{"A100", "A100"}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if h := got.Host("ml@gpu1:22"); h == nil || h.CPUs != 64 {
		t.Fatalf("Host: %+v", h)
	}
	if len(again.All()) != 2 {
		t.Fatalf("All: %d records", len(again.All()))
	}
	os.WriteFile(filepath.Join(dir, computesName), []byte("{broken"), 0o600)
	if _, err := OpenComputes(dir); err == nil {
		t.Fatal("a broken file was read")
	}
}
