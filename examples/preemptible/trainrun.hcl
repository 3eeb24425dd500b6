# A preemptible training run: checkpoints go to TRAINRUN_CHECKPOINT_DIR,
# which survives Slurm requeues and trainrun's retries, and is neither
# collected nor fingerprinted. Change the compute to a Slurm one with
# requeue = true to run it on a cluster (see README.md).
compute "local" "here" {}

environment "host" "system" {
  python = "/usr/bin/python3" # Debian's, with python3-torch and python3-sklearn
}

experiment "mlp" {
  compute       = compute.here
  environment   = environment.system
  command       = ["python3", "train.py"]
  params        = { epochs = 20 }
  retries       = 1
  max_requeues  = 5
}
