package snapshot

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// BenchmarkScanCold1GB measures hashing throughput: a scan of about 1 GB of
// random files without a stat cache (the files are in the page cache, so
// this is SHA-256 and read(2), not the disk). The Workers=1 case gives the
// per-core figure; the target is ≥ 1 GB/s per core.
func BenchmarkScanCold1GB(b *testing.B) {
	dir := b.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		b.Fatal(err)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < 4<<30 {
		b.Skipf("%d MB free in %s, want > 4 GB", free>>20, dir)
	}
	// 48 files of 16 MiB and 1024 of 256 KiB: 1 GiB.
	total := writeRandomFiles(b, dir, 48, 16<<20) + writeRandomFiles(b, filepath.Join(dir, "small"), 1024, 256<<10)

	for _, workers := range []int{runtime.NumCPU(), 1} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				_, s, err := Scan(dir, ScanOptions{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				if s.HashedBytes != total {
					b.Fatalf("hashed %d bytes, want %d", s.HashedBytes, total)
				}
			}
			perCore := float64(total) * float64(b.N) / b.Elapsed().Seconds() / 1e6 / float64(workers)
			b.ReportMetric(perCore, "MB/s/core")
		})
	}
}

func writeRandomFiles(b *testing.B, dir string, n, size int) int64 {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, size)
	for i := range n {
		rng.Read(buf)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.bin", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return int64(n) * int64(size)
}

// benchGitignore is a typical Python project's .gitignore.
const benchGitignore = `__pycache__/
*.py[cod]
*$py.class
*.so
.Python
build/
develop-eggs/
dist/
downloads/
eggs/
.eggs/
lib64/
parts/
sdist/
var/
wheels/
*.egg-info/
.installed.cfg
*.egg
.env
.venv
env/
venv/
.ipynb_checkpoints
.mypy_cache/
.pytest_cache/
htmlcov/
.coverage
*.log
/outputs/
/wandb/
*.ckpt
*.pt
docs/_build/
`

// writeTree20k writes 20,000 small files: 20 directories × 10
// subdirectories × 100 files, plus a .gitignore.
func writeTree20k(b *testing.B, root string) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	for a := range 20 {
		for s := range 10 {
			dir := filepath.Join(root, fmt.Sprintf("pkg%02d", a), fmt.Sprintf("mod%d", s))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for f := range 100 {
				p := filepath.Join(dir, fmt.Sprintf("file%03d.py", f))
				if err := os.WriteFile(p, buf[:100+rng.IntN(3000)], 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, ".gitignore"), []byte(benchGitignore), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScanWarm20k measures a scan of 20,000 files that are all in the
// stat cache: the cost of a no-op plan's snapshot. It reports `git status`
// on the same tree beside it (git-status-ns, and the ratio); the target is
// within 2× of git.
func BenchmarkScanWarm20k(b *testing.B) {
	root := b.TempDir()
	writeTree20k(b, root)
	time.Sleep(racyWindow + 100*time.Millisecond) // so that cache entries are trusted
	cache := NewStatCache()
	want, _, err := Scan(root, ScanOptions{Cache: cache})
	if err != nil {
		b.Fatal(err)
	}
	if len(want.Entries) != 20001 {
		b.Fatalf("scanned %d files, want 20001", len(want.Entries))
	}
	gitStatus, gitErr := gitStatusTimer(b, root)
	var gitTimes []time.Duration
	sampleGit := func() {
		for range 9 {
			if gitErr != nil {
				return
			}
			var d time.Duration
			d, gitErr = gitStatus()
			gitTimes = append(gitTimes, d)
		}
	}
	sampleGit()

	b.ResetTimer()
	for b.Loop() {
		m, s, err := Scan(root, ScanOptions{Cache: cache})
		if err != nil {
			b.Fatal(err)
		}
		if s.Hashed != 0 || m.ID != want.ID {
			b.Fatalf("warm scan hashed %d files, ID %s (want 0, %s)", s.Hashed, m.ID, want.ID)
		}
	}
	b.StopTimer()
	sampleGit() // before and after: the machine's load may change meanwhile
	if gitErr != nil {
		b.Logf("git status not measured: %v", gitErr)
		return
	}
	slices.Sort(gitTimes)
	gitNs := float64(gitTimes[len(gitTimes)/2].Nanoseconds())
	nsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(gitNs, "git-status-ns")
	b.ReportMetric(nsPerOp/gitNs, "x-git-status")
}

// gitStatusTimer commits the tree in a fresh repository, warms git up and
// returns a function timing one `git status --porcelain` on it.
func gitStatusTimer(b *testing.B, root string) (func() (time.Duration, error), error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, err
	}
	home := b.TempDir()
	env := append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com")
	git := func(args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %v: %v: %s", args, err, out)
		}
		return nil
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", "bench"}, {"status", "--porcelain"}} {
		if err := git(args...); err != nil {
			return nil, err
		}
	}
	// The commit wrote an index whose racily clean entries git settles on
	// a later status: let it, as the stat cache's entries were let settle.
	time.Sleep(racyWindow)
	if err := git("status", "--porcelain"); err != nil {
		return nil, err
	}
	return func() (time.Duration, error) {
		start := time.Now()
		err := git("status", "--porcelain")
		return time.Since(start), err
	}, nil
}

// BenchmarkLoadStatCache20k measures loading a stat cache of 20,000
// entries (a few milliseconds at most).
func BenchmarkLoadStatCache20k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "cache")
	if err := filledCache(20000).Save(path); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := LoadStatCache(path)
		if err != nil || c.Len() != 20000 {
			b.Fatalf("loaded %d entries, %v", c.Len(), err)
		}
	}
}
