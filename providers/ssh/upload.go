package ssh

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

const (
	modeType    = 0o170000
	modeRegular = 0o100000
	modeSymlink = 0o120000
)

// UploadStats count what Put sent.
type UploadStats struct {
	Puts      int   // calls
	Files     int   // files materialized
	Blobs     int   // blobs uploaded (the cache lacked them)
	BlobBytes int64 // their content
	// Bytes is everything Put wrote to sessions: hash lists, the blob tar
	// stream and the materialize records.
	Bytes int64

	// Fetched is what CopyOut received (tar streams); Reused counts the
	// files it made from local blobs instead.
	Fetched int64
	Reused  int
}

// Stats returns what Put sent so far.
func (e *Executor) Stats() UploadStats {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	return e.stats
}

func (e *Executor) count(f func(*UploadStats)) {
	e.statsMu.Lock()
	f(&e.stats)
	e.statsMu.Unlock()
}

// putFile is one file to materialize, checked.
type putFile struct {
	path   string
	link   bool
	mode   string // "644" or "755"; "" for links
	hash   string // content hash; for links, the target instead
	target string
	blob   string // local path
}

// Put materializes files below dir from the machine's blob cache, first
// sending the blobs the cache lacks in one tar stream. Paths are checked
// as executor.Local checks them, before anything is sent.
func (e *Executor) Put(ctx context.Context, dir string, files []providers.File) error {
	if err := checkAbs("materialize in", dir); err != nil {
		return err
	}
	list, err := checkFiles(files)
	if err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	cache, err := e.Resolve(ctx, e.cache)
	if err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	blobs := make(map[string]string) // hash → local path
	var hashes []string
	for _, f := range list {
		if !f.link {
			if _, ok := blobs[f.hash]; !ok {
				blobs[f.hash] = f.blob
				hashes = append(hashes, f.hash)
			}
		}
	}
	sort.Strings(hashes)
	if e.hasPerl(ctx) {
		// One session: the tree is claimed and cleaned first, so only the
		// blobs of the files still to copy are looked for in the cache.
		if err := e.putPerl(ctx, dir, cache, list, blobs); err != nil {
			return fmt.Errorf("materialize: %w", err)
		}
	} else {
		missing, err := e.missing(ctx, cache, hashes)
		if err != nil {
			return fmt.Errorf("materialize: %w", err)
		}
		if len(missing) > 0 {
			if err := e.upload(ctx, cache, missing, blobs); err != nil {
				return fmt.Errorf("materialize: upload: %w", err)
			}
		}
		script := materializeSh(dir, cache, list)
		e.count(func(s *UploadStats) { s.Bytes += int64(len(script)) })
		err = e.conn.Session(ctx, false, func(s *ssh.Session) error {
			_, err := run(ctx, s, "sh -s", sessionIO{stdin: strings.NewReader(script)})
			return err
		})
		if err != nil {
			return fmt.Errorf("materialize: %w", err)
		}
	}
	e.count(func(s *UploadStats) { s.Puts++; s.Files += len(list) })
	return nil
}

// checkFiles validates files (see executor.Executor.Put), finds each
// regular file's content hash and each link's target, and orders regular
// files before links.
func checkFiles(files []providers.File) ([]putFile, error) {
	kinds := make(map[string]bool, len(files))
	for _, f := range files {
		if err := executor.CheckPath(f.Path); err != nil {
			return nil, err
		}
		switch f.Mode & modeType {
		case 0, modeRegular, modeSymlink:
		default:
			return nil, fmt.Errorf("%s: mode %o is neither a regular file nor a symlink", f.Path, f.Mode)
		}
		if kinds[f.Path] {
			return nil, fmt.Errorf("%s: listed twice", f.Path)
		}
		kinds[f.Path] = true
	}
	for p := range kinds {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if kinds[d] {
				return nil, fmt.Errorf("%s lies below the file %s", p, d)
			}
		}
	}
	out := make([]putFile, 0, len(files))
	var links []putFile
	for _, f := range files {
		pf := putFile{path: f.Path, blob: f.Blob}
		if f.Mode&modeType == modeSymlink {
			target, err := os.ReadFile(f.Blob)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Path, err)
			}
			if len(target) == 0 || bytes.IndexByte(target, 0) >= 0 {
				return nil, fmt.Errorf("%s: invalid symlink target %q", f.Path, target)
			}
			pf.link, pf.target = true, string(target)
			links = append(links, pf)
			continue
		}
		pf.mode = "644"
		if f.Mode&0o111 != 0 {
			pf.mode = "755"
		}
		h, err := blobHash(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		pf.hash = h
		out = append(out, pf)
	}
	return append(out, links...), nil
}

// blobHash is f's content hash: f.Hash, else the name of a content-store
// blob (…/blobs/ab/cdef…), else the SHA-256 of the file.
func blobHash(f providers.File) (string, error) {
	if validHash(f.Hash) {
		return f.Hash, nil
	}
	dir, base := filepath.Split(f.Blob)
	if h := filepath.Base(dir) + base; len(base) == 62 && validHash(h) && filepath.Base(filepath.Dir(filepath.Clean(dir))) == "blobs" {
		return h, nil
	}
	in, err := os.Open(f.Blob)
	if err != nil {
		return "", err
	}
	defer in.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, in); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// missing asks which of hashes the cache lacks (where there is no perl;
// materializePerl finds out itself).
func (e *Executor) missing(ctx context.Context, cache string, hashes []string) ([]string, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	in := strings.Join(hashes, "\n") + "\n"
	stdin := func() io.Reader { return strings.NewReader(in) }
	out, err := e.sh(ctx, true, missingScript, []string{cache}, stdin)
	e.count(func(s *UploadStats) { s.Bytes += int64(len(in)) })
	if err != nil {
		return nil, fmt.Errorf("ask the blob cache: %w", err)
	}
	var missing []string
	for _, h := range strings.Fields(string(out)) {
		if validHash(h) {
			missing = append(missing, h)
		}
	}
	return missing, nil
}

// upload sends the blobs in one tar stream. A blob that changed since it
// was stored (it no longer hashes to its name) is refused, not sent.
func (e *Executor) upload(ctx context.Context, cache string, hashes []string, blobs map[string]string) error {
	cmd := executor.CommandLine([]string{"sh", "-c", uploadScript, "sh", cache})
	return e.conn.Session(ctx, false, func(s *ssh.Session) error {
		pr, pw := io.Pipe()
		cw := &countWriter{w: pw}
		var werr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			werr = writeBlobTar(ctx, cw, hashes, blobs)
			pw.CloseWithError(werr)
		}()
		_, err := run(ctx, s, cmd, sessionIO{stdin: pr})
		pr.CloseWithError(io.ErrClosedPipe) // unblock the writer if the remote gave up
		wg.Wait()
		e.count(func(st *UploadStats) { st.Bytes += cw.n; st.Blobs += cw.files; st.BlobBytes += cw.content })
		if werr != nil && werr != io.ErrClosedPipe {
			return werr
		}
		return err
	})
}

type countWriter struct {
	w       io.Writer
	n       int64
	files   int
	content int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writeBlobTar writes a tar of the blobs, each named ab/cdef…, checking
// each one's hash as it is read.
func writeBlobTar(ctx context.Context, cw *countWriter, hashes []string, blobs map[string]string) error {
	tw := tar.NewWriter(cw)
	buf := make([]byte, 256<<10)
	for _, h := range hashes {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.OpenFile(blobs[h], os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return fmt.Errorf("blob %s is not a regular file", blobs[h])
		}
		hdr := &tar.Header{Name: h[:2] + "/" + h[2:], Mode: 0o400, Size: fi.Size(), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			f.Close()
			return err
		}
		sum := sha256.New()
		n, err := io.CopyBuffer(io.MultiWriter(tw, sum), io.LimitReader(f, fi.Size()), buf)
		f.Close()
		if err != nil {
			return err
		}
		if n != fi.Size() || hex.EncodeToString(sum.Sum(nil)) != h {
			return fmt.Errorf("blob %s changed since it was stored", blobs[h])
		}
		cw.files++
		cw.content += n
	}
	return tw.Close()
}

// putPerl runs materializePerl: it sends the records, reads which blobs
// the cache lacks for the files still to copy, and sends those (a tar for
// uploadScript, which the script runs on the rest of its stdin).
func (e *Executor) putPerl(ctx context.Context, dir, cache string, list []putFile, blobs map[string]string) error {
	var b bytes.Buffer
	for _, f := range list {
		if f.link {
			b.WriteString("l\x00\x00" + f.target + "\x00" + f.path + "\x00")
		} else {
			b.WriteString("f\x00" + f.mode + "\x00" + f.hash + "\x00" + f.path + "\x00")
		}
	}
	b.WriteByte(0) // an empty kind: the end
	cmd := executor.CommandLine([]string{"perl", "-e", materializePerl, dir, cache, treesDir(cache), uploadScript})
	return e.conn.Session(ctx, false, func(s *ssh.Session) error {
		in, out, wait, err := start(s, cmd, true)
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() {
			_ = s.Signal(ssh.SIGKILL)
			s.Close()
		})
		defer stop()
		cw := &countWriter{w: in}
		rerr := e.sendBlobs(ctx, cw, b.Bytes(), bufio.NewReader(out), blobs)
		in.Close()
		_, _ = io.Copy(io.Discard, out)
		e.count(func(st *UploadStats) { st.Bytes += cw.n; st.Blobs += cw.files; st.BlobBytes += cw.content })
		werr := wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if werr != nil {
			return werr
		}
		return rerr
	})
}

// sendBlobs writes records to materializePerl, reads the hashes it lacks
// (a line each, then an empty line) and sends their blobs.
func (e *Executor) sendBlobs(ctx context.Context, w *countWriter, records []byte, r *bufio.Reader, blobs map[string]string) error {
	if _, err := w.Write(records); err != nil {
		return err
	}
	var missing []string
	asked := make(map[string]bool)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("read the blobs the cache lacks: %w", err)
		}
		h := strings.TrimSuffix(line, "\n")
		if h == "" {
			break
		}
		if _, ok := blobs[h]; !ok || asked[h] {
			return fmt.Errorf("the machine asked for blob %q, which is not the snapshot's", h)
		}
		asked[h] = true
		missing = append(missing, h)
	}
	if len(missing) == 0 {
		return nil
	}
	if err := writeBlobTar(ctx, w, missing, blobs); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	return nil
}

// materializeSh is the script that materializes list without perl.
func materializeSh(dir, cache string, list []putFile) string {
	var b strings.Builder
	b.WriteString("set -e\numask 022\ncd " + executor.Quote(dir) + "\n")
	dirs := map[string]bool{}
	var mk []string
	for _, f := range list {
		for d := path.Dir(f.path); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			mk = append(mk, d)
		}
	}
	sort.Strings(mk) // parents before children
	for i := 0; i < len(mk); i += 100 {
		b.WriteString("mkdir -- " + executor.CommandLine(mk[i:min(i+100, len(mk))]) + "\n")
	}
	for _, f := range list {
		if f.link {
			b.WriteString("ln -s -- " + executor.Quote(f.target) + " " + executor.Quote("./"+f.path) + "\n")
			continue
		}
		src := cache + "/" + f.hash[:2] + "/" + f.hash[2:]
		dst := executor.Quote("./" + f.path)
		b.WriteString("cp -- " + executor.Quote(src) + " " + dst + "\nchmod " + f.mode + " " + dst + "\n")
	}
	return b.String()
}

// hasPerl asks once whether the machine has perl; Home has asked already,
// when it was called first.
func (e *Executor) hasPerl(ctx context.Context) bool {
	e.toolsOnce.Do(func() {
		_, err := e.sh(ctx, true, "command -v perl >/dev/null 2>&1", nil, nil)
		e.perl = err == nil
	})
	return e.perl
}

// keepTrees is how many recycled trees a machine keeps for reuse: enough
// for the runs of a few concurrent runs' worth of sources.
const keepTrees = 8

// treesDir is where recycled trees wait for reuse, beside the blob cache.
func treesDir(cache string) string { return path.Join(path.Dir(cache), "trees") }

// RecycleTree moves dir, materialized by Put, to the machine's recycled
// trees, for a later Put to take over (see materializePerl).
func (e *Executor) RecycleTree(ctx context.Context, dir string) error {
	if err := checkAbs("recycle", dir); err != nil {
		return err
	}
	cache, err := e.Resolve(ctx, e.cache)
	if err != nil {
		return fmt.Errorf("recycle %s: %w", dir, err)
	}
	if _, err := e.sh(ctx, true, recycleScript, []string{path.Clean(dir), treesDir(cache), strconv.Itoa(keepTrees)}, nil); err != nil {
		return fmt.Errorf("recycle %s: %w", dir, err)
	}
	return nil
}

// ClearTrees removes the recycled trees.
func (e *Executor) ClearTrees(ctx context.Context) error {
	cache, err := e.Resolve(ctx, e.cache)
	if err != nil {
		return fmt.Errorf("remove recycled trees: %w", err)
	}
	return e.RemoveAll(ctx, treesDir(cache))
}
