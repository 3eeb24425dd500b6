// Package slurmtest runs a real one-node Slurm cluster on this machine for
// integration tests: munged, slurmctld and slurmd from Debian's slurm-wlm
// and munge packages, installed with apt-get when missing.
//
// The cluster is started once per test process and shared: by the tests of
// one binary, and by test binaries running at the same time (each holds a
// shared lock on it while it runs). Stop, called from TestMain, stops the
// daemons when no other process still uses them. A cluster left running by
// a process that died is detected and reused by the next Start.
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
	// Converting the shared lock to an exclusive one succeeds only when no
	// other process holds it.
	if syscall.Flock(int(useLock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return
	}
	_ = withStartLock(func() error {
		stopDaemons()
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
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(Dir, "use.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
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
	out, err := exec.Command("sinfo", "-h", "-N", "-o", "%N %t").Output()
	if err != nil {
		return false
	}
	ok := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch f[1] {
		case "idle", "mix", "alloc", "comp":
			ok++
		default:
			return false
		}
	}
	return ok >= len(c.nodes())
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
