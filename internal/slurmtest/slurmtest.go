// Package slurmtest runs a real one-node Slurm cluster on this machine for
// integration tests: munged, slurmctld and slurmd from Debian's slurm-wlm
// and munge packages, installed with apt-get when missing.
//
// The cluster is started once per test process and shared: by the tests of
// one binary, and by test binaries running at the same time (each holds a
// shared lock on it while it runs, taken and given up under one start lock
// with the checks below). Stop, called from TestMain, stops the daemons
// when no other process still uses them. A cluster left running by a
// process that died is detected and reused by the next Start; one that
// another process uses is never restarted (that would lose its jobs): a
// daemon that died is started again keeping the jobs, and a node that is
// down is resumed.
//
// When the cluster cannot be had (not root, no apt-get, no packages) the
// test is skipped with the reason, or fails when
// TRAINRUN_REQUIRE_INTEGRATION=1.
package slurmtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// T is what the helpers need of a test: *testing.T and *testing.B have it.
type T interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// Cluster is the running cluster: three slurmd on this machine, all with
// address 127.0.0.1. Node n0 serves the default partition; n1 and n2 the
// multi partition, for jobs of two nodes.
type Cluster struct {
	Dir       string // state, spool, logs and pid files
	Host      string // this machine's short name
	Node      string // the default partition's node
	Partition string // the default partition
	CPUs      int    // CPUs Node offers (more than the machine has: test jobs are tiny)
	// Multi is a partition of the two nodes MultiNodes.
	Multi      string
	MultiNodes []string
}

// Files and settings of the cluster.
const (
	// Dir holds everything the cluster writes. A fixed path, so that a
	// later process finds a cluster an earlier one left running.
	Dir       = "/tmp/trainrun-slurmtest"
	confPath  = "/etc/slurm/slurm.conf"
	confMark  = "# Written by trainrun's internal/slurmtest: it may overwrite this file."
	partition = "debug"
	// cpus are the CPUs the node declares: more than this machine has, so
	// that tests and benchmarks of tiny jobs run many at once
	// (SlurmdParameters=config_overrides lets slurmd accept it).
	cpus = 16
)

var (
	mu      sync.Mutex
	started *Cluster
	useLock *os.File // shared lock held while this process uses the cluster
	failed  error
)

// unavailable skips, or fails under TRAINRUN_REQUIRE_INTEGRATION=1.
func unavailable(t T, format string, args ...any) {
	t.Helper()
	msg := "slurmtest: " + fmt.Sprintf(format, args...)
	if os.Getenv("TRAINRUN_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg + " (TRAINRUN_REQUIRE_INTEGRATION=1)")
	}
	t.Skip(msg)
}

// Start returns the cluster, starting it on the first call of the process
// (or reusing one that is running). Later calls return the same cluster.
func Start(t T) *Cluster {
	t.Helper()
	if tb, ok := t.(testing.TB); ok && testing.Short() {
		tb.Skip("slurmtest: starts a Slurm cluster: not with -short (make test runs it)")
	}
	mu.Lock()
	defer mu.Unlock()
	if started != nil {
		return started
	}
	if failed != nil {
		unavailable(t, "%v", failed)
		return nil
	}
	c, err := start()
	if err != nil {
		failed = err
		unavailable(t, "%v", err)
		return nil
	}
	started = c
	return c
}

// Stop stops the daemons unless another process still uses the cluster.
// Call it from TestMain after m.Run.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if useLock == nil {
		return
	}
	defer func() {
		useLock.Close()
		useLock, started = nil, nil
	}()
	// Under the start lock, so that no process starting now takes its use
	// lock between this test and the stop: it takes it under the start
	// lock too. Converting the shared lock to an exclusive one succeeds
	// only when no other process holds it.
	_ = withStartLock(func() error {
		if syscall.Flock(int(useLock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			stopDaemons()
		}
		return nil
	})
}

func start() (*Cluster, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("running slurmctld, slurmd and munged needs root")
	}
	if err := ensureInstalled(); err != nil {
		return nil, err
	}
	host, err := shortHostname()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: Dir, Host: host, Node: "n0", Partition: partition, CPUs: cpus, Multi: "multi", MultiNodes: []string{"n1", "n2"}}
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(Dir, "use.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	err = withStartLock(func() error {
		conf := config(c)
		old, err := os.ReadFile(confPath)
		switch {
		case err == nil && !bytes.HasPrefix(old, []byte(confMark)):
			return fmt.Errorf("%s exists and was not written by slurmtest: not touching a real cluster's configuration", confPath)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			return err
		}
		if err := ensureMunge(); err != nil {
			return err
		}
		// The use lock is taken under the start lock, as Stop converts
		// it there: a cluster found running is not stopped under us.
		// Taken exclusively first, it says whether another test process
		// uses the cluster now.
		alone := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
			return err
		}
		if !alone {
			// Another process runs its tests on it: restarting
			// (slurmctld -c) would lose its jobs, even when it was
			// configured by another version of this package. A slurmd
			// that a busy machine left unresponding comes back; a
			// daemon that died is started again, keeping the jobs.
			return waitHealthy(c, 2*time.Minute)
		}
		if string(old) == conf && healthy(c) {
			return nil // left running by an earlier process
		}
		stopDaemons()
		if err := os.MkdirAll(filepath.Dir(confPath), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			return err
		}
		return startDaemons(c)
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	useLock = f
	return c, nil
}

// withStartLock serializes starting and stopping across processes. Holding
// it, a process waits for no one else's shared use lock: Stop only tries.
func withStartLock(f func() error) error {
	lf, err := os.OpenFile(filepath.Join(Dir, "start.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	return f()
}

// config is slurm.conf. Several slurmd on one host need a spool
// directory, pid file and port each (%n: the node's name), and node names
// other than the host's own.
func config(c *Cluster) string {
	mem := memoryMiB()
	var nodes strings.Builder
	for i, n := range c.nodes() {
		cpus, m := c.CPUs, mem
		if i > 0 {
			cpus, m = 2, min(mem, 1024)
		}
		fmt.Fprintf(&nodes, "NodeName=%s NodeHostname=%s NodeAddr=127.0.0.1 Port=%d CPUs=%d RealMemory=%d State=UNKNOWN\n",
			n, c.Host, firstPort+i, cpus, m)
	}
	return fmt.Sprintf(`%s
ClusterName=trainrun-test
SlurmctldHost=%[2]s
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=root
ReturnToService=2
MpiDefault=none
StateSaveLocation=%[3]s/state
SlurmdSpoolDir=%[3]s/spool/%%n
SlurmctldPidFile=%[3]s/slurmctld.pid
SlurmdPidFile=%[3]s/slurmd-%%n.pid
SlurmctldLogFile=%[3]s/slurmctld.log
SlurmdLogFile=%[3]s/slurmd-%%n.log
# Tests want quick scheduling, quick kills and many tiny jobs at once.
SchedulerParameters=sched_interval=1,bf_interval=1
SlurmdParameters=config_overrides
KillWait=2
DefMemPerCPU=64
# Finished jobs stay visible for an hour (peers that poll slowly, such as
# Snakemake without accounting, fail once a job they wait for is gone).
MinJobAge=3600
MaxJobCount=200000
%[4]sPartitionName=%[5]s Nodes=%[6]s Default=YES MaxTime=INFINITE State=UP
PartitionName=%[7]s Nodes=%[8]s MaxTime=INFINITE State=UP
`, confMark, c.Host, Dir, nodes.String(), c.Partition, c.Node, c.Multi, strings.Join(c.MultiNodes, ","))
}

// firstPort is the first node's slurmd port; the others follow.
const firstPort = 17100

func (c *Cluster) nodes() []string { return append([]string{c.Node}, c.MultiNodes...) }

// memoryMiB is what the node offers: three quarters of this machine's.
func memoryMiB() int {
	data, err := os.ReadFile("/proc/meminfo")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kib, err := strconv.Atoi(f[1]); err == nil && kib > 0 {
					return kib / 1024 * 3 / 4
				}
			}
		}
	}
	return 2048
}

func shortHostname() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", err
	}
	h, _, _ = strings.Cut(h, ".")
	if h == "" {
		return "", errors.New("this machine has no host name")
	}
	return h, nil
}

// healthy reports whether the cluster answers and its nodes can run jobs.
func healthy(c *Cluster) bool {
	if pidAlive(filepath.Join(Dir, "slurmctld.pid")) == 0 {
		return false
	}
	for _, n := range c.nodes() {
		if pidAlive(filepath.Join(Dir, "slurmd-"+n+".pid")) == 0 {
			return false
		}
	}
	states := nodeStates()
	for _, n := range c.nodes() {
		switch states[n] {
		case "idle", "mix", "alloc", "comp":
		default:
			return false
		}
	}
	return true
}

// waitHealthy waits until a cluster that other processes use can run
// jobs: it starts a daemon that is not running (slurmctld without -c, so
// that their jobs are kept) and resumes nodes that are down or drained.
func waitHealthy(c *Cluster, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if healthy(c) {
			return nil
		}
		if pidAlive(filepath.Join(Dir, "slurmctld.pid")) == 0 {
			if out, err := exec.Command("slurmctld").CombinedOutput(); err != nil {
				return fmt.Errorf("start slurmctld: %v: %s\n%s", err, out, tail(filepath.Join(Dir, "slurmctld.log")))
			}
		}
		for _, n := range c.nodes() {
			if pidAlive(filepath.Join(Dir, "slurmd-"+n+".pid")) == 0 {
				if out, err := exec.Command("slurmd", "-N", n).CombinedOutput(); err != nil {
					return fmt.Errorf("start slurmd %s: %v: %s\n%s", n, err, out, tail(filepath.Join(Dir, "slurmd-"+n+".log")))
				}
			}
		}
		for n, state := range nodeStates() {
			if strings.HasPrefix(state, "down") || strings.HasPrefix(state, "drain") || strings.HasPrefix(state, "fail") {
				_ = exec.Command("scontrol", "update", "nodename="+n, "state=resume").Run()
			}
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command("sinfo", "-N", "-l").CombinedOutput()
			return fmt.Errorf("the cluster, in use by another test process, did not become healthy within %v:\n%s", d, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// nodeStates is each node's state as sinfo says it ("idle", "mix*", …).
func nodeStates() map[string]string {
	out, err := exec.Command("sinfo", "-h", "-N", "-o", "%N %t").Output()
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	return m
}

func startDaemons(c *Cluster) error {
	for _, d := range []string{"state", "spool"} {
		if err := os.MkdirAll(filepath.Join(Dir, d), 0o755); err != nil {
			return err
		}
	}
	// -c: forget the jobs of an earlier cluster.
	if out, err := exec.Command("slurmctld", "-c").CombinedOutput(); err != nil {
		return fmt.Errorf("start slurmctld: %v: %s\n%s", err, out, tail(filepath.Join(Dir, "slurmctld.log")))
	}
	for _, n := range c.nodes() {
		if out, err := exec.Command("slurmd", "-N", n).CombinedOutput(); err != nil {
			return fmt.Errorf("start slurmd %s: %v: %s\n%s", n, err, out, tail(filepath.Join(Dir, "slurmd-"+n+".log")))
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if healthy(c) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, _ := exec.Command("sinfo", "-N", "-l").CombinedOutput()
	return fmt.Errorf("the nodes did not become idle within 30s:\n%s\n%s\n%s", out,
		tail(filepath.Join(Dir, "slurmctld.log")), tail(filepath.Join(Dir, "slurmd-"+c.Node+".log")))
}

// stopDaemons stops every slurmd and slurmctld whose pid file names a live
// process, and waits for them to exit. munged is left running: it holds
// nothing and other services may use it.
func stopDaemons() {
	files, _ := filepath.Glob(filepath.Join(Dir, "slurmd*.pid"))
	for _, f := range append(files, filepath.Join(Dir, "slurmctld.pid")) {
		pid := pidAlive(f)
		if pid == 0 {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil && !zombie(pid) {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil && !zombie(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// pidAlive returns the pid in file when that process is alive (and is a
// Slurm daemon), else 0.
func pidAlive(file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil || zombie(pid) {
		return 0
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil || !strings.HasPrefix(string(comm), "slurm") {
		return 0
	}
	return pid
}

func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && (data[i+2] == 'Z' || data[i+2] == 'X')
}

// ensureMunge writes a key when there is none and starts munged when
// credentials cannot be made.
func ensureMunge() error {
	if exec.Command("sh", "-c", "munge -n | unmunge").Run() == nil {
		return nil
	}
	u, err := user.Lookup("munge")
	if err != nil {
		return fmt.Errorf("munge user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	const key = "/etc/munge/munge.key"
	if _, err := os.Stat(key); errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 1024)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(key, b, 0o400); err != nil {
			return err
		}
		if err := os.Chown(key, uid, gid); err != nil {
			return err
		}
		_ = os.Chown(filepath.Dir(key), uid, gid)
	}
	for _, d := range []string{"/run/munge", "/var/lib/munge", "/var/log/munge"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	cmd := exec.Command("/usr/sbin/munged")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start munged: %v: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if exec.Command("sh", "-c", "munge -n | unmunge").Run() == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("munged started but credentials still fail")
}

var packages = map[string]string{
	"/usr/sbin/slurmctld": "slurm-wlm",
	"/usr/sbin/slurmd":    "slurm-wlm",
	"/usr/bin/sbatch":     "slurm-wlm",
	"/usr/sbin/munged":    "munge",
}

// ensureInstalled installs slurm-wlm and munge when missing, one install
// at a time across processes.
func ensureInstalled() error {
	missing := func() []string {
		var m []string
		seen := map[string]bool{}
		for path, pkg := range packages {
			if _, err := os.Stat(path); err != nil && !seen[pkg] {
				seen[pkg] = true
				m = append(m, pkg)
			}
		}
		return m
	}
	if len(missing()) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%s missing and there is no apt-get", strings.Join(missing(), ", "))
	}
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return err
	}
	return withStartLock(func() error {
		pkgs := missing()
		if len(pkgs) == 0 {
			return nil
		}
		install := func() error {
			cmd := exec.Command("apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600", "install", "-y", "-qq"}, pkgs...)...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("apt-get install %s: %v: %s", strings.Join(pkgs, " "), err, lastLines(out, 5))
			}
			return nil
		}
		if install() == nil {
			return nil
		}
		if out, err := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-qq").CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %v: %s", err, lastLines(out, 5))
		}
		return install()
	})
}

func tail(file string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	return lastLines(data, 10)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Squeue returns the output of squeue with args, for tests that look at
// the queue themselves.
func (c *Cluster) Squeue(args ...string) (string, error) {
	out, err := exec.Command("squeue", args...).CombinedOutput()
	return string(out), err
}

// Scontrol runs scontrol with args.
func (c *Cluster) Scontrol(args ...string) (string, error) {
	out, err := exec.Command("scontrol", args...).CombinedOutput()
	return string(out), err
}

// Requeue requeues job as a preempting scheduler does (scontrol requeue),
// then lets it start again at once, not after the hold Slurm puts on a
// requeued job (BeginTime, two minutes here), and returns.
//
// It releases the job only once Slurm can start it safely: when it is
// pending again (the first start has completed, so its node has revoked
// that start's credential) and the clock has passed the second the job
// ended in. A start in that same second gets a credential that is revoked
// too, and Slurm fails the job instead of starting it ("Job credential
// revoked"), which a test releasing the job at once sees under load.
func (c *Cluster) Requeue(job string, timeout time.Duration) error {
	if job == "" {
		return errors.New("requeue: no job id") // scontrol requeue "" does nothing, and says nothing
	}
	if out, err := exec.Command("scontrol", "requeue", job).CombinedOutput(); err != nil {
		return fmt.Errorf("scontrol requeue %s: %v: %s", job, err, out)
	}
	return c.Release(job, time.Now(), timeout)
}

// Release lets job, requeued at time requeued (after scontrol requeue
// returned), start again at once, as Requeue does.
func (c *Cluster) Release(job string, requeued time.Time, timeout time.Duration) error {
	deadline := requeued.Add(timeout)
	var state string
	left := false // seen other than running since the requeue
	for {
		out, err := exec.Command("squeue", "--noheader", "--states=all", "--jobs="+job, "--format=%T").CombinedOutput()
		state = strings.TrimSpace(string(out))
		switch {
		case err != nil:
		case state != "RUNNING":
			left = true
		case left:
			return nil // started again by itself
		}
		if err == nil && state == "PENDING" && time.Now().Unix() > requeued.Unix()+1 {
			out, err := exec.Command("scontrol", "update", "jobid="+job, "StartTime=now").CombinedOutput()
			if err == nil {
				return nil
			}
			state = fmt.Sprintf("scontrol update: %v: %s", err, out)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("requeued job %s was not released within %v: %s", job, timeout, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
