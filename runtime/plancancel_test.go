package runtime

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/local"
	"github.com/trainrun/trainrun/providers/ssh"
	"github.com/trainrun/trainrun/state"
	xssh "golang.org/x/crypto/ssh"
)

// TestCancelledPlanStopsDialing: a plan that asks an SSH machine what it
// is (first use of an ssh compute) returns soon after its context is
// cancelled (Ctrl-C during plan), though the machine never answers and
// the compute would wait ten minutes for it.
func TestCancelledPlanStopsDialing(t *testing.T) {
	// A black hole: it takes connections and says nothing, so an SSH
	// client waits for the server's greeting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	port := ln.Addr().(*net.TCPAddr).Port

	dir := t.TempDir()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := xssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	t.Setenv("HOME", home) // no ~/.ssh/config of the user's
	for name, content := range map[string]string{
		"trainrun.hcl": fmt.Sprintf(`
compute "ssh" "far" {
  host            = "127.0.0.1"
  port            = %d
  user             = "nobody"
  private_key_file = "id"
  host_key        = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
  connect_timeout = "10m"
}
experiment "a" {
  compute    = compute.far
  source_dir = "src"
  command    = ["true"]
}
`, port),
		"src/v.txt":       "1",
		"id":              string(pem.EncodeToMemory(block)),
		"home/.ssh/.keep": "",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg := &providers.Registry{Computes: map[string]providers.ComputeKind{"local": local.Kind(), "ssh": ssh.Kind()}}
	cfg, diags := lang.Load(dir, lang.Options{Registry: reg, Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	data := filepath.Join(dir, ".trainrun")
	st, err := state.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	crecs, err := state.OpenComputes(data)
	if err != nil {
		t.Fatal(err)
	}
	comps := NewComputes(cfg, reg, providers.Env{Dir: dir, DataDir: data})
	defer comps.Close()
	attach := NewAttach(comps)
	attach.Timeout = 10 * time.Minute

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := planner.Build(ctx, cfg, st, planner.Options{DataDir: data, Computes: attach, ComputeRecords: crecs})
		done <- err
	}()
	select {
	case <-accepted: // dialled: the client now waits for the greeting
	case err := <-done:
		t.Fatalf("plan returned before dialling the machine: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("plan never dialled the machine")
	}
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Errorf("plan after Ctrl-C: %v, want context.Canceled", err)
		}
		t.Logf("plan returned %v after the cancel", time.Since(start).Round(time.Millisecond))
	case <-time.After(30 * time.Second): // a backstop: the compute would wait 10 minutes
		t.Fatal("plan still waits for the machine 30 s after its context was cancelled")
	}
}
