package remote

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/trainrun/trainrun/internal/sshtest"
	"github.com/trainrun/trainrun/snapshot"
)

// benchTree writes a tree of outputs: 32 files of 1 MiB (checkpoints) and
// 500 of 4 KiB (metrics, configs), random, so nothing is shared.
func benchTree(b *testing.B) (string, int64) {
	dir := b.TempDir()
	var total int64
	write := func(name string, size int) {
		data := make([]byte, size)
		rand.Read(data)
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(size)
	}
	for i := range 32 {
		write(fmt.Sprintf("ckpt/%02d.bin", i), 1<<20)
	}
	for i := range 500 {
		write(fmt.Sprintf("small/%03d.json", i), 4<<10)
	}
	return dir, total
}

// BenchmarkRemote pushes a run's outputs to each kind of remote and
// fetches them back into an empty store, beside the plain copy of the same
// blobs (cp -r into a directory, rsync over ssh to the same sshd) as the
// peer: compare ns/op.
func BenchmarkRemote(b *testing.B) {
	ctx := context.Background()
	tree, total := benchTree(b)
	store, err := snapshot.OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	m, err := store.PutTree(tree)
	if err != nil {
		b.Fatal(err)
	}
	blobs := filepath.Join(store.Dir(), "blobs")

	push := func(b *testing.B, open func(i int) snapshot.Remote) {
		b.SetBytes(total)
		for i := range b.N {
			s, _ := snapshot.OpenStore(store.Dir()) // a fresh pushed-cache
			s.SetRemote(open(i))
			if err := s.Push(ctx, m.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
	fetch := func(b *testing.B, r snapshot.Remote) {
		store.SetRemote(r)
		if err := store.Push(ctx, m.ID); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(total)
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			s, _ := snapshot.OpenStore(b.TempDir())
			s.SetRemote(r)
			b.StartTimer()
			if _, err := s.Fetch(ctx, m.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
	run := func(b *testing.B, name string, args ...string) {
		b.SetBytes(total)
		for range b.N {
			if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", name, err, out)
			}
		}
	}

	b.Run("dir/push", func(b *testing.B) {
		root := b.TempDir()
		push(b, func(i int) snapshot.Remote {
			r, _ := NewDir(filepath.Join(root, fmt.Sprint(i)))
			return r
		})
	})
	b.Run("dir/cp", func(b *testing.B) {
		// As durable as Dir's puts: every file synced.
		run(b, "sh", "-c", `d=$(mktemp -d -p "$2") && cp -r "$1" "$d/b" && find "$d/b" -type f -exec sync -- {} +`, "sh", blobs, b.TempDir())
	})
	b.Run("dir/fetch", func(b *testing.B) {
		r, _ := NewDir(filepath.Join(b.TempDir(), "remote"))
		fetch(b, r)
	})

	s := sshtest.Start(b, sshtest.Options{})
	defer s.Stop()
	root := filepath.Join(s.Home, "bench-"+filepath.Base(b.TempDir()))
	defer os.RemoveAll(root)
	sshCmd := fmt.Sprintf("ssh -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes -p %d", s.KeyFile, s.KnownHostsFile, s.Port)
	b.Run("ssh/push", func(b *testing.B) {
		push(b, func(i int) snapshot.Remote {
			r, err := NewSSH(sshValues(s, s.KnownHostsFile), filepath.Join(root, "push", fmt.Sprint(i)), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return r
		})
	})
	b.Run("ssh/rsync", func(b *testing.B) {
		b.SetBytes(total)
		for i := range b.N {
			dst := fmt.Sprintf("%s@%s:%s/", s.User, s.Addr, filepath.Join(root, "rsync", fmt.Sprint(i)))
			if out, err := exec.Command("rsync", "-a", "--mkpath", "-e", sshCmd, blobs+"/", dst).CombinedOutput(); err != nil {
				b.Fatalf("rsync: %v\n%s", err, out)
			}
		}
	})
	b.Run("ssh/fetch", func(b *testing.B) {
		r, err := NewSSH(sshValues(s, s.KnownHostsFile), filepath.Join(root, "fetch"), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		fetch(b, r)
	})
	b.Run("ssh/rsync-back", func(b *testing.B) {
		src := fmt.Sprintf("%s@%s:%s/", s.User, s.Addr, filepath.Join(root, "fetch", "blobs"))
		b.SetBytes(total)
		for range b.N {
			if out, err := exec.Command("rsync", "-a", "-e", sshCmd, src, b.TempDir()+"/").CombinedOutput(); err != nil {
				b.Fatalf("rsync: %v\n%s", err, out)
			}
		}
	})

	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	b.Setenv("AWS_ACCESS_KEY_ID", "bench")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "bench-secret")
	b.Setenv("AWS_REGION", "us-east-1")
	b.Run("s3/push", func(b *testing.B) {
		push(b, func(i int) snapshot.Remote {
			bucket := fmt.Sprintf("push%d-%d", b.N, i)
			backend.CreateBucket(bucket)
			r, _ := NewS3(bucket, "", srv.URL, "")
			return r
		})
	})
	b.Run("s3/fetch", func(b *testing.B) {
		backend.CreateBucket("fetch")
		r, _ := NewS3("fetch", "", srv.URL, "")
		fetch(b, r)
	})
}
