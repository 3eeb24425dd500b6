package slurm

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/trainrun/trainrun/internal/slurmtest"
	"github.com/trainrun/trainrun/internal/sshtest"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/ssh"
)

// The login node is another compute's machine, reached over SSH: sbatch,
// squeue and scancel run there as the SSH user, whose jobs they are, and
// run directories are made and collected over the same connection.
func TestLoginOverSSH(t *testing.T) {
	t.Parallel()
	slurmtest.Start(t)
	srv := sshtest.Start(t, sshtest.Options{})
	t.Cleanup(srv.Stop)
	u, err := user.Lookup(srv.User)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The shared workdir belongs to the SSH user, as on a cluster.
	shared, err := os.MkdirTemp("", "slurm-login-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chown(shared, uid, gid); err != nil {
		t.Fatal(err)
	}
	sshKind := ssh.Kind()
	loginValues := providers.Values{
		"host":             cty.StringVal(srv.Addr),
		"port":             cty.NumberIntVal(int64(srv.Port)),
		"user":             cty.StringVal(srv.User),
		"private_key_file": cty.StringVal(srv.KeyFile),
		"known_hosts_file": cty.StringVal(srv.KnownHostsFile),
	}
	var login providers.Compute
	env := providers.Env{Dir: t.TempDir()}
	env.OpenCompute = func(name string) (providers.Compute, error) {
		if login == nil {
			var err error
			if login, err = sshKind.Open(name, loginValues, env); err != nil {
				return nil, err
			}
		}
		return login, nil
	}
	comp, err := Kind().Open("cluster", providers.Values{"login": cty.StringVal("gw"), "workdir": cty.StringVal(shared)}, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		comp.Close()
		if login != nil {
			login.Close()
		}
		// What the test left in the queue under the SSH user (not the
		// jobs of this test in another test process: same user).
		cancelJobsIn(shared, "--user="+srv.User)
	})
	c := comp.(*Compute)
	c.o.PollMin, c.o.PollMax = 50*time.Millisecond, 500*time.Millisecond

	ctx := ctxFor(t, 2*time.Minute)
	one := newSpec(t, "login-one", map[string]string{"who.sh": `id -un > "$TRAINRUN_OUTPUTS_DIR/who"; echo "ran as $(id -un)"`}, "sh", "who.sh")
	h, err := c.Submit(ctx, one)
	if err != nil {
		t.Fatal(err)
	}
	if h.Host != "gw" {
		t.Errorf("handle host %q, want the login compute's name", h.Host)
	}
	st, err := c.Wait(ctx, h)
	if err != nil || st.State != providers.Succeeded {
		t.Fatalf("%+v %v\n%s", st, err, readLog(h))
	}
	dst := t.TempDir()
	if err := c.Collect(ctx, h, one, dst, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "outputs", "who")); strings.TrimSpace(string(b)) != srv.User {
		t.Errorf("the job ran as %q, want %q", b, srv.User)
	}
	// A sweep over SSH is one sbatch too.
	b := providers.Batch{Experiment: "sweep"}
	for i := range 3 {
		b.Specs = append(b.Specs, newSpec(t, "login-arr-"+strconv.Itoa(i), nil, "sh", "-c", "echo task $SLURM_ARRAY_TASK_ID"))
	}
	hs, err := c.SubmitBatch(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		if !strings.HasSuffix(h.ID, "_"+strconv.Itoa(i)) {
			t.Errorf("task %d: id %s", i, h.ID)
		}
		st, err := c.Wait(ctx, h)
		if err != nil || st.State != providers.Succeeded {
			t.Errorf("task %d: %+v %v\n%s", i, st, err, readLog(h))
		}
	}
	// Cancel goes through the login node too.
	held := newSpec(t, "login-held", nil, "true")
	c.o.SbatchArgs = []string{"--hold"}
	h, err = c.Submit(ctx, held)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, h); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(ctx, h); err != nil || st.State != providers.Cancelled {
		t.Errorf("cancelled over SSH: %+v %v", st, err)
	}
	if err := c.Remove(ctx, h); err != nil {
		t.Errorf("remove over SSH: %v", err)
	}
}
