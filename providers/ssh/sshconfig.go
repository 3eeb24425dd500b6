package ssh

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// hostConfig is what ~/.ssh/config says about one host. Zero fields are
// unset.
type hostConfig struct {
	HostName        string
	User            string
	Port            int
	IdentityFiles   []string
	ProxyJump       string // "none" disables a jump set elsewhere
	KnownHostsFiles []string
}

// sshConfig is a parsed ssh_config file: its settings in order, each with
// the condition it is under.
type sshConfig struct {
	entries []configEntry
}

type configEntry struct {
	cond  condition
	key   string // lower-case keyword
	value []string
}

// condition is the Host or Match line a setting follows.
type condition struct {
	always   bool     // before any Host line, or Match all
	never    bool     // a Match criterion this reader does not evaluate
	patterns []string // Host patterns (or Match host ones), "!" negating
}

func (c condition) matches(host string) bool {
	switch {
	case c.always:
		return true
	case c.never:
		return false
	}
	matched := false
	for _, p := range c.patterns {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if patternMatch(neg, host) {
				return false
			}
			continue
		}
		if patternMatch(p, host) {
			matched = true
		}
	}
	return matched
}

// patternMatch matches ssh_config host patterns: * and ?, case-insensitive.
func patternMatch(pattern, s string) bool {
	ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(s))
	if err != nil {
		return pattern == s
	}
	return ok
}

// maxIncludeDepth bounds Include recursion (OpenSSH allows 16).
const maxIncludeDepth = 16

// readSSHConfig parses the file at p; a missing file is an empty config.
// home is where "~" and relative Include paths point (~/.ssh).
func readSSHConfig(p, home string) (*sshConfig, error) {
	c := &sshConfig{}
	err := c.read(p, home, condition{always: true}, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	return c, err
}

func (c *sshConfig) read(p, home string, cond condition, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("%s: Include nested too deeply", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		key, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return fmt.Errorf("%s:%d: %w", p, n, err)
		}
		switch key {
		case "":
		case "host":
			cond = condition{patterns: args}
		case "match":
			cond = matchCondition(args)
		case "include":
			for _, pat := range args {
				pat = expandTilde(pat, home)
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(home, ".ssh", pat)
				}
				files, _ := filepath.Glob(pat)
				for _, inc := range files {
					if err := c.read(inc, home, cond, depth+1); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return err
					}
				}
			}
		default:
			c.entries = append(c.entries, configEntry{cond: cond, key: key, value: args})
		}
	}
	return sc.Err()
}

// matchCondition evaluates what it can of a Match line: "all" and "host"
// or "originalhost" patterns (comma-separated). Anything else never
// matches: a setting meant for a case this reader cannot check is better
// left out than applied everywhere.
func matchCondition(args []string) condition {
	if len(args) == 1 && strings.EqualFold(args[0], "all") {
		return condition{always: true}
	}
	if len(args) == 2 && (strings.EqualFold(args[0], "host") || strings.EqualFold(args[0], "originalhost")) {
		return condition{patterns: strings.Split(args[1], ",")}
	}
	return condition{never: true}
}

// splitConfigLine splits "Keyword value…" or "Keyword=value…", honoring
// double quotes and # comments.
func splitConfigLine(line string) (string, []string, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, nil
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return strings.ToLower(line), nil, nil
	}
	key := strings.ToLower(line[:i])
	rest := strings.TrimLeft(line[i:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	var args []string
	for rest = strings.TrimLeft(rest, " \t"); rest != ""; rest = strings.TrimLeft(rest, " \t") {
		if rest[0] == '#' {
			break
		}
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return "", nil, errors.New("unterminated quote")
			}
			args = append(args, rest[1:end+1])
			rest = rest[end+2:]
			continue
		}
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		args = append(args, rest[:end])
		rest = rest[end:]
	}
	return key, args, nil
}

// lookup returns the settings for host: for each keyword the first value
// obtained, IdentityFile accumulating, as ssh_config(5) says. Tokens %h,
// %d, %u, %r, %p and %% are expanded in the settings that take them.
func (c *sshConfig) lookup(host, home, localUser string) hostConfig {
	var hc hostConfig
	seen := map[string]bool{}
	for _, e := range c.entries {
		if len(e.value) == 0 || !e.cond.matches(host) {
			continue
		}
		if e.key != "identityfile" && seen[e.key] {
			continue
		}
		seen[e.key] = true
		v := e.value[0]
		switch e.key {
		case "hostname":
			hc.HostName = expandTokens(v, map[byte]string{'h': host})
		case "user":
			hc.User = v
		case "port":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
				hc.Port = n
			}
		case "identityfile":
			if !strings.EqualFold(v, "none") {
				hc.IdentityFiles = append(hc.IdentityFiles, v)
			}
		case "proxyjump":
			hc.ProxyJump = v
		case "userknownhostsfile":
			hc.KnownHostsFiles = append([]string(nil), e.value...)
		}
	}
	if hc.HostName == "" {
		hc.HostName = host
	}
	// Tokens that need the final host, user and port.
	tokens := map[byte]string{'h': hc.HostName, 'd': home, 'u': localUser, 'r': hc.User}
	if hc.Port != 0 {
		tokens['p'] = strconv.Itoa(hc.Port)
	} else {
		tokens['p'] = "22"
	}
	for i, f := range hc.IdentityFiles {
		hc.IdentityFiles[i] = expandTilde(expandTokens(f, tokens), home)
	}
	for i, f := range hc.KnownHostsFiles {
		hc.KnownHostsFiles[i] = expandTilde(expandTokens(f, tokens), home)
	}
	return hc
}

// expandTokens replaces %X by tokens[X] and %% by %; unknown tokens are
// left as written.
func expandTokens(s string, tokens map[byte]string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
		} else if v, ok := tokens[s[i]]; ok {
			b.WriteString(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// expandTilde replaces a leading "~" or "~/" by home.
func expandTilde(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}
