package remote

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/ssh"
	"github.com/trainrun/trainrun/snapshot"
)

// SSH is a remote in a directory of any machine reached over SSH, as
// compute "ssh" reaches machines (providers/ssh: ~/.ssh/config, the agent,
// key files, host keys verified). Its layout is Dir's. Objects travel as
// tar streams, one session for many; a put is unpacked below the root's
// tmp/ and each file then renamed into place. The scripts refuse a
// symbolic link where the layout has a directory, and keys are checked
// before they are sent, so nothing is written or read outside the root.
type SSH struct {
	e    *ssh.Executor
	path string // as configured: absolute, or below the login's home

	mu   sync.Mutex
	root string // path made absolute on the machine, once asked
}

// NewSSH returns the remote at path on the machine v names (see
// ssh.OpenMachine). Nothing is dialed yet.
func NewSSH(v providers.Values, path, dir string) (*SSH, error) {
	if path == "" || strings.IndexByte(path, 0) >= 0 {
		return nil, errors.New("remote ssh: path must be a non-empty path")
	}
	e, err := ssh.OpenMachine(v, dir)
	if err != nil {
		return nil, fmt.Errorf("remote ssh: %w", err)
	}
	return &SSH{e: e, path: path}, nil
}

func (s *SSH) String() string { return "ssh " + s.e.Conn().Target().String() + ":" + s.path }

// Close closes the connection.
func (s *SSH) Close() error { return s.e.Conn().Close() }

func (s *SSH) rootDir(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != "" {
		return s.root, nil
	}
	r, err := s.e.Resolve(ctx, s.path)
	if err != nil {
		return "", fmt.Errorf("remote %s: %w", s, err)
	}
	s.root = r
	return r, nil
}

func checkKeys(r snapshot.Remote, keys []string) error {
	for _, k := range keys {
		if !snapshot.ValidKey(k) {
			return fmt.Errorf("remote %s: refused key %q", r, k)
		}
	}
	return nil
}

// sshLayoutCheck refuses a root whose top directories are symbolic links.
const sshLayoutCheck = `for d in blobs manifests tmp; do
	if [ -h "$d" ]; then echo "$r/$d is a symbolic link: refused" >&2; exit 3; fi
done
`

// sshMissing ROOT reads keys from stdin, one a line, and prints those the
// root lacks (or holds as anything but a regular file).
const sshMissing = `r=$1
cd -- "$r" 2>/dev/null || { cat; exit 0; }
` + sshLayoutCheck + `while IFS= read -r k; do
	d=${k%/*}
	if [ -h "$d" ] || [ -h "$k" ] || [ ! -f "$k" ]; then printf '%s\n' "$k"; fi
done
`

// sshPut ROOT unpacks a tar of objects (named by their keys) from stdin
// into a directory of its own below ROOT/tmp, then renames each file into
// place, blobs before manifests.
const sshPut = `r=$1
umask 022
mkdir -p -- "$r" && cd -- "$r" || exit 1
` + sshLayoutCheck + `mkdir -p -- blobs manifests tmp || exit 1
t=$(mktemp -d "$r/tmp/put.XXXXXX") || exit 1
fail() { cd /; rm -rf -- "$t"; exit 1; }
tar -xof - -C "$t" || fail
cd -- "$t" || fail
if command -v perl >/dev/null 2>&1; then
	perl -e "$sshPutPerl" "$r" || fail
else
	for f in blobs/??/* manifests/*; do
		[ -f "$f" ] || continue
		d=${f%/*}
		if [ -h "$r/$d" ]; then echo "$r/$d is a symbolic link: refused" >&2; fail; fi
		mkdir -p -- "$r/$d" && mv -f -- "$f" "$r/$f" || fail
	done
fi
cd / && rm -rf -- "$t"
`

// sshPutPerl ROOT renames the unpacked files into place in one process
// (the shell loop above forks twice a file); it is in sshPut's
// environment as sshPutPerl.
const sshPutPerl = `use strict;
my $r = shift;
for my $f (glob("blobs/??/*"), glob("manifests/*")) {
	next unless -f $f && !-l $f;
	my ($d) = $f =~ m{^(.*)/[^/]+$};
	my $p = "";
	for my $e (split m{/}, $d) {
		$p = $p eq "" ? $e : "$p/$e";
		die "$r/$p is a symbolic link: refused\n" if -l "$r/$p";
		mkdir "$r/$p", 0777 unless -d "$r/$p";
	}
	rename($f, "$r/$f") or die "rename $f: $!\n";
}
`

// sshGet ROOT reads keys from stdin, one a line, and writes a tar of those
// files; one behind a symbolic link is left out.
const sshGet = `r=$1
cd -- "$r" || exit 1
` + sshLayoutCheck + `while IFS= read -r k; do
	d=${k%/*}
	if [ -h "$d" ] || [ -h "$k" ]; then echo "$k is a symbolic link: refused" >&2; continue; fi
	printf '%s\n' "$k"
done | tar -cf - -T -
`

// Missing implements snapshot.Remote.
func (s *SSH) Missing(ctx context.Context, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if err := checkKeys(s, keys); err != nil {
		return nil, err
	}
	root, err := s.rootDir(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.e.Run(ctx, []string{"sh", "-c", sshMissing, "sh", root}, strings.NewReader(strings.Join(keys, "\n")+"\n"))
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", s, err)
	}
	asked := make(map[string]bool, len(keys))
	for _, k := range keys {
		asked[k] = true
	}
	var missing []string
	for _, k := range strings.Fields(string(out)) {
		if asked[k] {
			missing = append(missing, k)
		}
	}
	return missing, nil
}

// Put implements snapshot.Remote: one tar stream for all objects.
func (s *SSH) Put(ctx context.Context, objects []snapshot.Object) error {
	if len(objects) == 0 {
		return nil
	}
	for _, o := range objects {
		if err := checkKeys(s, []string{o.Key}); err != nil {
			return err
		}
	}
	root, err := s.rootDir(ctx)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(ctx, pw, objects)) }()
	_, err = s.e.Run(ctx, []string{"env", "sshPutPerl=" + sshPutPerl, "sh", "-c", sshPut, "sh", root}, pr)
	pr.CloseWithError(io.ErrClosedPipe) // unblock the writer if the machine gave up
	if err != nil {
		return fmt.Errorf("remote %s: put %s: %w", s, plural.Count(len(objects), "file"), err)
	}
	return nil
}

// writeTar writes a tar of the objects' local files, named by their keys.
func writeTar(ctx context.Context, w io.Writer, objects []snapshot.Object) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 256<<10)
	for _, o := range objects {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.OpenFile(o.Path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return fmt.Errorf("%s is not a regular file", o.Path)
		}
		hdr := &tar.Header{Name: o.Key, Mode: 0o444, Size: fi.Size(), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			f.Close()
			return err
		}
		_, err = io.CopyBuffer(tw, io.LimitReader(f, fi.Size()), buf)
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// Get implements snapshot.Remote: one tar stream for all keys. Only files
// asked for are taken from it, each once; the store verifies their
// content.
func (s *SSH) Get(ctx context.Context, keys []string, recv func(key string, r io.Reader) error) error {
	if len(keys) == 0 {
		return nil
	}
	if err := checkKeys(s, keys); err != nil {
		return err
	}
	root, err := s.rootDir(ctx)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	var recvErr error
	err = s.e.Stream(ctx, []string{"sh", "-c", sshGet, "sh", root}, strings.NewReader(strings.Join(keys, "\n")+"\n"), func(out io.Reader) error {
		tr := tar.NewReader(out)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if !want[hdr.Name] || hdr.Typeflag != tar.TypeReg {
				return fmt.Errorf("the machine sent %q, which was not asked for", hdr.Name)
			}
			delete(want, hdr.Name)
			if err := recv(hdr.Name, tr); err != nil {
				recvErr = err
				return err
			}
		}
	})
	if recvErr != nil {
		return recvErr
	}
	if len(want) > 0 {
		return fmt.Errorf("remote %s lacks %s (%v): %w", s, plural.Count(len(want), "file"), err, fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("remote %s: %w", s, err)
	}
	return nil
}
