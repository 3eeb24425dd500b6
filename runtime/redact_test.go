package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/trainrun/trainrun/lang"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/local"
)

func TestRedactStream(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"none", "hello\n", []string{"s3cr3t"}, "hello\n"},
		{"no secrets", "s3cr3t\n", nil, "s3cr3t\n"},
		{"empty secret ignored", "abc", []string{""}, "abc"},
		{"one", "token=s3cr3t\n", []string{"s3cr3t"}, "token=(sensitive)\n"},
		{"twice on a line", "s3cr3t s3cr3t", []string{"s3cr3t"}, "(sensitive) (sensitive)"},
		{"at the very end", "x s3cr3t", []string{"s3cr3t"}, "x (sensitive)"},
		{"adjacent", "s3cr3ts3cr3t", []string{"s3cr3t"}, "(sensitive)(sensitive)"},
		{"longest at a position wins", "pre-s3cr3t-post", []string{"s3cr3t", "pre-s3cr3t-post"}, "(sensitive)"},
		{"two secrets", "a=one b=two", []string{"one", "two"}, "a=(sensitive) b=(sensitive)"},
		{"multi-line secret", "key:\nBEGIN\nabc\nEND\n", []string{"BEGIN\nabc\nEND"}, "key:\n(sensitive)\n"},
		{"partial is kept", "s3cr3", []string{"s3cr3t"}, "s3cr3"},
		{"quoted", `got "p\"a\\ss" and {"k": "p\"a\\ss"}`, []string{`p"a\ss`}, `got "(sensitive)" and {"k": "(sensitive)"}`},
		{"quoted non-ASCII", `'p\u00e4ss' "päss"`, []string{"päss"}, `'(sensitive)' "(sensitive)"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, and one byte per read: a secret split across reads
			// must be found too.
			var out bytes.Buffer
			if err := redactStream(&out, strings.NewReader(tc.in), tc.secrets); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
			out.Reset()
			if err := redactStream(&out, iotest.OneByteReader(strings.NewReader(tc.in)), tc.secrets); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("one byte at a time: got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

// TestRedactStreamLarge redacts inputs larger than the read buffer, read in
// odd sizes, and compares with lang.Redact on the whole text.
func TestRedactStreamLarge(t *testing.T) {
	secrets := []string{"Zq9-s3cr3t-Xw7K", "another secret value", "x\ny"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		var b strings.Builder
		for b.Len() < 300<<10 {
			switch rng.IntN(4) {
			case 0:
				b.WriteString(secrets[rng.IntN(len(secrets))])
			default:
				b.WriteString(strings.Repeat("ab\n"[rng.IntN(3):][:1], rng.IntN(200)))
			}
		}
		in := b.String()
		var out bytes.Buffer
		r := iotest.HalfReader(strings.NewReader(in))
		if i%2 == 0 {
			r = iotest.DataErrReader(strings.NewReader(in))
		}
		if err := redactStream(&out, r, secrets); err != nil {
			t.Fatal(err)
		}
		if want := lang.Redact(in, secrets); out.String() != want {
			t.Fatalf("input %d: the stream differs from lang.Redact (%d bytes against %d)", i, out.Len(), len(want))
		}
	}
}

func TestRedactFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	if err := os.WriteFile(path, []byte("token=s3cr3t\nok\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := redactFile(path, []string{"s3cr3t"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "token=(sensitive)\nok\n" {
		t.Errorf("got %q", got)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode after redaction: %v, %v; want 0640", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files left in the directory; want only the log", len(entries))
	}
	if err := redactFile(filepath.Join(dir, "missing"), []string{"s3cr3t"}); err != nil {
		t.Errorf("missing file: %v", err)
	}
}

// leakyKind is the local kind whose Submit fails quoting the run's
// environment, as a careless compute error might.
type leakyKind struct{}

func (leakyKind) Schema() providers.Schema                        { return local.Kind().Schema() }
func (leakyKind) Validate(v providers.Values) []providers.Problem { return local.Kind().Validate(v) }
func (leakyKind) Open(name string, v providers.Values, env providers.Env) (providers.Compute, error) {
	c, err := local.Kind().Open(name, v, env)
	return leakyCompute{c}, err
}

type leakyCompute struct{ providers.Compute }

func (leakyCompute) Submit(ctx context.Context, spec *providers.RunSpec) (providers.Handle, error) {
	return providers.Handle{}, fmt.Errorf("refused %q with env %v", spec.RunID, spec.Env)
}

// TestComputeErrorsAreRedacted: what a compute says about a failure goes to
// events and state with secrets hidden.
func TestComputeErrorsAreRedacted(t *testing.T) {
	const secret = `hunter2"\x`
	p := newProject(t, oneExperiment)
	p.reg.Computes["leaky"] = leakyKind{}
	p.write("trainrun.hcl", `
variable "token" {
  sensitive = true
}
compute "leaky" "here" {}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["true"]
  env        = { TOKEN = var.token }
}
`)
	cfg, diags := lang.Load(p.dir, lang.Options{Vars: []string{"token=" + secret}, Getenv: func(string) string { return "" }, Registry: p.reg})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p.rt.Config = cfg
	p.rt.Computes = NewComputes(cfg, p.reg, p.rt.Computes.env)
	res, err := p.rt.Apply(context.Background(), p.plan(cfg), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 1 {
		t.Fatalf("result %+v", res)
	}
	p.events.mu.Lock()
	defer p.events.mu.Unlock()
	reasons := ""
	for _, ev := range p.events.events {
		reasons += ev.Reason + ev.Message
	}
	if !strings.Contains(reasons, "refused") {
		t.Fatalf("the compute's error is not shown: %q", reasons)
	}
	for _, run := range p.st.Runs() {
		reasons += run.Reason
	}
	if strings.Contains(reasons, "hunter2") {
		t.Fatalf("a secret in clear: %q", reasons)
	}
}

// stuckLogKind is the local kind whose followed log never ends, as a
// stream on a connection that went away.
type stuckLogKind struct{}

func (stuckLogKind) Schema() providers.Schema                        { return local.Kind().Schema() }
func (stuckLogKind) Validate(v providers.Values) []providers.Problem { return local.Kind().Validate(v) }
func (stuckLogKind) Open(name string, v providers.Values, env providers.Env) (providers.Compute, error) {
	c, err := local.Kind().Open(name, v, env)
	return stuckLogCompute{c}, err
}

type stuckLogCompute struct{ providers.Compute }

func (stuckLogCompute) Log(ctx context.Context, h providers.Handle, follow bool) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "first line\n")
		<-ctx.Done()
		pw.CloseWithError(ctx.Err())
	}()
	return pr, nil
}

// TestLogStreamCutShortSaysSo: when apply stops showing a run's log some
// seconds after the run ended, it says so and where the rest is.
func TestLogStreamCutShortSaysSo(t *testing.T) {
	p := newProject(t, oneExperiment)
	p.reg.Computes["stuck"] = stuckLogKind{}
	p.write("trainrun.hcl", `
compute "stuck" "here" {}
experiment "a" {
  compute    = compute.here
  source_dir = "src"
  command    = ["true"]
}
`)
	cfg, diags := lang.Load(p.dir, lang.Options{Getenv: func(string) string { return "" }, Registry: p.reg})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p.rt.Config = cfg
	p.rt.Computes = NewComputes(cfg, p.reg, p.rt.Computes.env)
	res, err := p.rt.Apply(context.Background(), p.plan(cfg), Options{StreamLogs: true})
	if err != nil || res.Succeeded != 1 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	p.events.mu.Lock()
	defer p.events.mu.Unlock()
	var id string
	said := false
	for _, ev := range p.events.events {
		if ev.Type == RunFinished {
			id = ev.RunID
		}
		said = said || ev.Type == Warning && strings.Contains(ev.Message, "log continues: trainrun logs "+ev.RunID)
	}
	if !said || id == "" {
		t.Errorf("apply stopped showing the log of run %s without saying where it continues", id)
	}
}
