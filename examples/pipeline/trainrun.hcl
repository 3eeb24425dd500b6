# A three-stage pipeline on scikit-learn's handwritten digits:
#
#   prep  → splits and standardizes the data set once
#   train → a random search over a logistic-regression SGD classifier,
#           each point reading prep's outputs
#   eval  → scores every trained model on the held-out test set
#
#   trainrun apply -auto-approve
#   trainrun compare -sort -val_accuracy experiment.train
#
# Downstream stages hash what their upstream produced, not how: a change to
# prep that writes the same files re-runs prep only.

variable "python" {
  type        = string
  default     = "/usr/bin/python3"
  description = "an interpreter with scikit-learn (Debian: apt-get install python3-sklearn)"
}

compute "local" "laptop" {
  max_runs = 2
}

environment "host" "sklearn" {
  python = var.python
}

experiment "prep" {
  compute     = compute.laptop
  environment = environment.sklearn
  source_dir  = "./prep"
  command     = [var.python, "prep.py", "--test-size", param.test_size, "--seed", param.seed]
  params      = { test_size = 0.25, seed = 0 }
  timeout     = "10m"
}

experiment "train" {
  compute     = compute.laptop
  environment = environment.sklearn
  source_dir  = "./train"
  command = [
    var.python, "train.py",
    "--alpha", param.alpha,
    "--eta0", param.eta0,
    "--epochs", param.epochs,
  ]
  inputs  = { data = experiment.prep.outputs }
  timeout = "10m"

  sweep {
    max_concurrent = 2
    random {
      count  = 6
      seed   = 1
      alpha  = loguniform(1e-5, 1e-1)
      eta0   = loguniform(1e-3, 1e-1)
      epochs = choice([10, 20])
    }
  }
}

experiment "eval" {
  compute     = compute.laptop
  environment = environment.sklearn
  source_dir  = "./eval"
  command     = [var.python, "eval.py"]
  inputs      = { data = experiment.prep.outputs, models = experiment.train.outputs }
  timeout     = "10m"
}
