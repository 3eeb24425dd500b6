package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/trainrun/trainrun/cmd/trainrun/internal/arguments"
	"github.com/trainrun/trainrun/examples"
	"github.com/trainrun/trainrun/internal/plural"
	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/planner"
)

func cmdInit(c *cli, args []string) int {
	a, err := arguments.ParseInit(args)
	if err != nil {
		return c.argsError(err)
	}
	name := a.Example
	if name == "" {
		name = "quickstart"
	}
	src := examples.FS(name)
	if src == nil {
		return c.errorf("no example %q; there are: %s", name, strings.Join(examples.Names(), ", "))
	}
	configs, err := configFilesIn(c.dir)
	if err != nil {
		return c.errorf("init: %v", err)
	}
	switch {
	case len(configs) > 0 && a.Example != "":
		return c.errorf("this directory has a configuration (%s): the %s example's files would mix with your project's, so init wrote nothing.\n"+
			"Write the example into a directory of its own: trainrun -chdir=%s init -example %s", strings.Join(configs, ", "), name, name, name)
	case len(configs) > 0:
		// A project: init writes no example into it, and says whether it
		// is ready.
		if err := ignoreDataDir(c.dir); err != nil {
			return c.errorf("init: %v", err)
		}
		fmt.Fprintf(c.stdout, "Found a configuration (%s): init wrote no example. .trainrun/ is in .gitignore.\n", strings.Join(configs, ", "))
		if c.load(nil) == nil {
			return c.errorf("the configuration has errors (above): fix them, then 'trainrun plan'")
		}
		fmt.Fprintf(c.stdout, "\ntrainrun is ready. Next: 'trainrun plan' to see what would run, 'trainrun apply' to run it.\n")
		return 0
	}
	// The example goes only where none of its files is: a file of yours
	// that it would keep would be run in its place.
	var files, exist []string
	err = fs.WalkDir(src, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == "README.md" {
			return err // the example's README explains the example, not the user's project
		}
		files = append(files, path)
		if _, err := os.Lstat(filepath.Join(c.dir, filepath.FromSlash(path))); err == nil {
			exist = append(exist, path)
		}
		return nil
	})
	if err != nil {
		return c.errorf("init: %v", err)
	}
	if len(exist) > 0 {
		return c.errorf("the %s example has %s, which this directory has already: init wrote nothing, rather than run your file as the example's.\n"+
			"Move it, or write the example into a directory of its own: trainrun -chdir=DIR init -example %s", name, strings.Join(exist, ", "), name)
	}
	for _, path := range files {
		dst := filepath.Join(c.dir, filepath.FromSlash(path))
		b, err := fs.ReadFile(src, path)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(dst), 0o755)
		}
		if err == nil {
			err = os.WriteFile(dst, b, 0o644)
		}
		if err != nil {
			return c.errorf("init: %v", err)
		}
		fmt.Fprintf(c.stdout, "wrote %s\n", path)
	}
	if err := ignoreDataDir(c.dir); err != nil {
		return c.errorf("init: %v", err)
	}
	fmt.Fprintf(c.stdout, "\ntrainrun is ready. Next: 'trainrun plan' to see what would run, 'trainrun apply' to run it.\n")
	return 0
}

// configFilesIn lists the configuration files of dir.
func configFilesIn(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && lang.IsConfigFile(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// ignoreDataDir adds .trainrun/ to .gitignore unless it is there.
func ignoreDataDir(dir string) error {
	path := filepath.Join(dir, ".gitignore")
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch strings.TrimSpace(line) {
		case ".trainrun", ".trainrun/", "/.trainrun", "/.trainrun/":
			return nil
		}
	}
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		b = append(b, '\n')
	}
	b = append(b, ".trainrun/\n"...)
	return os.WriteFile(path, b, 0o644)
}

func cmdValidate(c *cli, args []string) int {
	a, err := arguments.ParseValidate(args)
	if err != nil {
		return c.argsError(err)
	}
	opts := lang.Options{Vars: a.Vars.Vars, VarFiles: a.Vars.Files, Getenv: c.getenv, LookupEnv: c.lookupEnv, Registry: registry()}
	cfg, diags := lang.Load(c.dir, opts)
	if a.JSON {
		fmt.Fprintf(c.stdout, "%s\n", lang.DiagnosticsJSON(diags))
	} else {
		files := map[string]*hcl.File{}
		if cfg != nil {
			files = cfg.Files
		}
		_ = lang.WriteDiagnostics(c.stderr, files, diags, c.color)
		if !diags.HasErrors() {
			fmt.Fprintf(c.stdout, "The configuration is valid: %s, %s.\n",
				plural.Count(len(cfg.Experiments), "experiment"), plural.Count(len(cfg.Instances), "instance"))
		}
	}
	if diags.HasErrors() {
		return 1
	}
	return 0
}

func cmdFmt(c *cli, args []string) int {
	a, err := arguments.ParseFmt(args)
	if err != nil {
		return c.argsError(err)
	}
	var files []string
	for _, p := range a.Paths {
		found, err := configFiles(p, a.Recursive)
		if err != nil {
			return c.errorf("fmt: %v", err)
		}
		files = append(files, found...)
	}
	unformatted, failed := false, false
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			c.errorf("fmt: %v", err)
			failed = true
			continue
		}
		out, diags := lang.Format(name, src)
		if diags.HasErrors() {
			_ = lang.WriteDiagnostics(c.stderr, map[string]*hcl.File{name: {Bytes: src}}, diags, c.color)
			failed = true
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		unformatted = true
		if a.List {
			fmt.Fprintln(c.stdout, name)
		}
		if a.Diff {
			c.printDiff(name, src, out)
		}
		if !a.Check {
			if err := writeKeepMode(name, out); err != nil {
				c.errorf("fmt: %v", err)
				failed = true
			}
		}
	}
	switch {
	case failed:
		return 1
	case a.Check && unformatted:
		return 3
	}
	return 0
}

// configFiles lists the .hcl configuration files at path: the file itself,
// or the *.hcl files of a directory (and below it with recursive).
func configFiles(path string, recursive bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if strings.HasSuffix(path, ".json") {
			// As terraform fmt: JSON is left to JSON tools.
			return nil, fmt.Errorf("%s is JSON: fmt formats only HCL (.hcl) files", path)
		}
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".hcl") {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func writeKeepMode(name string, b []byte) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	return os.WriteFile(name, b, st.Mode().Perm())
}

// printDiff prints a unified diff with the system's diff, as terraform fmt
// -diff does.
func (c *cli) printDiff(name string, old, new []byte) {
	tmp, err := os.CreateTemp("", "trainrun-fmt-*.hcl")
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	tmp.Write(new)
	tmp.Close()
	cmd := exec.Command("diff", "-u", "--label", "old/"+name, "--label", "new/"+name, name, tmp.Name())
	cmd.Stdout = c.stdout
	_ = cmd.Run() // diff exits 1 when files differ
}

func cmdGraph(c *cli, args []string) int {
	a, err := arguments.ParseGraph(args)
	if err != nil {
		return c.argsError(err)
	}
	cfg := c.load(&a.Vars)
	if cfg == nil {
		return 1
	}
	planner.WriteDOT(c.stdout, cfg)
	return 0
}

func cmdVersion(c *cli, args []string) int {
	a, err := arguments.ParseVersion(args)
	if err != nil {
		return c.argsError(err)
	}
	if a.JSON {
		b, _ := json.Marshal(map[string]string{"trainrun_version": version})
		fmt.Fprintf(c.stdout, "%s\n", b)
		return 0
	}
	fmt.Fprintf(c.stdout, "trainrun %s\n", version)
	return 0
}
