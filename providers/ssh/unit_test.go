package ssh

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/providers"
)

func TestSSHConfigLookup(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh", "conf.d"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "conf.d", "lab"), []byte(`
Host lab-*
  User labuser
  ProxyJump bastion.example.org
`), 0o600)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(`
# comment
Include conf.d/*
Host gpu1 gpu2
  HostName %h.cluster.example.org
  Port 2222
  IdentityFile ~/.ssh/id_gpu
  IdentityFile "/keys/with space"
Host gpu*  !gpu9
  User ml
  Port 22
  UserKnownHostsFile ~/.ssh/kh_%h
Match host nope
  User never
Match exec "true"
  User never
Host *
  User=fallback
  IdentityFile ~/.ssh/id_%r
`), 0o600)
	cfg, err := readSSHConfig(filepath.Join(home, ".ssh", "config"), home)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		want hostConfig
	}{
		{"gpu1", hostConfig{HostName: "gpu1.cluster.example.org", User: "ml", Port: 2222,
			IdentityFiles:   []string{home + "/.ssh/id_gpu", "/keys/with space", home + "/.ssh/id_ml"},
			KnownHostsFiles: []string{home + "/.ssh/kh_gpu1.cluster.example.org"}}},
		{"gpu9", hostConfig{HostName: "gpu9", User: "fallback", IdentityFiles: []string{home + "/.ssh/id_fallback"}}},
		{"lab-a", hostConfig{HostName: "lab-a", User: "labuser", ProxyJump: "bastion.example.org", IdentityFiles: []string{home + "/.ssh/id_labuser"}}},
	} {
		got := cfg.lookup(tc.host, home, "me")
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.host, got, tc.want)
		}
	}
	if _, err := readSSHConfig(filepath.Join(home, "missing"), home); err != nil {
		t.Fatalf("a missing config is an error: %v", err)
	}
}

func TestResolveTarget(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(`
Host box
  HostName 10.0.0.5
  User cfguser
  Port 2200
  ProxyJump jumper@hop1:2201,hop2
Host hop2
  HostName 10.0.0.9
  ProxyJump ignored-for-later-hops
`), 0o600)
	k := &kind{pool: newConnPool(), home: home}
	r, err := k.resolver(providers.Env{Dir: "/project"})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := r.target("box", settings{keyFile: "keys/id", knownHosts: "~/kh"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Host != "10.0.0.5" || tg.User != "cfguser" || tg.Port != 2200 {
		t.Errorf("target %+v", tg)
	}
	if !reflect.DeepEqual(tg.KeyFiles, []string{"/project/keys/id"}) || !reflect.DeepEqual(tg.KnownHostsFiles, []string{home + "/kh"}) {
		t.Errorf("files %q %q", tg.KeyFiles, tg.KnownHostsFiles)
	}
	// box via hop2 via hop1.
	if tg.Jump == nil || tg.Jump.Host != "10.0.0.9" || tg.Jump.Jump == nil || tg.Jump.Jump.Host != "hop1" ||
		tg.Jump.Jump.User != "jumper" || tg.Jump.Jump.Port != 2201 || tg.Jump.Jump.Jump != nil {
		t.Errorf("jump chain: %s", tg)
	}
	// The configuration's attributes win over ~/.ssh/config.
	tg, err = r.target("ops@box:2300", settings{user: "ignored"}, 0)
	if err != nil || tg.User != "ops" || tg.Port != 2300 {
		t.Errorf("entry %+v, %v", tg, err)
	}
	tg, err = r.target("box", settings{user: "hcl", port: 2400}, 0)
	if err != nil || tg.User != "hcl" || tg.Port != 2400 {
		t.Errorf("attributes %+v, %v", tg, err)
	}
}

func values(m map[string]cty.Value) providers.Values { return providers.Values(m) }

func TestValidate(t *testing.T) {
	fp := "SHA256:" + strings.Repeat("A", 43)
	for _, tc := range []struct {
		name string
		v    providers.Values
		want string // "" valid
	}{
		{"minimal", values(map[string]cty.Value{"host": cty.StringVal("gpu1")}), ""},
		{"all", values(map[string]cty.Value{"host": cty.StringVal("ml@gpu1:2222"), "port": cty.NumberIntVal(22), "user": cty.StringVal("ml"),
			"private_key_file": cty.StringVal("~/.ssh/id"), "known_hosts_file": cty.StringVal("kh"), "host_key": cty.StringVal(fp),
			"workdir": cty.StringVal("/scratch"), "max_runs": cty.NumberIntVal(4), "gpus": cty.NumberIntVal(8), "connect_timeout": cty.StringVal("5s")}), ""},
		{"pool", values(map[string]cty.Value{"hosts": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b:2222"), cty.StringVal("[::1]:22")})}), ""},
		{"no host", values(map[string]cty.Value{"port": cty.NumberIntVal(22)}), "needs the machine"},
		{"both", values(map[string]cty.Value{"host": cty.StringVal("a"), "hosts": cty.ListVal([]cty.Value{cty.StringVal("b")})}), "not both"},
		{"empty pool", values(map[string]cty.Value{"hosts": cty.ListValEmpty(cty.String)}), "at least one"},
		{"duplicate", values(map[string]cty.Value{"hosts": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("a")})}), "twice"},
		{"option-like host", values(map[string]cty.Value{"host": cty.StringVal("-oProxyCommand=x")}), "not a host name"},
		{"spaces", values(map[string]cty.Value{"host": cty.StringVal("a b")}), "not a host name"},
		{"bad port", values(map[string]cty.Value{"host": cty.StringVal("a"), "port": cty.NumberIntVal(70000)}), "from 1 to 65535"},
		{"bad entry port", values(map[string]cty.Value{"host": cty.StringVal("a:0")}), "port must be"},
		{"bad user", values(map[string]cty.Value{"host": cty.StringVal("a"), "user": cty.StringVal("a b")}), "login name"},
		{"bad fingerprint", values(map[string]cty.Value{"host": cty.StringVal("a"), "host_key": cty.StringVal("MD5:aa")}), "SHA256 fingerprint"},
		{"zero max_runs", values(map[string]cty.Value{"host": cty.StringVal("a"), "max_runs": cty.NumberIntVal(0)}), "max_runs"},
		{"bad timeout", values(map[string]cty.Value{"host": cty.StringVal("a"), "connect_timeout": cty.StringVal("soon")}), "duration"},
		{"unknown is fine", values(map[string]cty.Value{"host": cty.UnknownVal(cty.String)}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := (&kind{}).Validate(tc.v)
			if tc.want == "" {
				if len(problems) > 0 {
					t.Fatalf("problems: %+v", problems)
				}
				return
			}
			var all []string
			for _, p := range problems {
				all = append(all, p.Detail)
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("problems %q, want %q", all, tc.want)
			}
		})
	}
}

func TestUntarRefusesEscapes(t *testing.T) {
	type entry struct {
		name, link string
		typ        byte
	}
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"dotdot", []entry{{name: "../x", typ: tar.TypeReg}}},
		{"absolute", []entry{{name: "/tmp/x", typ: tar.TypeReg}}},
		{"inner dotdot", []entry{{name: "a/../../x", typ: tar.TypeReg}}},
		{"through a link", []entry{{name: "l", link: "OUTSIDE", typ: tar.TypeSymlink}, {name: "l/x", typ: tar.TypeReg}}},
		{"through a relative link", []entry{{name: "l", link: "..", typ: tar.TypeSymlink}, {name: "l/x", typ: tar.TypeReg}}},
		{"dir without parent", []entry{{name: "nodir/x", typ: tar.TypeReg}}},
		{"hard link outside", []entry{{name: "h", link: "../../etc/passwd", typ: tar.TypeLink}}},
		{"hard link to a link", []entry{{name: "l", link: "/etc/passwd", typ: tar.TypeSymlink}, {name: "h", link: "l", typ: tar.TypeLink}}},
		{"file over dir", []entry{{name: "d", typ: tar.TypeDir}, {name: "d", typ: tar.TypeReg}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir() // a directory of the test's own that a link leads to
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, e := range tc.entries {
				if e.link == "OUTSIDE" {
					e.link = outside
				}
				h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644}
				if e.typ == tar.TypeReg {
					h.Size = 1
				}
				tw.WriteHeader(h)
				if e.typ == tar.TypeReg {
					tw.Write([]byte("x"))
				}
			}
			tw.Close()
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			if err := untar(context.Background(), &buf, dst, true, nil); err == nil {
				t.Fatal("accepted")
			}
			// Nothing was written beside dst.
			ents, _ := os.ReadDir(parent)
			if len(ents) != 1 {
				t.Fatalf("%d entries beside dst", len(ents))
			}
			if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
				t.Fatal("wrote through the link")
			}
		})
	}
}

func TestParseFacts(t *testing.T) {
	f := parseFacts("os=Linux\nkernel=6.1.0\narch=x86_64\ndistro=Debian GNU/Linux 12 (bookworm)\ncpus=2\nmemory_kib=24684356\n" +
		"gpu=NVIDIA A100-SXM4-80GB, 81920 MiB\ngpu=NVIDIA A100-SXM4-80GB, 81920 MiB\nhome=/home/x\ngarbage\n")
	want := providers.HostFacts{OS: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0", Arch: "x86_64", CPUs: 2, Memory: 24684356 * 1024,
		GPUs: []string{"NVIDIA A100-SXM4-80GB, 81920 MiB", "NVIDIA A100-SXM4-80GB, 81920 MiB"}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v", f)
	}
}

// FuzzStartScript runs the script Start sends, here with the local sh, and
// checks that the command and its environment arrive byte-exact: every
// value passes through executor.Quote.
func FuzzStartScript(f *testing.F) {
	if _, err := exec.LookPath("setsid"); err != nil {
		f.Skip("no setsid")
	}
	for _, s := range hostile {
		f.Add(s, s+"2")
	}
	f.Add("\xff\xfe", "'\"'\"'")
	f.Fuzz(func(t *testing.T, arg, val string) {
		if strings.IndexByte(arg, 0) >= 0 || strings.IndexByte(val, 0) >= 0 {
			return
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		argv := []string{"sh", "-c", `{ printf '%s\0' "$@"; printf '%s\0' "$V"; } >"$0.tmp" && mv "$0.tmp" "$0"`, out, arg, "x" + arg}
		script, err := startScript(dir, argv, []string{"V=" + val, "PATH=" + os.Getenv("PATH")})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-s")
		cmd.Stdin = strings.NewReader(script)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		deadline := time.Now().Add(10 * time.Second)
		var got []byte
		for time.Now().Before(deadline) {
			if got, err = os.ReadFile(out); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		want := arg + "\x00x" + arg + "\x00" + val + "\x00"
		if string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func TestMaterializeShQuotes(t *testing.T) {
	list := []putFile{{path: "a b/$(x)", mode: "644", hash: strings.Repeat("a", 64)}, {path: "l", link: true, target: "'; rm -rf ~"}}
	s := materializeSh("/w/it's", "/c", list)
	for _, want := range []string{`cd '/w/it'\''s'`, `mkdir -- 'a b'`, `cp -- /c/aa/` + strings.Repeat("a", 62) + ` './a b/$(x)'`, `ln -s -- ''\''; rm -rf ~' ./l`} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	names := []string{}
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "cd,chmod,cp,ln,mkdir,set,umask" {
		t.Errorf("commands: %v", names)
	}
}

func TestPoolPlacement(t *testing.T) {
	c := &Compute{name: "lab", s: settings{maxRuns: 2, gpus: 2}, changed: make(chan struct{})}
	a, b := &member{c: c, host: "a", gpus: -1}, &member{c: c, host: "b", gpus: -1}
	c.members = []*member{a, b}
	if c.Slots() != 4 || c.GPUs(t.Context()) != 4 {
		t.Fatalf("slots %d, gpus %d", c.Slots(), c.GPUs(t.Context()))
	}
	ctx := context.Background()
	place := func(n int, wantHost string, wantGPUs string) {
		t.Helper()
		m, gpus, err := c.place(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if m.host != wantHost || fmt.Sprint(gpus) != wantGPUs {
			t.Fatalf("placed on %s %v, want %s %s", m.host, gpus, wantHost, wantGPUs)
		}
	}
	place(2, "a", "[0 1]")
	place(2, "b", "[0 1]") // a has no free GPU left
	place(0, "a", "[]")
	place(0, "b", "[]")
	if _, _, err := c.place(ctx, 3); err == nil || !strings.Contains(err.Error(), "no machine") {
		t.Fatalf("3 GPUs: %v", err)
	}
	// Full: the next placement waits until a run ends.
	got := make(chan string)
	go func() {
		m, _, err := c.place(ctx, 1)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- m.host
	}()
	select {
	case h := <-got:
		t.Fatalf("placed on a full pool: %s", h)
	case <-time.After(50 * time.Millisecond):
	}
	c.unplace(b, []int{1})
	if h := <-got; h != "b" {
		t.Fatalf("placed on %s after b freed a slot", h)
	}
	ctx2, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := c.place(ctx2, 0); err == nil {
		t.Fatal("placed on a full pool")
	}
}
