# One search, three ways: a 27-point random search over a small neural
# network's learning rate, weight decay and width, trained on the digits
# data set that scikit-learn ships, offline.
#
#   experiment "full"    runs every point to the last epoch;
#   experiment "median"  stops the points that fall behind (median stopping);
#   experiment "asha"    successive halving: 27 points for 1 epoch, the best
#                        9 on to 3, 3 to 9, 1 to 27, each rung resuming from
#                        the checkpoint of the rung below.
#
#   trainrun apply -target experiment.asha    # or .median, .full
#   trainrun compare experiment.asha          # sorted by val_loss, best first
#   ./measure.sh                              # the three side by side
#
# Needs Debian's python3-sklearn (apt-get install python3-sklearn), which
# installs for /usr/bin/python3.

variable "points" {
  default     = 27
  description = "points the random search draws"
}

variable "max_epochs" {
  default     = 27
  description = "epochs a point trains to, at the most"
}

compute "local" "laptop" {
  max_runs = 2
}

environment "host" "system" {
  python = "/usr/bin/python3"
}

experiment "asha" {
  compute     = compute.laptop
  environment = environment.system
  source_dir  = "src"
  command     = ["python3", "train.py"]
  outputs     = ["checkpoint/"]
  objective {
    metric = "val_loss"
    goal   = "minimize"
    goals  = { val_acc = "maximize" }
  }
  sweep {
    random {
      count  = var.points
      seed   = 1
      lr     = loguniform(1e-4, 3e-1)
      alpha  = loguniform(1e-6, 1e-1)
      hidden = choice([64, 128, 256])
    }
    asha {
      budget      = "epochs"
      min_budget  = 1
      max_budget  = var.max_epochs
      eta         = 3
      resume_from = "checkpoint/"
    }
  }
}

experiment "median" {
  compute     = compute.laptop
  environment = environment.system
  source_dir  = "src"
  command     = ["python3", "train.py"]
  params      = { epochs = var.max_epochs }
  objective {
    metric = "val_loss"
    goal   = "minimize"
    goals  = { val_acc = "maximize" }
  }
  sweep {
    random {
      count  = var.points
      seed   = 1
      lr     = loguniform(1e-4, 3e-1)
      alpha  = loguniform(1e-6, 1e-1)
      hidden = choice([64, 128, 256])
    }
    early_stopping {
      policy              = "median"
      evaluation_interval = 1
      delay_evaluation    = 3
    }
  }
}

experiment "full" {
  compute     = compute.laptop
  environment = environment.system
  source_dir  = "src"
  command     = ["python3", "train.py"]
  params      = { epochs = var.max_epochs }
  objective {
    metric = "val_loss"
    goal   = "minimize"
    goals  = { val_acc = "maximize" }
  }
  sweep {
    random {
      count  = var.points
      seed   = 1
      lr     = loguniform(1e-4, 3e-1)
      alpha  = loguniform(1e-6, 1e-1)
      hidden = choice([64, 128, 256])
    }
  }
}
