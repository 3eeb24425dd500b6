package snapshot

import (
	"bytes"
	"strings"
)

// This file implements git's ignore rules (gitignore(5)) without a
// dependency: the pattern syntax, the wildmatch algorithm git uses, and the
// precedence between patterns of one file and between files.
//
// Patterns are compiled once per ignore file. Matching a path then costs a
// few map lookups for the common shapes (a literal name such as
// "__pycache__", a suffix such as "*.pyc", a literal anchored path such as
// "/build") and a wildmatch only for the remaining patterns.

// ignorePattern is one non-blank, non-comment line of an ignore file.
type ignorePattern struct {
	glob     string // without "!", the trailing "/" and, for paths, the leading "/"
	negate   bool   // "!pattern": re-include what an earlier pattern excluded
	dirOnly  bool   // "pattern/": matches directories only
	basename bool   // no slash: matched against the last path element, at any depth
	prefix   int    // length of glob's leading part free of wildcards
}

// match reports whether the pattern matches a path. rel is the path
// relative to the directory holding the ignore file, name its last element.
func (p *ignorePattern) match(rel, name string) bool {
	if p.basename {
		return wildmatch(p.glob, name, false)
	}
	if !strings.HasPrefix(rel, p.glob[:p.prefix]) {
		return false
	}
	return wildmatch(p.glob[p.prefix:], rel[p.prefix:], true)
}

// patternIndex speeds up "which is the last pattern matching this path"
// for one kind of path (files or directories). Maps hold the highest index
// of the patterns of each literal shape; others lists the indexes of the
// remaining patterns, in increasing order.
type patternIndex struct {
	names      map[string]int32 // literal basename patterns
	suffixes   map[string]int32 // "*literal" basename patterns, keyed by literal
	suffixLens []int            // distinct lengths of the keys of suffixes
	paths      map[string]int32 // literal path patterns, relative to the base
	others     []int32
}

func (ix *patternIndex) add(i int32, p *ignorePattern) {
	switch {
	case p.basename && p.prefix == len(p.glob):
		if ix.names == nil {
			ix.names = make(map[string]int32)
		}
		ix.names[p.glob] = i
	case p.basename && p.glob[0] == '*' && !hasGlobSpecial(p.glob[1:]):
		lit := p.glob[1:]
		if ix.suffixes == nil {
			ix.suffixes = make(map[string]int32)
		}
		if _, ok := ix.suffixes[lit]; !ok && !containsInt(ix.suffixLens, len(lit)) {
			ix.suffixLens = append(ix.suffixLens, len(lit))
		}
		ix.suffixes[lit] = i
	case !p.basename && p.prefix == len(p.glob):
		if ix.paths == nil {
			ix.paths = make(map[string]int32)
		}
		ix.paths[p.glob] = i
	default:
		ix.others = append(ix.others, i)
	}
}

// last returns the index of the last pattern that matches, or -1.
func (ix *patternIndex) last(patterns []ignorePattern, rel, name string) int32 {
	best := int32(-1)
	if ix.names != nil {
		if i, ok := ix.names[name]; ok {
			best = i
		}
	}
	for _, n := range ix.suffixLens {
		if n <= len(name) {
			if i, ok := ix.suffixes[name[len(name)-n:]]; ok && i > best {
				best = i
			}
		}
	}
	if ix.paths != nil {
		if i, ok := ix.paths[rel]; ok && i > best {
			best = i
		}
	}
	for k := len(ix.others) - 1; k >= 0; k-- {
		i := ix.others[k]
		if i <= best {
			break
		}
		if patterns[i].match(rel, name) {
			return i
		}
	}
	return best
}

// ignoreFile holds the compiled patterns of one .gitignore or
// .trainrunignore file.
type ignoreFile struct {
	base     string // its directory relative to the matching root, "" or ending in "/"
	patterns []ignorePattern
	files    patternIndex // patterns that can match a non-directory
	dirs     patternIndex // all patterns
}

// parseIgnoreFile compiles the content of an ignore file found in the
// directory base ("" for the root, else a relative path ending in "/").
func parseIgnoreFile(data []byte, base string) *ignoreFile {
	f := &ignoreFile{base: base}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // git skips a UTF-8 BOM
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if p, ok := parsePattern(string(line)); ok {
			f.patterns = append(f.patterns, p)
		}
	}
	for i := range f.patterns {
		p := &f.patterns[i]
		if !p.dirOnly {
			f.files.add(int32(i), p)
		}
		f.dirs.add(int32(i), p)
	}
	return f
}

// parsePattern parses one line of an ignore file. ok is false for blank
// lines, comments and patterns that can never match.
func parsePattern(line string) (p ignorePattern, ok bool) {
	if line == "" || line[0] == '#' {
		return p, false
	}
	line = trimTrailingSpaces(line)
	if strings.HasPrefix(line, "!") {
		p.negate = true
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		p.dirOnly = true
		line = line[:len(line)-1]
	}
	p.basename = !strings.Contains(line, "/")
	if !p.basename && line[0] == '/' {
		// A leading slash anchors the pattern to the ignore file's directory,
		// which a pattern with a slash already is.
		line = line[1:]
	}
	if line == "" {
		return p, false
	}
	p.glob = line
	p.prefix = simpleLength(line)
	return p, true
}

// trimTrailingSpaces removes unescaped trailing spaces, as git does.
func trimTrailingSpaces(s string) string {
	end := len(s)
	lastSpace := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ':
			if lastSpace < 0 {
				lastSpace = i
			}
		case '\\':
			i++
			if i == len(s) {
				return s
			}
			lastSpace = -1
		default:
			lastSpace = -1
		}
	}
	if lastSpace >= 0 {
		end = lastSpace
	}
	return s[:end]
}

func isGlobSpecial(c byte) bool {
	return c == '*' || c == '?' || c == '[' || c == '\\'
}

func hasGlobSpecial(s string) bool { return simpleLength(s) < len(s) }

// simpleLength is the length of s's leading part free of glob characters.
func simpleLength(s string) int {
	for i := 0; i < len(s); i++ {
		if isGlobSpecial(s[i]) {
			return i
		}
	}
	return len(s)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// ignoreStack is the chain of ignore files that apply in a directory,
// innermost first. Chains share their tails, so a directory's stack costs
// one node per ignore file it adds.
type ignoreStack struct {
	file   *ignoreFile
	parent *ignoreStack
}

func (s *ignoreStack) push(f *ignoreFile) *ignoreStack {
	if f == nil || len(f.patterns) == 0 {
		return s
	}
	return &ignoreStack{file: f, parent: s}
}

// decide applies the stack to a path relative to the matching root, whose
// last element starts at nameStart. As in git, the innermost file with a
// matching pattern decides, and within it the last matching pattern.
// matched is false when no pattern matched.
func (s *ignoreStack) decide(path string, nameStart int, isDir bool) (excluded, matched bool) {
	name := path[nameStart:]
	for n := s; n != nil; n = n.parent {
		f := n.file
		ix := &f.files
		if isDir {
			ix = &f.dirs
		}
		rel := path[len(f.base):]
		if i := ix.last(f.patterns, rel, name); i >= 0 {
			return !f.patterns[i].negate, true
		}
	}
	return false, false
}

// ignoreRules are the .gitignore and .trainrunignore stacks of one
// directory. .trainrunignore files are consulted first, so that their
// patterns (including "!pattern") override .gitignore's.
type ignoreRules struct {
	git, trainrun *ignoreStack
}

func (r ignoreRules) excluded(path string, nameStart int, isDir bool) bool {
	return r.excludedBy(path, nameStart, isDir) != ""
}

// excludedBy names the kind of ignore file whose rules exclude path:
// ".trainrunignore", ".gitignore", or "" when it is included.
func (r ignoreRules) excludedBy(path string, nameStart int, isDir bool) string {
	if ex, ok := r.trainrun.decide(path, nameStart, isDir); ok {
		if ex {
			return ".trainrunignore"
		}
		return ""
	}
	if ex, _ := r.git.decide(path, nameStart, isDir); ex {
		return ".gitignore"
	}
	return ""
}

// Results of wildmatch's recursive steps, as in git's wildmatch.c: the
// abort values cut the backtracking short when no later position can match.
const (
	wmMatch = iota
	wmNoMatch
	wmAbortAll
	wmAbortToStarStar
)

// wildmatch reports whether text matches the glob pattern with git's
// semantics. With pathname set, "*", "?" and "[...]" do not match "/", and
// "**" between slashes (or at either end) matches any number of
// directories, including none.
func wildmatch(pattern, text string, pathname bool) bool {
	return dowild(pattern, text, pathname) == wmMatch
}

func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func dowild(p, t string, pathname bool) int {
	pi, ti := 0, 0
	for ; pi < len(p); pi, ti = pi+1, ti+1 {
		pc := p[pi]
		if ti >= len(t) && pc != '*' {
			return wmAbortAll
		}
		tc := byteAt(t, ti)
		switch pc {
		case '\\':
			// A trailing backslash matches nothing: tc is never 0 here.
			pi++
			if tc != byteAt(p, pi) {
				return wmNoMatch
			}
		case '?':
			if pathname && tc == '/' {
				return wmNoMatch
			}
		case '*':
			pi++
			matchSlash := !pathname
			if byteAt(p, pi) == '*' {
				prev := pi - 2
				for byteAt(p, pi) == '*' {
					pi++
				}
				if !pathname {
					matchSlash = true
				} else if (prev < 0 || p[prev] == '/') &&
					(pi == len(p) || p[pi] == '/' || (p[pi] == '\\' && byteAt(p, pi+1) == '/')) {
					// "**/" may match no directory at all: try the rest
					// of the pattern right here first.
					if byteAt(p, pi) == '/' && dowild(p[pi+1:], t[ti:], pathname) == wmMatch {
						return wmMatch
					}
					matchSlash = true
				} else {
					matchSlash = false // "**" not between slashes is "*"
				}
			}
			if pi == len(p) {
				// A trailing "**" matches everything; a trailing "*" only
				// if no slash follows.
				if !matchSlash && strings.IndexByte(t[ti:], '/') >= 0 {
					return wmNoMatch
				}
				return wmMatch
			}
			if !matchSlash && p[pi] == '/' {
				// "*/" matches up to the next slash, which the loop consumes.
				k := strings.IndexByte(t[ti:], '/')
				if k < 0 {
					return wmNoMatch
				}
				ti += k
				continue
			}
			for ti < len(t) {
				// When a literal follows the star, skip straight to its
				// next occurrence.
				if c := p[pi]; !isGlobSpecial(c) {
					for ti < len(t) && (matchSlash || t[ti] != '/') && t[ti] != c {
						ti++
					}
					if ti == len(t) || t[ti] != c {
						return wmNoMatch
					}
				}
				m := dowild(p[pi:], t[ti:], pathname)
				if m != wmNoMatch {
					if !matchSlash || m != wmAbortToStarStar {
						return m
					}
				} else if !matchSlash && t[ti] == '/' {
					return wmAbortToStarStar
				}
				ti++
			}
			return wmAbortAll
		case '[':
			end, r := matchBracket(p, pi, tc)
			if r != wmMatch {
				return r
			}
			if pathname && tc == '/' {
				return wmNoMatch
			}
			pi = end
		default:
			if tc != pc {
				return wmNoMatch
			}
		}
	}
	if ti < len(t) {
		return wmNoMatch
	}
	return wmMatch
}

// matchBracket matches tc against the bracket expression starting at
// p[i] == '['. It returns the index of the closing ']' and wmMatch or
// wmNoMatch, or wmAbortAll when the expression is malformed (it then
// matches nothing, anywhere).
func matchBracket(p string, i int, tc byte) (end, result int) {
	i++
	pc := byteAt(p, i)
	if pc == '^' {
		pc = '!'
	}
	negated := pc == '!'
	if negated {
		i++
		pc = byteAt(p, i)
	}
	var prev byte
	matched := false
	for {
		if pc == 0 {
			return i, wmAbortAll
		}
		switch {
		case pc == '\\':
			i++
			pc = byteAt(p, i)
			if pc == 0 {
				return i, wmAbortAll
			}
			if tc == pc {
				matched = true
			}
		case pc == '-' && prev != 0 && byteAt(p, i+1) != 0 && byteAt(p, i+1) != ']':
			i++
			pc = byteAt(p, i)
			if pc == '\\' {
				i++
				pc = byteAt(p, i)
				if pc == 0 {
					return i, wmAbortAll
				}
			}
			if tc <= pc && tc >= prev {
				matched = true
			}
			pc = 0 // a range cannot start another range
		case pc == '[' && byteAt(p, i+1) == ':':
			s := i + 2
			j := s
			for j < len(p) && p[j] != ']' {
				j++
			}
			if j == len(p) {
				return i, wmAbortAll
			}
			if j-s-1 < 0 || p[j-1] != ':' {
				// Not "[:class:]": a literal '['.
				if tc == '[' {
					matched = true
				}
				break
			}
			ok, known := charClass(p[s:j-1], tc)
			if !known {
				return i, wmAbortAll
			}
			if ok {
				matched = true
			}
			i = j
			pc = 0
		default:
			if tc == pc {
				matched = true
			}
		}
		prev = pc
		i++
		pc = byteAt(p, i)
		if pc == ']' {
			break
		}
	}
	if matched == negated {
		return i, wmNoMatch
	}
	return i, wmMatch
}

// charClass evaluates a POSIX character class for an ASCII byte.
func charClass(class string, c byte) (match, known bool) {
	isUpper := 'A' <= c && c <= 'Z'
	isLower := 'a' <= c && c <= 'z'
	isDigit := '0' <= c && c <= '9'
	isAlpha := isUpper || isLower
	isPrint := 0x20 <= c && c < 0x7f
	switch class {
	case "alnum":
		return isAlpha || isDigit, true
	case "alpha":
		return isAlpha, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < 0x20 || c == 0x7f, true
	case "digit":
		return isDigit, true
	case "graph":
		return isPrint && c != ' ', true
	case "lower":
		return isLower, true
	case "print":
		return isPrint, true
	case "punct":
		return isPrint && c != ' ' && !isAlpha && !isDigit, true
	case "space":
		return c == ' ' || ('\t' <= c && c <= '\r'), true
	case "upper":
		return isUpper, true
	case "xdigit":
		return isDigit || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F'), true
	}
	return false, false
}
