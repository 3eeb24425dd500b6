# The quick start's sweep on a Slurm cluster: only the compute changed.
# Each point of the sweep is one task of one job array (a single sbatch).
#
#   trainrun plan      # what will run, and why
#   trainrun apply     # submits the array and waits for it
#   trainrun status    # every instance, its run and its latest metrics

variable "seed" {
  type        = number
  default     = 7
  description = "seed of the synthetic data set"
}

variable "workdir" {
  type        = string
  default     = ".trainrun/slurm"
  description = "where run directories go: a path every compute node sees (relative: to this directory)"
}

compute "slurm" "cluster" {
  workdir = var.workdir
  # partition = "gpu"
  # account   = "proj42"
  # setup     = ["module load python/3.11"]
  # login     = compute.login_node   # an ssh compute; then workdir must be absolute
}

experiment "train" {
  compute    = compute.cluster
  source_dir = "./src"
  command = [
    "python3", "train.py",
    "--lr", param.lr,
    "--epochs", param.epochs,
    "--seed", var.seed,
  ]
  params  = { lr = 0.1, epochs = 20 }
  outputs = ["model.json"]
  timeout = "10m"

  resources {
    cpus   = 1
    memory = "256MiB"
  }

  sweep {
    grid           = { lr = [0.05, 0.5], epochs = [10, 40] }
    max_concurrent = 2
  }
}
