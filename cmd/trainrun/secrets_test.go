package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// secret is the value of the sensitive variable: long and odd enough to be
// found nowhere by chance.
const secret = "Zq9-s3cr3t-Xw7K"

const secretConfig = `
variable "token" {
  type      = string
  sensitive = true
}

compute "local" "here" {
  max_runs = 2
}

experiment "train" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "train.sh", var.token]
  env        = { TOKEN = var.token, WRAPPED = "pre-${var.token}-post" }
}

# Prints the secret and fails on its first attempt; the retry succeeds.
experiment "flaky" {
  compute    = compute.here
  source_dir = "src"
  retries    = 1
  retry_backoff = "0s"
  command    = ["sh", "flaky.sh"]
  env        = { TOKEN = var.token }
}

# Prints the secret and fails: apply shows the end of its log.
experiment "fails" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "fails.sh"]
  env        = { TOKEN = var.token }
}

# Prints the secret, then waits for go.txt.
experiment "live" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "live.sh", path.root]
  env        = { TOKEN = var.token }
}
`

var secretFiles = map[string]string{
	"trainrun.hcl": secretConfig,
	"src/train.sh": `echo "arg=$1"
echo "env=$TOKEN"
echo "wrapped=$WRAPPED"
echo '{"name":"loss","value":0.5}' >> "$TRAINRUN_METRICS_FILE"
echo ok > "$TRAINRUN_OUTPUTS_DIR/model.txt"
`,
	"src/flaky.sh": `echo "attempt $TRAINRUN_ATTEMPT token=$TOKEN"
test "$TRAINRUN_ATTEMPT" -ge 2
`,
	"src/fails.sh": `echo "about to fail with $TOKEN"
exit 3
`,
	"src/live.sh": `echo "live token=$TOKEN"
touch "$1/started.txt"
while [ ! -f "$1/go.txt" ] && [ -d "$1" ]; do sleep 0.02; done
`,
}

// TestSensitiveNeverShown gives a sensitive variable through
// TRAINRUN_VAR_token and through -var, uses it in runs' commands and env,
// has the runs print it, and checks that it appears in no output of any
// command and in no file under .trainrun/ (nor in a saved plan), while
// apply and logs show "(sensitive)" where the runs printed it.
func TestSensitiveNeverShown(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string // how the secret is given
		args []string // added to plan and apply
	}{
		{name: "env", env: []string{"TRAINRUN_VAR_token=" + secret}},
		{name: "var", args: []string{"-var", "token=" + secret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t, secretFiles)
			s := &secretChecker{t: t, p: p}
			with := func(args ...string) []string { return append(args, tc.args...) }

			s.must(0, tc.env, with("validate")...)
			s.must(2, tc.env, with("plan", "-detailed-exitcode", "-out", ".trainrun/saved.plan", "-exclude", "experiment.live")...)
			s.must(2, tc.env, with("plan", "-json", "-detailed-exitcode")...)
			s.must(0, tc.env, with("graph")...)

			// Three runs at once: only a failed run's log tail is shown.
			res := s.must(1, tc.env, with("apply", ".trainrun/saved.plan")...)
			s.shows(res, "about to fail with (sensitive)")
			s.shows(res, "Apply complete: 2 succeeded, 1 failed, 0 cancelled.")

			// One run: its log is streamed.
			res = s.must(0, tc.env, with("apply", "-auto-approve", "-replace", "experiment.train", "-target", "experiment.train")...)
			s.shows(res, "arg=(sensitive)")
			s.shows(res, "env=(sensitive)")
			s.shows(res, "wrapped=(sensitive)")
			res = s.must(1, tc.env, with("apply", "-json", "-auto-approve", "-target", "experiment.fails")...)
			s.shows(res, `about to fail with (sensitive)`)

			for _, env := range [][]string{tc.env, nil} { // also where the secret is not known
				s.must(0, env, "status")
				s.must(0, env, "status", "-json")
				s.must(0, env, "runs")
				s.must(0, env, "runs", "-json")
				for _, x := range []string{"experiment.train", "experiment.flaky", "experiment.fails"} {
					s.must(0, env, "show", x)
					s.must(0, env, "show", "-json", x)
					s.must(0, env, "logs", x)
					s.must(0, env, "logs", "-f", x)
				}
				s.shows(s.must(0, env, "logs", "experiment.train"), "arg=(sensitive)")
				s.shows(s.must(0, env, "logs", "experiment.flaky"), "attempt 2 token=(sensitive)")
				s.shows(s.must(0, env, "logs", "experiment.fails"), "about to fail with (sensitive)")
			}
			s.noSecretUnder(".trainrun")

			// A live run: its log as it is written holds the secret in
			// clear (the run writes it), but no command shows it.
			apply := p.command(tc.env, with("apply", "-auto-approve", "-target", "experiment.live")...)
			var out syncBuffer
			apply.Stdout, apply.Stderr = &out, &out
			if err := apply.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { _ = apply.Wait(); close(exited) }()
			defer func() {
				p.write("go.txt", "")
				_ = apply.Process.Kill()
				<-exited
			}()
			if !waitFor(30*time.Second, func() bool { _, err := os.Stat(p.path("started.txt")); return err == nil }) {
				t.Fatalf("the live run did not start:\n%s", out.String())
			}
			known := []string{"TRAINRUN_VAR_token=" + secret} // logs takes no -var
			s.shows(s.must(0, known, "logs", "experiment.live"), "live token=(sensitive)")
			// Without the secret the log cannot be redacted: it is not shown.
			for _, args := range [][]string{{"logs", "experiment.live"}, {"logs", "-f", "experiment.live"}} {
				if res := s.must(1, nil, args...); !strings.Contains(res.stderr, "was given sensitive values and its log is not collected yet") {
					t.Errorf("want a refusal that says why:\n%s", res)
				}
			}
			s.must(0, tc.env, "status")

			// Killed: the run goes on, unrecorded. Cancelled by a trainrun
			// that cannot load the configuration (the secret is not given):
			// it must neither fail nor store the log in clear.
			_ = apply.Process.Signal(syscall.SIGKILL)
			<-exited
			s.noSecretIn("apply", out.String())
			s.shows(s.must(0, nil, "cancel", "experiment.live"), "Cancelled run")
			// The next apply, which knows the secret, records how it ended.
			s.must(0, tc.env, with("apply", "-auto-approve", "-target", "experiment.train")...)
			for _, st := range p.status(nil) {
				if want := map[string]string{"experiment.live": "cancelled", "experiment.fails": "failed"}[st.Address]; want != "" && st.Status != want || want == "" && st.Status != "succeeded" {
					t.Errorf("%s is %s", st.Address, st.Status)
				}
			}
			s.shows(s.must(0, nil, "logs", "experiment.live"), "live token=(sensitive)")
			s.noSecretUnder(".trainrun")
		})
	}
}

// TestSensitiveNotInDiagnostics: a wrong configuration, or a wrong value
// for the sensitive variable, is reported without the value.
func TestSensitiveNotInDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		env    []string
		args   []string
		want   string // in stderr
	}{
		{
			name:   "not a number, from the environment",
			config: "variable \"token\" {\n  type      = number\n  sensitive = true\n}\n",
			env:    []string{"TRAINRUN_VAR_token=" + secret},
			want:   "TRAINRUN_VAR_token is not a valid number",
		},
		{
			name:   "not a number, from -var",
			config: "variable \"token\" {\n  type      = number\n  sensitive = true\n}\n",
			args:   []string{"-var", "token=" + secret},
			want:   "-var token is not a valid number",
		},
		{
			name:   "used where a number is needed",
			config: secretConfig + "\nexperiment \"bad\" {\n  compute = compute.here\n  shell   = \"echo ${tonumber(var.token)}\"\n}\n",
			env:    []string{"TRAINRUN_VAR_token=" + secret},
			want:   `(sensitive)`,
		},
		{
			name:   "a bad timeout",
			config: secretConfig + "\nexperiment \"bad\" {\n  compute = compute.here\n  shell   = \"true\"\n  timeout = var.token\n}\n",
			args:   []string{"-var", "token=" + secret},
			want:   "timeout",
		},
		{
			name:   "given under a misspelt name as well",
			config: secretConfig,
			args:   []string{"-var", "token=" + secret, "-var", "tokn=" + secret},
			want:   `Did you mean "token"?`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t, map[string]string{"trainrun.hcl": tc.config, "src/train.sh": "true\n"})
			s := &secretChecker{t: t, p: p}
			for _, cmd := range [][]string{{"validate"}, {"validate", "-json"}, {"plan"}, {"plan", "-json"}, {"apply", "-auto-approve"}} {
				if cmd[0] == "validate" && len(tc.args) > 0 {
					continue // validate takes no -var
				}
				res := s.must(1, tc.env, append(cmd, tc.args...)...)
				if !strings.Contains(res.stderr+res.stdout, tc.want) {
					t.Errorf("want %q in the diagnostics of %s", tc.want, res)
				}
			}
			if _, err := os.Stat(p.path(".trainrun/runs")); err == nil {
				t.Errorf("a run was made although the configuration has errors")
			}
			s.noSecretUnder(".")
		})
	}
}

// secretChecker runs commands and checks that none shows the secret.
type secretChecker struct {
	t *testing.T
	p *project
}

func (s *secretChecker) run(env []string, args ...string) result {
	s.t.Helper()
	res := s.p.run(env, args...)
	s.noSecretIn("trainrun "+strings.Join(redactArgs(args), " "), res.stdout+res.stderr)
	return res
}

func (s *secretChecker) must(code int, env []string, args ...string) result {
	s.t.Helper()
	res := s.run(env, args...)
	if res.code != code {
		s.t.Fatalf("want exit %d from trainrun %s: exit %d\nstdout:\n%s\nstderr:\n%s", code, strings.Join(redactArgs(args), " "), res.code, res.stdout, res.stderr)
	}
	return res
}

// shows fails unless the command's output has want.
func (s *secretChecker) shows(res result, want string) {
	s.t.Helper()
	if !strings.Contains(res.stdout, want) {
		s.t.Errorf("trainrun %s: want %q in its output:\n%s", strings.Join(redactArgs(res.args), " "), want, res.stdout)
	}
}

func (s *secretChecker) noSecretIn(what, text string) {
	s.t.Helper()
	if strings.Contains(text, secret) {
		s.t.Errorf("%s shows the secret:\n%s", what, text)
	}
}

// noSecretUnder reads every file below dir (symlinks as links) and fails
// for each that holds the secret, in its name or its content.
func (s *secretChecker) noSecretUnder(dir string) {
	s.t.Helper()
	n := 0
	err := filepath.WalkDir(s.p.path(dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(path, secret) {
			s.t.Errorf("%s: the secret is in the path", path)
		}
		var data []byte
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			data = []byte(target)
		case d.Type().IsRegular():
			if data, err = os.ReadFile(path); err != nil {
				return err
			}
			n++
		}
		if bytes.Contains(data, []byte(secret)) {
			rel, _ := filepath.Rel(s.p.dir, path)
			s.t.Errorf("%s holds the secret", rel)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	if n == 0 {
		s.t.Fatalf("no files under %s: the check checked nothing", dir)
	}
}

// redactArgs keeps the secret out of the test's own messages.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, secret, "SECRET")
	}
	return out
}

// hostileConfig gives a python3 run a secret with both quotes and
// non-ASCII characters, has another sensitive variable no experiment uses,
// and one too short to be redacted.
const hostileConfig = `
variable "pw" {
  type      = string
  sensitive = true
}
variable "unused" {
  type      = string
  sensitive = true
}
variable "short" {
  type      = string
  sensitive = true
}

compute "local" "here" {}

experiment "leak" {
  compute    = compute.here
  source_dir = "src"
  command    = ["python3", "leak.py", var.pw, var.short]
  env        = { PW = var.pw }
  params     = { pw = var.pw, lr = 0.1 }
}
`

// leakPy prints its secret in the ways a Python run prints what it was
// given, then lines that hold the other sensitive values by chance.
const leakPy = `import json, os, shlex, sys, urllib.parse
s, b = sys.argv[1], os.environb[b"PW"]
for x in [sys.argv, repr(s), repr(b), [b], {"pw": s}, json.dumps(s), json.dumps({"pw": s}, ensure_ascii=False),
          shlex.quote(s), repr(shlex.quote(s)), urllib.parse.quote(b), urllib.parse.quote_plus(b), ascii(s)]:
    print("form:", x)
print("epoch 10 of the run, the epoch count")
`

// TestHostileSecretsThroughPython: a real python3 run prints a secret with
// ' and " and non-ASCII characters quoted and escaped in every way it
// likes; apply's output, logs and the stored log show none of them. Only
// the secrets the run received are redacted, once: the value of a sensitive
// variable no experiment uses ("epoch") and one too short to hide ("e",
// which the loader warns about) leave "epoch 10" alone. A sensitive param
// shows as "(sensitive)", not encoded twice.
func TestHostileSecretsThroughPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	const mark = "Zq9" // in the secret, nowhere else
	p := newProject(t, map[string]string{"trainrun.hcl": hostileConfig, "src/leak.py": leakPy})
	env := []string{"TRAINRUN_VAR_pw=It's \"Zq9\"-quoted pässwörd", "TRAINRUN_VAR_unused=epoch", "TRAINRUN_VAR_short=e"}
	clean := func(what, out string) {
		t.Helper()
		if strings.Contains(out, mark) {
			t.Errorf("%s shows the secret:\n%s", what, out)
		}
		if strings.Contains(out, "(sensitive)poch") || strings.Contains(out, "(s(sensitive)") {
			t.Errorf("%s redacted what the run was not given, or twice:\n%s", what, out)
		}
	}
	res := p.must(0, env, "validate")
	if out := res.stdout + res.stderr; !strings.Contains(out, "Sensitive value too short to redact") || !strings.Contains(out, "var.short") {
		t.Errorf("validate does not warn about the short secret:\n%s", out)
	}
	res = p.must(0, env, "apply", "-auto-approve")
	clean("apply", res.stdout+res.stderr)
	if n := strings.Count(res.stdout, "form: "); n != 12 || strings.Count(res.stdout, "(sensitive)") < n {
		t.Errorf("apply streamed %d forms; want 12, each redacted:\n%s", n, res.stdout)
	}
	for range 2 {
		res = p.must(0, env, "logs", "experiment.leak")
		clean("logs", res.stdout)
		if !strings.Contains(res.stdout, "epoch 10 of the run, the epoch count") {
			t.Errorf("logs changed what holds no secret the run was given:\n%s", res.stdout)
		}
	}
	logs, _ := filepath.Glob(p.path(".trainrun/runs/*/log"))
	if len(logs) != 1 {
		t.Fatalf("want one stored log, got %q", logs)
	}
	stored, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	clean("the stored log", string(stored))

	res = p.must(0, env, "status", "-json")
	clean("status -json", res.stdout)
	if !strings.Contains(res.stdout, `"pw":"(sensitive)"`) && !strings.Contains(res.stdout, `"pw": "(sensitive)"`) {
		t.Errorf("status -json does not show the param as \"(sensitive)\":\n%s", res.stdout)
	}
	res = p.must(0, env, "show", "experiment.leak")
	clean("show", res.stdout)
	if !strings.Contains(res.stdout, `pw = "(sensitive)"`) || strings.Contains(res.stdout, `\"(sensitive)\"`) {
		t.Errorf("show does not show the param as \"(sensitive)\":\n%s", res.stdout)
	}
}
