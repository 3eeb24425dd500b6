# A four-stage pipeline in the shape of a DVC project (dvc.yaml +
# params.yaml), on a data set it generates deterministically (two noisy
# half moons), in Python's standard library alone:
#
#   prepare   → generates the points, splits them into train and test sets
#   featurize → polynomial features, standardized on the train set
#   train     → a logistic regression per point of a learning-rate sweep
#   evaluate  → one instance per train instance (for_each): scores its
#               model on the test set, into eval/metrics.json
#
#   trainrun apply -auto-approve
#   trainrun compare experiment.evaluate
#
# Parameters come from params.yaml, stage by stage; the stages share
# stages/common/utils.py through include, without a copy.

variable "python" {
  type        = string
  default     = "/usr/bin/python3"
  description = "a Python 3 interpreter"
}

locals {
  params = yamldecode(file("params.yaml"))
}

compute "local" "laptop" {
  max_runs = 2
}

experiment "prepare" {
  compute     = compute.laptop
  source_dir  = "stages/prepare"
  include     = ["../common/utils.py"]
  params      = local.params.prepare
  params_file = "params.json"
  command     = [var.python, "prepare.py"]
  outputs     = ["data/"]
}

experiment "featurize" {
  compute     = compute.laptop
  source_dir  = "stages/featurize"
  include     = ["../common/utils.py"]
  params      = local.params.featurize
  params_file = "params.json"
  inputs      = { data = experiment.prepare.outputs }
  command     = [var.python, "featurize.py"]
  outputs     = ["features/"]
}

experiment "train" {
  compute     = compute.laptop
  source_dir  = "stages/train"
  include     = ["../common/utils.py"]
  params      = local.params.train
  params_file = "params.json"
  inputs      = { features = experiment.featurize.outputs }
  command     = [var.python, "train.py"]
  outputs     = ["model/"]
  sweep {
    grid = { lr = [0.1, 0.5] }
  }
}

experiment "evaluate" {
  compute     = compute.laptop
  source_dir  = "stages/evaluate"
  include     = ["../common/utils.py"]
  for_each    = experiment.train
  inputs      = { model = each.outputs, features = experiment.featurize.outputs }
  command     = [var.python, "evaluate.py"]
  outputs     = ["eval/"]
  metrics     = ["eval/metrics.json"]
}
