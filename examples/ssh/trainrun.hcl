# The quick start's sweep on a machine reached over SSH. Compared with
# examples/quickstart, one line changed: the experiment's compute, from
# compute.laptop to compute.gpu_box. The machine needs nothing but sh and
# python3; trainrun uploads the source (only what it lacks) and collects
# the results back.
#
#   trainrun plan -var host=gpu1    # attach gpu1 (its facts), four runs
#   trainrun apply -var host=gpu1   # run them there; a second apply runs nothing
#   trainrun status                 # every instance, its run and its latest metrics

variable "seed" {
  type        = number
  default     = 7
  description = "seed of the synthetic data set"
}

variable "host" {
  type        = string
  description = "the SSH machine: a Host of ~/.ssh/config, or an address"
}

compute "local" "laptop" {
  max_runs = 2
}

compute "ssh" "gpu_box" {
  host     = var.host
  max_runs = 2
  # What ~/.ssh/config does not say about the machine:
  # user             = "ml"
  # port             = 22
  # private_key_file = "~/.ssh/id_ed25519"   # or the SSH agent
  # known_hosts_file = "~/.ssh/known_hosts"  # the host key is always verified
  # jump             = compute.bastion       # or ProxyJump in ~/.ssh/config
  # workdir          = "/scratch/trainrun"   # default: ~/.trainrun there
}

experiment "train" {
  compute    = compute.gpu_box # was: compute.laptop
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

  sweep {
    grid = { lr = [0.05, 0.5], epochs = [10, 40] }
  }
}
