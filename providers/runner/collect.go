package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sourcegraph/conc"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// Collect copies the run's log, metrics file and recorded environment
// (executor.EnvironFile) to dst and, when outputs is
// true, outputs/ to dst/outputs/ and each declared output (spec.Outputs,
// relative to the working directory; a trailing "/" says it must be a
// directory) to dst/outputs/PATH, where a declared output replaces a path of
// the same name from outputs/. Everything that exists is copied; a declared
// output that does not is an error naming it. Symlinks are never followed
// out of the run directory (see executor.Executor.CopyOut).
func (c *Compute) Collect(ctx context.Context, h providers.Handle, spec *providers.RunSpec, dst string, outputs bool) error {
	if h.Dir == "" {
		return errors.New("collect: the handle has no run directory")
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	e := c.o.Exec
	out := filepath.Join(dst, "outputs")
	copies := []func() error{
		func() error {
			if err := e.CopyOut(ctx, h.Dir, executor.LogFile, filepath.Join(dst, "log")); err != nil {
				return fmt.Errorf("collect log: %w", err)
			}
			return nil
		},
		func() error {
			if err := copyIfAny(ctx, e, h.Dir, metricsFile, filepath.Join(dst, "metrics.jsonl")); err != nil {
				return fmt.Errorf("collect metrics: %w", err)
			}
			return nil
		},
		func() error {
			if err := copyIfAny(ctx, e, h.Dir, executor.EnvironFile, filepath.Join(dst, executor.EnvironFile)); err != nil {
				return fmt.Errorf("collect environment: %w", err)
			}
			return nil
		},
	}
	if outputs {
		copies = append(copies, func() error {
			if err := copyIfAny(ctx, e, h.Dir, outputsDir+"/", out); err != nil {
				return fmt.Errorf("collect outputs: %w", err)
			}
			return nil
		})
	}
	if err := all(e, copies); err != nil {
		return err
	}
	if !outputs {
		return nil
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return fmt.Errorf("collect outputs: %w", err)
	}
	var errs []error
	var declared []string
	if spec != nil {
		for _, o := range spec.Outputs {
			if err := collectDeclared(ctx, e, h.Dir, o, out); err != nil {
				errs = append(errs, err)
			}
			declared = append(declared, strings.TrimSuffix(o, "/"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return specialOutputs(ctx, e, h.Dir, declared)
}

// specialScript ROOT PATH... prints "KIND\tPATH\0" for every file below
// ROOT/PATH (never following links) that is not a regular file, directory
// or link. A PATH that does not exist is no error.
const specialScript = `cd "$1" || exit 1
shift
for p; do
	[ -e "$p" ] || [ -L "$p" ] || continue
	find "$p" ! -type f ! -type d ! -type l -exec sh -c '
for f; do
	if [ -p "$f" ]; then k=FIFO
	elif [ -S "$f" ]; then k=socket
	elif [ -c "$f" ]; then k="character device"
	elif [ -b "$f" ]; then k="block device"
	else k="special file"; fi
	printf "%s\t%s\0" "$k" "$f"
done' sh {} + || exit 1
done`

// specialOutputs finds what the copies skipped in the run directory dir:
// FIFOs, sockets and devices below outputs/ and below the declared
// outputs (relative to src/). They are returned as a
// *providers.SkippedError naming them as collected (outputs/…).
func specialOutputs(ctx context.Context, e executor.Executor, dir string, declared []string) error {
	paths := []string{outputsDir}
	for _, d := range declared {
		paths = append(paths, srcDir+"/"+d)
	}
	var out []byte
	var err error
	if _, here := e.(executor.Local); here {
		// Walked here: a find per run was a fifth of a trivial run's CPU.
		out, err = specialLocal(dir, paths)
	} else {
		out, err = e.Run(ctx, append([]string{"sh", "-c", specialScript, "sh", dir}, paths...), nil)
	}
	if err != nil {
		return fmt.Errorf("collect outputs: look for FIFOs, sockets and devices: %w", err)
	}
	var files []string
	for _, rec := range strings.Split(string(out), "\x00") {
		kind, p, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		if rest, ok := strings.CutPrefix(p, srcDir+"/"); ok {
			p = outputsDir + "/" + rest
		}
		if f := kind + " " + p; !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil
	}
	slices.Sort(files)
	return &providers.SkippedError{Files: files}
}

// specialLocal is specialScript on this machine, without a process: it
// prints the same records for the files below dir/PATH, never following a
// link (not even PATH itself, as find does not).
func specialLocal(dir string, paths []string) ([]byte, error) {
	var out []byte
	for _, p := range paths {
		root := filepath.Join(dir, filepath.FromSlash(p))
		if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(root, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			t := d.Type()
			if t.IsRegular() || t.IsDir() || t&fs.ModeSymlink != 0 {
				return nil
			}
			kind := "special file"
			switch {
			case t&fs.ModeNamedPipe != 0:
				kind = "FIFO"
			case t&fs.ModeSocket != 0:
				kind = "socket"
			case t&fs.ModeCharDevice != 0:
				kind = "character device"
			case t&fs.ModeDevice != 0:
				kind = "block device"
			}
			rel, err := filepath.Rel(dir, f)
			if err != nil {
				return err
			}
			out = append(out, kind+"\t"+filepath.ToSlash(rel)+"\x00"...)
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// all runs fs, at once over a network (a round trip, not one each), here
// one after the other, and returns their errors.
func all(e executor.Executor, fs []func() error) error {
	errs := make([]error, len(fs))
	if _, here := e.(executor.Local); here {
		for i, f := range fs {
			errs[i] = f()
		}
		return errors.Join(errs...)
	}
	var wg conc.WaitGroup
	for i, f := range fs {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// copyIfAny copies rel unless the run removed it: there is nothing to lose.
func copyIfAny(ctx context.Context, e executor.Executor, dir, rel, dst string) error {
	err := e.CopyOut(ctx, dir, rel, dst)
	if errors.Is(err, fs.ErrNotExist) {
		if _, statErr := os.Lstat(dst); statErr == nil {
			return os.RemoveAll(dst) // an earlier copy would pass for this run's
		}
		return nil
	}
	return err
}

func collectDeclared(ctx context.Context, e executor.Executor, dir, o, out string) error {
	clean := strings.TrimSuffix(o, "/")
	if err := executor.CheckPath(clean); err != nil {
		return fmt.Errorf("declared output %q: %w", o, err)
	}
	if err := mkdirsNoFollow(out, path.Dir(clean)); err != nil {
		return fmt.Errorf("declared output %q: %w", o, err)
	}
	suffix := ""
	if strings.HasSuffix(o, "/") {
		suffix = "/"
	}
	err := e.CopyOut(ctx, dir, srcDir+"/"+clean+suffix, filepath.Join(out, filepath.FromSlash(clean)))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("declared output %q does not exist", o)
	}
	if err != nil {
		return fmt.Errorf("declared output %q: %w", o, err)
	}
	return nil
}

// mkdirsNoFollow makes the slash-separated directory rel below root,
// replacing anything on the way that is not a directory (a symlink copied
// from outputs/ must not lead a declared output elsewhere).
func mkdirsNoFollow(root, rel string) error {
	if rel == "." {
		return nil
	}
	p := root
	for _, elem := range strings.Split(rel, "/") {
		p = filepath.Join(p, elem)
		fi, err := os.Lstat(p)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}
