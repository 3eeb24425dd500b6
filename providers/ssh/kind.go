package ssh

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/runner"
)

// Kind returns the "ssh" compute kind. Computes opened from one Kind value
// share their connections: one per machine.
func Kind() providers.ComputeKind { return &kind{pool: newConnPool()} }

type kind struct {
	pool *connPool
	// home is where ~ and ~/.ssh/config are; $HOME unless set (tests).
	home string
}

func (*kind) Schema() providers.Schema {
	return providers.Schema{Attrs: []providers.Attr{
		{Name: "host", Type: cty.String, Doc: "The machine: a name (resolved through ~/.ssh/config) or an address, optionally USER@HOST:PORT."},
		{Name: "hosts", Type: cty.List(cty.String), Doc: "A pool of machines sharing this configuration, each as host takes it; runs go where slots and GPUs are free."},
		{Name: "port", Type: cty.Number, Doc: "SSH port. Default: ~/.ssh/config's Port, else 22."},
		{Name: "user", Type: cty.String, Doc: "Login name. Default: ~/.ssh/config's User, else your local user name."},
		{Name: "private_key_file", Type: cty.String, Doc: "Private key to log in with. Default: the SSH agent, ~/.ssh/config's IdentityFile, ~/.ssh/id_ed25519, id_ecdsa, id_rsa."},
		{Name: "passphrase", Type: cty.String, Sensitive: true, Doc: "Passphrase of an encrypted private key; pass a sensitive variable."},
		{Name: "password", Type: cty.String, Sensitive: true, Doc: "Password to log in with; pass a sensitive variable."},
		{Name: "known_hosts_file", Type: cty.String, Doc: "Where host keys are verified. Default: ~/.ssh/config's UserKnownHostsFile, else ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts."},
		{Name: "host_key", Type: cty.String, Doc: `The host key's fingerprint ("SHA256:…", as ssh-keygen -lf prints it): the only key accepted; known_hosts is then not read.`},
		{Name: "jump", Type: cty.String, Ref: "compute", Doc: "Another ssh compute to connect through (a bastion). Default: ~/.ssh/config's ProxyJump."},
		{Name: "workdir", Type: cty.String, Doc: "Where run directories and the blob cache live on the machine. Default: ~/.trainrun."},
		{Name: "max_runs", Type: cty.Number, Doc: "How many runs may be live at once on each machine. Default: 1."},
		{Name: "gpus", Type: cty.Number, Doc: "How many GPUs each machine schedules. Default: the GPUs `nvidia-smi -L` lists there, or 0."},
		{Name: "connect_timeout", Type: cty.String, Doc: `How long connecting may take, as a duration ("15s"). Default: 15s.`},
	}}
}

// settings are the decoded attributes.
type settings struct {
	hosts          []string
	port           int // 0: unset
	user           string
	keyFile        string
	passphrase     string
	password       string
	knownHosts     string
	hostKey        string
	jump           string
	workdir        string
	maxRuns        int // -1: unset
	gpus           int // -1: unset
	connectTimeout time.Duration
	noProxyJump    bool // a later hop of a ProxyJump list: reached through the one before
}

func (*kind) Validate(v providers.Values) []providers.Problem {
	_, problems := decode(v)
	return problems
}

func decode(v providers.Values) (settings, []providers.Problem) {
	s := settings{maxRuns: -1, gpus: -1}
	var problems []providers.Problem
	bad := func(attr, detail string) {
		problems = append(problems, providers.Problem{Attr: attr, Summary: "Invalid " + attr, Detail: detail})
	}
	str := func(name string) (string, bool) {
		val, ok := v[name]
		if !ok || !val.IsKnown() || val.IsNull() {
			return "", false
		}
		val, _ = val.UnmarkDeep()
		val, err := convert.Convert(val, cty.String)
		if err != nil || val.IsNull() || !val.IsKnown() {
			bad(name, name+" must be a string.")
			return "", false
		}
		return val.AsString(), true
	}
	if h, ok := str("host"); ok {
		if err := checkHostEntry(h); err != nil {
			bad("host", err.Error())
		}
		s.hosts = []string{h}
	}
	if val, ok := v["hosts"]; ok && val.IsKnown() && !val.IsNull() {
		val, _ = val.UnmarkDeep()
		lv, err := convert.Convert(val, cty.List(cty.String))
		switch {
		case err != nil || !lv.IsWhollyKnown():
			bad("hosts", "hosts must be a list of host names.")
		case len(s.hosts) > 0:
			bad("hosts", "Set host or hosts, not both: host is one machine, hosts a pool of them.")
		case lv.LengthInt() == 0:
			bad("hosts", "hosts must name at least one machine.")
		default:
			seen := map[string]bool{}
			for _, e := range lv.AsValueSlice() {
				if e.IsNull() {
					bad("hosts", "hosts cannot hold null.")
					continue
				}
				h := e.AsString()
				if err := checkHostEntry(h); err != nil {
					bad("hosts", err.Error())
				} else if seen[h] {
					bad("hosts", fmt.Sprintf("%q is listed twice.", h))
				}
				seen[h] = true
				s.hosts = append(s.hosts, h)
			}
		}
	}
	if _, hasHost := v["host"]; !hasHost {
		if _, hasHosts := v["hosts"]; !hasHosts {
			problems = append(problems, providers.Problem{Summary: "Missing host",
				Detail: `An ssh compute needs the machine to connect to: host = "gpu1.example.org" (or hosts = [...] for a pool).`})
		}
	}
	if n, p := runner.Count(v, "port", 1, 65535); p != nil {
		problems = append(problems, *p)
	} else if n > 0 {
		s.port = n
	}
	if u, ok := str("user"); ok {
		if u == "" || strings.IndexFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '@' }) >= 0 {
			bad("user", "user must be a login name: no spaces, control characters or @.")
		}
		s.user = u
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"private_key_file", &s.keyFile}, {"known_hosts_file", &s.knownHosts}, {"workdir", &s.workdir}} {
		if p, ok := str(f.name); ok {
			if p == "" || strings.IndexByte(p, 0) >= 0 {
				bad(f.name, f.name+" must be a non-empty path.")
			}
			*f.dst = p
		}
	}
	if p, ok := str("passphrase"); ok {
		s.passphrase = p
	}
	if p, ok := str("password"); ok {
		s.password = p
	}
	if k, ok := str("host_key"); ok {
		if !validFingerprint(k) {
			bad("host_key", `host_key must be a SHA256 fingerprint as ssh-keygen -lf prints it: "SHA256:" and 43 base64 characters. Find it with: ssh-keyscan HOST | ssh-keygen -lf -`)
		}
		s.hostKey = k
	}
	if j, ok := str("jump"); ok {
		s.jump = j
	}
	if n, p := runner.Count(v, "max_runs", 1, runner.MaxCount); p != nil {
		problems = append(problems, *p)
	} else {
		s.maxRuns = n
	}
	if n, p := runner.Count(v, "gpus", 0, runner.MaxCount); p != nil {
		problems = append(problems, *p)
	} else {
		s.gpus = n
	}
	if t, ok := str("connect_timeout"); ok {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			bad("connect_timeout", `connect_timeout must be a positive duration, such as "15s" or "1m".`)
		}
		s.connectTimeout = d
	}
	return s, problems
}

// validFingerprint reports whether k is "SHA256:" and an unpadded base64
// SHA-256.
func validFingerprint(k string) bool {
	b64, ok := strings.CutPrefix(k, "SHA256:")
	if !ok {
		return false
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	return err == nil && len(raw) == 32
}

// checkHostEntry checks one host or hosts entry: [USER@]HOST[:PORT].
func checkHostEntry(h string) error {
	_, host, port, err := splitHostEntry(h)
	if err != nil {
		return err
	}
	if host == "" || strings.HasPrefix(host, "-") || strings.IndexFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' || r == '\\' }) >= 0 {
		return fmt.Errorf("%q is not a host name or address.", h)
	}
	if port < 0 {
		return fmt.Errorf("%q: the port must be a number from 1 to 65535.", h)
	}
	return nil
}

// splitHostEntry splits [USER@]HOST[:PORT]; port is 0 when absent and -1
// when malformed. An IPv6 address with a port is written [ADDR]:PORT.
func splitHostEntry(h string) (user, host string, port int, err error) {
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		user, h = h[:i], h[i+1:]
		if user == "" {
			return "", "", 0, fmt.Errorf("%q: the user before @ is empty.", user+"@"+h)
		}
	}
	host = h
	if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 {
		hh, p, serr := net.SplitHostPort(h)
		if serr != nil {
			if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
				return user, h[1 : len(h)-1], 0, nil
			}
			return "", "", 0, fmt.Errorf("%q is not HOST or HOST:PORT.", h)
		}
		host = hh
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			return user, host, -1, nil
		}
		port = n
	}
	return user, host, port, nil
}

// Open returns the compute. It reads ~/.ssh/config and contacts nothing:
// connections are made on first use.
func (k *kind) Open(name string, v providers.Values, env providers.Env) (providers.Compute, error) {
	s, problems := decode(v)
	// No values at all: a compute that left the configuration, opened to
	// reach its runs; their handles name the machines.
	if len(problems) > 0 && len(v) > 0 {
		return nil, fmt.Errorf("compute %q: %s", name, problems[0].Detail)
	}
	r, err := k.resolver(env)
	if err != nil {
		return nil, fmt.Errorf("compute %q: %w", name, err)
	}
	c := &Compute{name: name, kind: k, s: s, r: r, blob: env.Blob, changed: make(chan struct{})}
	if s.maxRuns < 1 {
		c.s.maxRuns = 1
	}
	for _, h := range s.hosts {
		m, err := c.newMember(h)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("compute %q: %w", name, err)
		}
		c.members = append(c.members, m)
	}
	return c, nil
}

// resolver turns host entries into targets: it knows the local home,
// user, ~/.ssh/config, the project directory and the other computes.
type resolver struct {
	home, localUser, dir string
	cfg                  *sshConfig
	// openCompute opens another compute of the configuration (a jump
	// host); called on first use, never from Open.
	openCompute func(name string) (providers.Compute, error)
}

func (k *kind) resolver(env providers.Env) (*resolver, error) {
	home := k.home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	r := &resolver{home: home, dir: env.Dir, openCompute: env.OpenCompute}
	if u, err := user.Current(); err == nil {
		r.localUser = u.Username
	} else {
		r.localUser = os.Getenv("USER")
	}
	if r.dir == "" {
		r.dir, _ = os.Getwd()
	}
	cfg := &sshConfig{}
	if home != "" {
		var err error
		if cfg, err = readSSHConfig(filepath.Join(home, ".ssh", "config"), home); err != nil {
			return nil, fmt.Errorf("read ~/.ssh/config: %w", err)
		}
	}
	r.cfg = cfg
	return r, nil
}

// localPath makes a path from the configuration absolute on this machine.
func (r *resolver) localPath(p string) string {
	p = expandTilde(p, r.home)
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.dir, p)
	}
	return p
}

// maxJumps bounds a chain of jump hosts.
const maxJumps = 8

// target resolves one host entry under settings s.
func (r *resolver) target(entry string, s settings, depth int) (*Target, error) {
	if depth > maxJumps {
		return nil, fmt.Errorf("more than %d jump hosts in a row (a loop?)", maxJumps)
	}
	user, alias, port, err := splitHostEntry(entry)
	if err != nil {
		return nil, err
	}
	hc := r.cfg.lookup(alias, r.home, r.localUser)
	t := &Target{Alias: alias, Host: hc.HostName, Passphrase: s.passphrase, Password: s.password,
		HostKey: s.hostKey, ConnectTimeout: s.connectTimeout, Agent: os.Getenv("SSH_AUTH_SOCK")}
	t.User = firstNonEmpty(user, s.user, hc.User, r.localUser)
	switch {
	case port > 0:
		t.Port = port
	case s.port > 0:
		t.Port = s.port
	case hc.Port > 0:
		t.Port = hc.Port
	default:
		t.Port = 22
	}
	if s.keyFile != "" {
		t.KeyFiles = []string{r.localPath(s.keyFile)}
	}
	t.OptionalKeyFiles = hc.IdentityFiles
	if len(t.OptionalKeyFiles) == 0 && r.home != "" {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			t.OptionalKeyFiles = append(t.OptionalKeyFiles, filepath.Join(r.home, ".ssh", n))
		}
	}
	switch {
	case s.knownHosts != "":
		t.KnownHostsFiles = []string{r.localPath(s.knownHosts)}
	case len(hc.KnownHostsFiles) > 0 && !strings.EqualFold(hc.KnownHostsFiles[0], "none"):
		t.KnownHostsFiles = hc.KnownHostsFiles
	default:
		if r.home != "" {
			t.KnownHostsFiles = []string{filepath.Join(r.home, ".ssh", "known_hosts"), filepath.Join(r.home, ".ssh", "known_hosts2")}
		}
		t.KnownHostsFiles = append(t.KnownHostsFiles, "/etc/ssh/ssh_known_hosts")
	}
	switch {
	case s.jump != "":
		t.jumpCompute = s.jump // resolved on first use: see finishJump
	case hc.ProxyJump != "" && !strings.EqualFold(hc.ProxyJump, "none") && !s.noProxyJump:
		if t.Jump, err = r.proxyJump(hc.ProxyJump, depth); err != nil {
			return nil, fmt.Errorf("ProxyJump of %s in ~/.ssh/config: %w", alias, err)
		}
	}
	return t, nil
}

// finishJump resolves jump = compute.NAME (another ssh compute of one
// machine) in t and in the jumps it leads to. Computes are opened lazily,
// so this happens on first use.
func (r *resolver) finishJump(t *Target, depth int) error {
	if depth > maxJumps {
		return fmt.Errorf("more than %d jump hosts in a row (a loop?)", maxJumps)
	}
	if t.jumpCompute != "" {
		name := t.jumpCompute
		if r.openCompute == nil {
			return fmt.Errorf("jump: compute %q cannot be opened here", name)
		}
		comp, err := r.openCompute(name)
		if err != nil {
			return fmt.Errorf("jump: %w", err)
		}
		jc, ok := comp.(*Compute)
		if !ok {
			return fmt.Errorf("jump: compute %q is not an ssh compute; a jump host must be one", name)
		}
		if len(jc.members) != 1 {
			return fmt.Errorf("jump: compute %q has %d hosts; a jump host must be one machine", name, len(jc.members))
		}
		jt := *jc.members[0].target
		t.Jump, t.jumpCompute = &jt, ""
	}
	if t.Jump != nil {
		return r.finishJump(t.Jump, depth+1)
	}
	return nil
}

// proxyJump resolves ProxyJump's [USER@]HOST[:PORT][,…]: the first hop is
// reached first, each next one through it.
func (r *resolver) proxyJump(spec string, depth int) (*Target, error) {
	var prev *Target
	for i, hop := range strings.Split(spec, ",") {
		hop = strings.TrimSpace(strings.TrimPrefix(hop, "ssh://"))
		if err := checkHostEntry(hop); err != nil {
			return nil, err
		}
		// The first hop may have a ProxyJump of its own; each later one
		// is reached through the one before.
		t, err := r.target(hop, settings{noProxyJump: i > 0}, depth+1)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			t.Jump = prev
		}
		prev = t
	}
	return prev, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// connPool shares connections between the computes of one Kind.
type connPool struct {
	getMu sync.Mutex // one get at a time: a get takes its jumps too
	mu    sync.Mutex
	conns map[string]*pooled
}

type pooled struct {
	conn *Conn
	refs int
}

func newConnPool() *connPool { return &connPool{conns: make(map[string]*pooled)} }

// get returns the pool's connection to t (and, inside it, to its jumps),
// counting a reference; put gives it back.
func (p *connPool) get(t *Target, o ConnOptions) *Conn {
	p.getMu.Lock()
	defer p.getMu.Unlock()
	return p.getLocked(t, o)
}

func (p *connPool) getLocked(t *Target, o ConnOptions) *Conn {
	key := t.key()
	p.mu.Lock()
	if e := p.conns[key]; e != nil {
		e.refs++
		p.mu.Unlock()
		return e.conn
	}
	p.mu.Unlock()
	var jump *Conn
	if t.Jump != nil {
		jump = p.getLocked(t.Jump, o)
	}
	o.defaults()
	c := &Conn{t: t, o: o, jump: jump, sessions: make(chan struct{}, o.MaxSessions), pooled: true}
	p.mu.Lock()
	p.conns[key] = &pooled{conn: c, refs: 1}
	p.mu.Unlock()
	return c
}

func (p *connPool) put(c *Conn) {
	p.mu.Lock()
	key := c.t.key()
	e := p.conns[key]
	if e == nil || e.conn != c {
		p.mu.Unlock()
		return
	}
	e.refs--
	last := e.refs == 0
	if last {
		delete(p.conns, key)
	}
	p.mu.Unlock()
	if last {
		c.closeSelf()
		if c.jump != nil {
			p.put(c.jump)
		}
	}
}

// OpenMachine returns an executor on the one machine that v (the attributes
// of compute "ssh" that say how to connect: host, port, user,
// private_key_file, known_hosts_file, host_key, connect_timeout) names,
// reached exactly as a compute reaches it: ~/.ssh/config, the agent, key
// files, and host keys verified against known_hosts or host_key. Relative
// local paths are below dir. For what is not a compute (a content remote);
// jump = compute.NAME is not available there (ProxyJump in ~/.ssh/config
// is). Nothing is dialed yet; closing the executor's Conn closes it.
func OpenMachine(v providers.Values, dir string) (*Executor, error) {
	s, problems := decode(v)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", problems[0].Detail)
	}
	if len(s.hosts) != 1 {
		return nil, fmt.Errorf("one host is needed")
	}
	if s.jump != "" {
		return nil, fmt.Errorf("jump = compute.NAME is for computes; use ProxyJump in ~/.ssh/config")
	}
	k := &kind{}
	r, err := k.resolver(providers.Env{Dir: dir})
	if err != nil {
		return nil, err
	}
	t, err := r.target(s.hosts[0], s, 0)
	if err != nil {
		return nil, err
	}
	return NewExecutor(NewConn(t, ConnOptions{}), ExecutorOptions{}), nil
}
