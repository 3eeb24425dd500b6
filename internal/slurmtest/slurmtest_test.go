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
}

func TestConfigNamesTheNode(t *testing.T) {
	conf := config(&Cluster{Node: "n1", Partition: "p", CPUs: 3})
	for _, want := range []string{confMark, "SlurmctldHost=n1", "NodeName=n1 CPUs=3", "PartitionName=p Nodes=n1 Default=YES"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q", want)
		}
	}
}
