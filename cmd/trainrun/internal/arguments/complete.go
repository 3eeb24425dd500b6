package arguments

import (
	"slices"
	"strings"

	"github.com/trainrun/trainrun/examples"
)

// Candidates are what completion offers beyond commands and flags: they
// come from the configuration and the recorded state, which the caller
// reads (from the directory -chdir names, when it is given).
type Candidates interface {
	// Addresses are the instance addresses and experiment.NAME of every
	// experiment, configured or recorded.
	Addresses(dir string) []string
	// Runs are the ids of recorded runs, newest first; live only the live
	// ones.
	Runs(dir string, live bool) []string
}

// Completed is what completes the word at the cursor: Words, or a file
// or directory name when Files or Dirs is set (the shell completes those).
type Completed struct {
	Words       []string
	Files, Dirs bool
}

// Complete completes the word cur, given the words before it (after
// "trainrun"), unquoted as the shell would pass them. Only the words that
// begin with cur are returned.
func Complete(words []string, cur string, src Candidates) Completed {
	// The global flags, and the command.
	dir := ""
	i := 0
	for ; i < len(words) && strings.HasPrefix(words[i], "-"); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(words[i], "-"), "=")
		if name == "chdir" {
			if !hasValue {
				if i+1 == len(words) {
					return Completed{Dirs: true} // -chdir DIR
				}
				i++
				value = words[i]
			}
			dir = value
		}
	}
	if i == len(words) {
		if strings.HasPrefix(cur, "-") {
			return matching(cur, []string{"-chdir=", "-no-color", "-help", "-version"})
		}
		var names []string
		for _, c := range Commands() {
			names = append(names, c.Name)
		}
		return matching(cur, append(names, "help"))
	}
	cmd, rest := words[i], words[i+1:]
	if cmd == "help" {
		if len(rest) > 0 {
			return Completed{}
		}
		var names []string
		for _, c := range Commands() {
			names = append(names, c.Name)
		}
		return matching(cur, names)
	}
	if _, ok := Lookup(cmd); !ok {
		return Completed{}
	}
	flags := Flags(cmd)
	takesValue := func(word string) (string, bool) {
		name, _, hasValue := strings.Cut(strings.TrimLeft(word, "-"), "=")
		if hasValue {
			return "", false
		}
		for _, f := range flags {
			if f.Name == name {
				return name, f.TakesValue
			}
		}
		return "", false
	}
	// The positional arguments given so far, and whether cur is a flag's
	// value.
	var given []string // the positional arguments before cur
	for j := 0; j < len(rest); j++ {
		w := rest[j]
		if w == "--" {
			given = append(given, rest[j+1:]...)
			break
		}
		if strings.HasPrefix(w, "-") && len(w) > 1 {
			if name, ok := takesValue(w); ok {
				if j+1 == len(rest) {
					return flagValue(cmd, name, cur, dir, src)
				}
				j++
			}
			continue
		}
		given = append(given, w)
	}
	if strings.HasPrefix(cur, "-") {
		if name, value, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
			// -target=experiment.tr
			c := flagValue(cmd, name, value, dir, src)
			dashes := cur[:len(cur)-len(strings.TrimLeft(cur, "-"))]
			for k, w := range c.Words {
				c.Words[k] = dashes + name + "=" + w
			}
			return c
		}
		var names []string
		for _, f := range flags {
			names = append(names, "-"+f.Name)
		}
		return matching(cur, names)
	}
	return positional(cmd, given, cur, dir, src)
}

// flagValue completes the value of a command's flag.
func flagValue(cmd, flag, cur, dir string, src Candidates) Completed {
	switch flag {
	case "target", "exclude", "replace":
		return matching(cur, src.Addresses(dir))
	case "var-file", "out":
		return Completed{Files: true}
	case "example":
		return matching(cur, examples.Names())
	case "status":
		var names []string
		for _, s := range states {
			names = append(names, string(s))
		}
		return matching(cur, names)
	}
	return Completed{}
}

// positional completes the positional argument of a command that follows
// the ones given.
func positional(cmd string, given []string, cur, dir string, src Candidates) Completed {
	n := len(given)
	runOrAddr := func() Completed {
		return matching(cur, append(src.Runs(dir, false), src.Addresses(dir)...))
	}
	switch cmd {
	case "status", "runs":
		if n == 0 {
			return matching(cur, src.Addresses(dir))
		}
	case "show":
		if n == 0 {
			c := runOrAddr()
			if cur != "" && len(c.Words) == 0 {
				return Completed{Files: true} // a saved plan
			}
			return c
		}
	case "logs", "rerun":
		if n == 0 {
			return runOrAddr()
		}
	case "checkout", "outputs":
		switch n {
		case 0:
			return runOrAddr()
		case 1:
			return Completed{Dirs: true}
		}
	case "cancel":
		return matching(cur, src.Runs(dir, true))
	case "compare":
		// An experiment, or two runs.
		switch {
		case n == 0:
			var exps []string
			for _, a := range src.Addresses(dir) {
				if !strings.Contains(a, "[") {
					exps = append(exps, a)
				}
			}
			return matching(cur, append(exps, src.Runs(dir, false)...))
		case n == 1 && (!strings.HasPrefix(given[0], "experiment.") || strings.Contains(given[0], "[")):
			return runOrAddr()
		}
	case "apply":
		if n == 0 {
			return Completed{Files: true} // a saved plan
		}
	case "fmt":
		return Completed{Files: true}
	case "completion":
		if n == 0 {
			return matching(cur, shells)
		}
	}
	return Completed{}
}

// matching keeps the words that begin with cur, in order, once each.
func matching(cur string, words []string) Completed {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, cur) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return Completed{Words: out}
}

// BashLine completes for bash: line is the command line up to the cursor
// (COMP_LINE cut at COMP_POINT) and fragment the part of its last word
// that bash replaces (COMP_WORDS[COMP_CWORD]: bash also breaks words at
// COMP_WORDBREAKS, such as = and :). The words are returned quoted for the
// line, in the quotes the word was begun with (or single quotes when the
// word needs them), and cut to what replaces fragment.
func BashLine(line, fragment string, src Candidates) Completed {
	words, cur, raw, quote := splitLine(line)
	if len(words) == 0 {
		return Completed{}
	}
	c := Complete(words[1:], cur, src)
	prefix, ok := strings.CutSuffix(raw, fragment)
	if !ok {
		prefix = ""
	}
	var out []string
	// A word begun without quotes that bash breaks (at = or :) is
	// continued in backslashes: bash keeps what comes before the break.
	backslashes := quote == 0 && (prefix != "" || strings.Contains(raw, `\`))
	// In -flag=VALUE only the value is quoted.
	flag := ""
	if strings.HasPrefix(cur, "-") {
		if name, _, ok := strings.Cut(cur, "="); ok {
			flag = name + "="
		}
	}
	for _, w := range c.Words {
		q := flag + quoteFor(strings.TrimPrefix(w, flag), quote, backslashes)
		if rest, ok := strings.CutPrefix(q, prefix); ok {
			out = append(out, rest)
		}
	}
	c.Words = out
	return c
}

// splitLine splits a shell command line into words as the shell would
// (quotes and backslashes removed), returning the words before the last
// one and the last one, unquoted (cur) and as typed (raw), with the quote
// it is open in (0 when none). A line that ends in a space has an empty
// last word.
func splitLine(line string) (words []string, cur, raw string, quote byte) {
	var w strings.Builder
	inWord := false
	start := 0
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				w.WriteByte(ch)
			}
		case quote == '"':
			switch {
			case ch == '"':
				quote = 0
			case ch == '\\' && i+1 < len(line) && strings.IndexByte("\\\"$`", line[i+1]) >= 0:
				i++
				w.WriteByte(line[i])
			default:
				w.WriteByte(ch)
			}
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			if !inWord {
				inWord, start = true, i
			}
			switch ch {
			case '\'', '"':
				quote = ch
			case '\\':
				if i+1 < len(line) {
					i++
					w.WriteByte(line[i])
				}
			default:
				w.WriteByte(ch)
			}
		}
	}
	if !inWord {
		return words, "", "", 0
	}
	return words, w.String(), line[start:], quote
}

// quoteFor writes word for a shell line: in the quote the word was begun
// with, or with backslashes, or in single quotes when it has characters
// the shell would take otherwise.
func quoteFor(word string, quote byte, backslashes bool) string {
	const special = " \t\n\"'\\$`;&|<>()[]*?{}!#~"
	switch {
	case quote == '"':
		return `"` + escape(word, "\\\"$`") + `"`
	case quote == 0 && backslashes:
		return escape(word, special)
	case quote == '\'' || strings.ContainsAny(word, special):
		return "'" + strings.ReplaceAll(word, "'", `'\''`) + "'"
	}
	return word
}

// escape puts a backslash before each of chars in s.
func escape(s, chars string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
