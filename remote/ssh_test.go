package remote

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/crypto/ssh"

	"github.com/trainrun/trainrun/internal/sshtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/snapshot"
)

func sshValues(s *sshtest.Server, knownHosts string) providers.Values {
	return providers.Values{
		"host":             cty.StringVal(s.Addr),
		"port":             cty.NumberIntVal(int64(s.Port)),
		"user":             cty.StringVal(s.User),
		"private_key_file": cty.StringVal(s.KeyFile),
		"known_hosts_file": cty.StringVal(knownHosts),
	}
}

// The SSH remote against a real sshd on loopback: push, fetch, a
// corrupted blob refused, no symbolic link followed, host keys verified.
func TestSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd")
	}
	s := sshtest.Start(t, sshtest.Options{})
	defer s.Stop()
	root := filepath.Join(s.Home, "remote-test-"+filepath.Base(t.TempDir()))
	t.Cleanup(func() { os.RemoveAll(root) })
	r, err := NewSSH(sshValues(s, s.KnownHostsFile), root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pushFetch(t, r, func(key string, data []byte) {
		p := filepath.Join(root, filepath.FromSlash(key))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.Remove(p)
		if err := os.WriteFile(p, data, 0o444); err != nil {
			t.Fatal(err)
		}
	})
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp/ holds %d entries", len(ents))
	}

	// A symbolic link where the layout has a directory is refused.
	ctx := context.Background()
	outside := filepath.Join(s.Home, "outside-"+filepath.Base(t.TempDir()))
	os.MkdirAll(outside, 0o777)
	t.Cleanup(func() { os.RemoveAll(outside) })
	if err := os.Symlink(outside, filepath.Join(root, "blobs", "ee")); err != nil {
		t.Fatal(err)
	}
	key := "blobs/ee/" + strings.Repeat("e", 62)
	src := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(src, []byte("x"), 0o644)
	if err := r.Put(ctx, []snapshot.Object{{Key: key, Path: src, Size: 1}}); err == nil {
		t.Fatal("Put wrote through a symbolic link")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatal("a file was written outside the root")
	}

	// Host keys are verified as for compute "ssh": another server's key
	// in known_hosts is refused before anything is sent.
	other := sshtest.Start(t, sshtest.Options{KeyFile: s.KeyFile})
	defer other.Stop()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	wrong := fmt.Sprintf("[%s]:%d %s", s.Addr, s.Port, ssh.MarshalAuthorizedKey(other.HostKey))
	if err := os.WriteFile(kh, []byte(wrong), 0o644); err != nil {
		t.Fatal(err)
	}
	bad, err := NewSSH(sshValues(s, kh), root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Missing(ctx, []string{key}); err == nil || !strings.Contains(strings.ToLower(err.Error()), "host key") {
		t.Fatalf("a wrong host key: %v", err)
	}
}
