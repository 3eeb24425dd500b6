package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

// inputsDir is where a run directory holds the copies of its inputs, one
// directory per input name.
const inputsDir = "inputs"

// PutInputs copies each input's collected outputs (name → directory on
// this machine) into the run directory dir's inputs/NAME on the machine of
// e, read-only, and returns the input names, sorted. An input that names a
// whole sweep is a directory of links to each instance's outputs: the
// links are followed, so each instance is a directory of the copy.
func PutInputs(ctx context.Context, e executor.Executor, inputs map[string]string, dir string) ([]string, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		if err := executor.CheckPath(n); err != nil || strings.Contains(n, "/") {
			return nil, fmt.Errorf("input name %q cannot name a directory", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	tmp, err := os.MkdirTemp("", "trainrun-input-links-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var files []providers.File
	for _, n := range names {
		fs, err := localTree(inputs[n], n, tmp)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", n, err)
		}
		files = append(files, fs...)
	}
	in := path.Join(dir, inputsDir)
	if err := e.Mkdir(ctx, in, 0o755); err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := e.Mkdir(ctx, path.Join(in, n), 0o755); err != nil {
			return nil, err
		}
	}
	if err := e.Put(ctx, in, files); err != nil {
		return nil, fmt.Errorf("copy inputs: %w", err)
	}
	// A run reads its inputs; writing them by mistake fails. (What it
	// does anyway is found after it ends: see InputFiles.)
	if _, err := e.Run(ctx, []string{"chmod", "-R", "a-w", "--", in}, nil); err != nil {
		return nil, fmt.Errorf("make inputs read-only: %w", err)
	}
	return names, nil
}

// InputFiles hashes the copies of a run's inputs that PutInputs made in
// its directory, as they are now: input name → its files, paths relative
// to the input's directory. A run given none has none.
func InputFiles(ctx context.Context, e executor.Executor, runDir string) (map[string][]providers.File, error) {
	th, ok := e.(executor.TreeHasher)
	if !ok {
		return nil, fmt.Errorf("the machine cannot hash files where they are")
	}
	files, err := th.HashTree(ctx, path.Join(runDir, inputsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string][]providers.File)
	for _, f := range files {
		name, rest, ok := strings.Cut(f.Path, "/")
		if !ok {
			continue // not in an input's directory
		}
		f.Path = rest
		out[name] = append(out[name], f)
	}
	return out, nil
}

// localTree lists the files below the local directory root as files of a
// snapshot below prefix. The entries of root itself may be symlinks to
// directories (an input from a sweep: one per instance) and are followed;
// deeper symlinks are kept as symlinks, their targets written to files in
// tmp, which is what Put reads them from.
func localTree(root, prefix, tmp string) ([]providers.File, error) {
	var files []providers.File
	var walk func(dir, rel string, top bool) error
	walk = func(dir, rel string, top bool) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, ent := range ents {
			p := filepath.Join(dir, ent.Name())
			r := rel + "/" + ent.Name()
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			if fi.Mode()&fs.ModeSymlink != 0 && top {
				if fi, err = os.Stat(p); err != nil {
					return err
				}
			}
			switch {
			case fi.IsDir():
				if err := walk(p, r, false); err != nil {
					return err
				}
			case fi.Mode().IsRegular():
				files = append(files, providers.File{Path: r, Mode: 0o100000 | uint32(fi.Mode().Perm()), Blob: p})
			case fi.Mode()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				blob := filepath.Join(tmp, strconv.Itoa(len(files)))
				if err := os.WriteFile(blob, []byte(target), 0o600); err != nil {
					return err
				}
				files = append(files, providers.File{Path: r, Mode: 0o120000, Blob: blob})
			}
		}
		return nil
	}
	if err := walk(root, prefix, true); err != nil {
		return nil, err
	}
	return files, nil
}
