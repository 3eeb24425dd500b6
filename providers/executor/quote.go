package executor

import "strings"

// Quote quotes s as one word for a POSIX shell. Words made only of
// characters that no shell treats specially are returned as they are;
// anything else is put in single quotes, a quote inside becoming
//
//	'\''
//
// A NUL byte cannot be passed in any argument (execve ends strings there),
// so callers must refuse arguments that contain one.
func Quote(s string) string {
	if s != "" && isPlain(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isPlain reports whether s needs no quoting: no glob, expansion,
// assignment (=), tilde, comment or brace character, no space.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_-./,:@%+", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// CommandLine returns argv as a shell command line that runs it, for a
// machine reached through a shell (ssh). See Quote.
func CommandLine(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}
