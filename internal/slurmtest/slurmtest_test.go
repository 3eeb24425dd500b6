package slurmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

func TestClusterRunsAJob(t *testing.T) {
	c := Start(t)
	if again := Start(t); again != c {
		t.Fatal("a second Start returned another cluster")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// --wait: sbatch returns when the job has ended, with its exit code.
	cmd := exec.Command("sbatch", "--wait", "--quiet", "-o", out, "--wrap", "echo hello from $SLURM_JOB_ID")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sbatch: %v: %s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "hello from ") {
		t.Errorf("job output %q", got)
	}
	if !healthy(c) {
		t.Error("the cluster is not healthy after a job")
	}
	// Two nodes of the multi partition run one job together.
	out = filepath.Join(dir, "multi")
	cmd = exec.Command("sbatch", "--wait", "--quiet", "-p", c.Multi, "-N", "2", "--ntasks-per-node=1", "-o", out,
		"--wrap", "srun sh -c 'echo $SLURMD_NODENAME' | sort")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sbatch -N2: %v: %s", err, b)
	}
	if got, _ := os.ReadFile(out); string(got) != strings.Join(c.MultiNodes, "\n")+"\n" {
		t.Errorf("two-node job output %q", got)
	}
}

func TestConfigNamesTheNodes(t *testing.T) {
	conf := config(&Cluster{Host: "h", Node: "a", Partition: "p", CPUs: 3, Multi: "m", MultiNodes: []string{"b", "c"}})
	for _, want := range []string{confMark, "SlurmctldHost=h", "NodeName=a NodeHostname=h NodeAddr=127.0.0.1 Port=17100 CPUs=3",
		"NodeName=c NodeHostname=h NodeAddr=127.0.0.1 Port=17102 CPUs=2", "SlurmdSpoolDir=" + Dir + "/spool/%n",
		"PartitionName=p Nodes=a Default=YES", "PartitionName=m Nodes=b,c MaxTime"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q", want)
		}
	}
}
