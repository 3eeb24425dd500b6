// Package slurm is the "slurm" compute kind: runs are Slurm batch jobs,
// submitted with sbatch on a login node that an executor reaches (this
// machine, or another compute's machine through login = compute.NAME).
//
// Every run has a directory below the compute's workdir, which must be on a
// filesystem the compute nodes share: the source snapshot (src/), the
// run's environment and command (job.env), its log, and the files the run
// wrapper of providers/executor writes (pid, exit, timedout). A job runs
// that same wrapper on its node, so a run's exit code, timeout and log
// work as they do on the local compute, and the exit file, not Slurm's
// view alone, decides whether a run succeeded.
//
// A sweep's runs that are ready together go in one job array (one sbatch
// call; see providers.BatchSubmitter): the array's script finds each task's
// run directory on line SLURM_ARRAY_TASK_ID+1 of the batch's tasks file.
//
// Jobs are tracked in batches: one squeue call for every job that is
// waited on, backing off while nothing changes; scontrol when squeue
// fails, sacct for jobs squeue has forgotten (when accounting is enabled),
// and finally the run's own files.
package slurm
