package ssh

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/trainrun/trainrun/internal/sshtest"
	"github.com/trainrun/trainrun/providers"
)

// BenchmarkIncrementalPut re-uploads a 200 MB, 5,000-file snapshot in
// which one 1 MB file changed, to a real sshd on loopback: the bytes sent
// per operation should be that file and the manifest, not the tree. Each
// operation also materializes the tree in a new run directory on the
// machine, as a run gets, taking over the previous run's recycled tree.
func BenchmarkIncrementalPut(b *testing.B) {
	s := sshtest.Start(b, sshtest.Options{})
	defer s.Stop()
	e, dir := benchExecutor(b, s)
	const n, total, changed = 5000, 200 << 20, 1 << 20
	store := b.TempDir()
	files := make([]providers.File, n)
	size := (total - changed) / (n - 1)
	for i := range files {
		sz := size
		if i == 0 {
			sz = changed
		}
		files[i] = writeBlob(b, store, fmt.Sprintf("d%02d/f%04d.bin", i%50, i), sz)
	}
	ctx := ctxT(b)
	put := func(name string) {
		d := path.Join(dir, "runs", name, "src")
		if err := e.Mkdir(ctx, d, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := e.Put(ctx, d, files); err != nil {
			b.Fatal(err)
		}
		if err := e.RecycleTree(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	put("first")
	before := e.Stats()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		files[0] = writeBlob(b, store, files[0].Path, changed)
		b.StartTimer()
		put(fmt.Sprintf("run%d", i))
		b.StopTimer()
		_ = e.RemoveAll(ctx, path.Join(dir, "runs", fmt.Sprintf("run%d", i)))
		b.StartTimer()
	}
	b.StopTimer()
	after := e.Stats()
	b.ReportMetric(float64(after.Bytes-before.Bytes)/float64(b.N), "sent-B/op")
	b.ReportMetric(float64(after.BlobBytes-before.BlobBytes)/float64(b.N), "blob-B/op")
	b.ReportMetric(float64(after.Bytes-before.Bytes)/float64(b.N)/changed, "sent/changed")
}

func benchExecutor(b *testing.B, s *sshtest.Server) (*Executor, string) {
	conn := NewConn(target(s), ConnOptions{})
	dir := path.Join(s.Home, "bench-"+randHex())
	b.Cleanup(func() {
		os.RemoveAll(dir)
		conn.Close()
	})
	return NewExecutor(conn, ExecutorOptions{BlobCache: dir + "/blobs"}), dir
}

// writeBlob writes size random bytes as a content-store blob.
func writeBlob(tb testing.TB, store, p string, size int) providers.File {
	data := make([]byte, size)
	rand.Read(data)
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	blob := filepath.Join(store, "blobs", h[:2], h[2:])
	if err := os.MkdirAll(filepath.Dir(blob), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(blob, data, 0o444); err != nil {
		tb.Fatal(err)
	}
	return providers.File{Path: p, Mode: 0o100644, Blob: blob, Hash: h}
}
