package envs

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

var (
	//go:embed lock.sh
	lockScript string
	//go:embed build.sh
	buildScript string
	//go:embed remove.sh
	removeScript string
)

// Placeholders that a step's words may hold, for paths only known on the
// machine. No value from a configuration holds a NUL byte (Validate
// refuses them), so none can be mistaken for these.
const (
	prefixWord = "\x00prefix" // the directory being built; prefixWord+"/x" is a path in it
	inputWord  = "\x00input"  // the file holding the build's input
)

// step is one command of a build.
type step struct {
	argv   []string
	stdout string // a word to redirect stdout to; "" leaves it in the log
}

// shellWord quotes one word of a step for the build script.
func shellWord(w string) string {
	switch {
	case w == prefixWord:
		return `"$prefix"`
	case strings.HasPrefix(w, prefixWord+"/"):
		return `"$prefix"/` + executor.Quote(w[len(prefixWord)+1:])
	case w == inputWord:
		return `"$input"`
	}
	return executor.Quote(w)
}

// stepsFunc renders steps as the shell function build.sh calls. Every
// value is quoted with executor.Quote; only the placeholders expand.
func stepsFunc(steps []step) string {
	var b strings.Builder
	b.WriteString("steps() {\n")
	for _, s := range steps {
		b.WriteString("\t")
		for i, w := range s.argv {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(shellWord(w))
		}
		if s.stdout != "" {
			b.WriteString(" >" + shellWord(s.stdout))
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// lockFile is the file, in a finished directory environment, that holds its
// resolved package set; its presence says the environment is complete.
const lockFile = ".trainrun-lock"

// checkDir refuses an environments directory that a shell could misread.
func checkDir(dir string) error {
	if !path.IsAbs(dir) || strings.IndexByte(dir, 0) >= 0 {
		return fmt.Errorf("environments directory %q is not an absolute path", dir)
	}
	return nil
}

// buildDir makes the directory environment id ready below dir: at once when
// it is there (one read), else by running steps under the lock. input
// becomes the file the steps read as inputWord, named with suffix.
func buildDir(ctx context.Context, m providers.Machine, dir, id string, steps []step, input []byte, suffix string) (lock string, built bool, err error) {
	if err := checkDir(dir); err != nil {
		return "", false, err
	}
	if !validID(id) {
		return "", false, fmt.Errorf("environment id %q cannot name a directory", id)
	}
	data, err := m.ReadFile(ctx, path.Join(dir, id, lockFile))
	if err == nil {
		return string(data), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("look for environment %s: %w", id, err)
	}
	script := lockScript + stepsFunc(steps) + buildScript
	out, err := m.Run(ctx, []string{"sh", "-c", script, "trainrun-env", dir, id, randomSuffix(), suffix}, bytes.NewReader(input))
	if err != nil {
		return "", false, fmt.Errorf("build failed: %w", err)
	}
	status, lock, _ := strings.Cut(string(out), "\n")
	switch status {
	case "built":
		return lock, true, nil
	case "cached": // another process built it meanwhile
		return lock, false, nil
	}
	return "", false, fmt.Errorf("build: unexpected output %q", firstLine(string(out)))
}

// removeDir removes the directory environment id below dir, under its lock.
func removeDir(ctx context.Context, m providers.Machine, dir, id string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	if !validID(id) {
		return fmt.Errorf("environment id %q cannot name a directory", id)
	}
	if _, err := m.Run(ctx, []string{"sh", "-c", lockScript + removeScript, "trainrun-env", dir, id}, nil); err != nil {
		return fmt.Errorf("remove environment %s: %w", id, err)
	}
	return nil
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b[:])
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
