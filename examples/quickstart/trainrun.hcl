# Quick start: logistic regression on a seeded synthetic data set, trained
# for every point of a small learning-rate × epochs sweep on this machine.
#
#   trainrun plan      # what will run, and why
#   trainrun apply     # run it; a second apply runs nothing
#   trainrun status    # every instance, its run and its latest metrics

variable "seed" {
  type        = number
  default     = 7
  description = "seed of the synthetic data set"
}

compute "local" "laptop" {
  max_runs = 2
}

experiment "train" {
  compute    = compute.laptop
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
