# A real model on real data, offline: a support vector classifier trained on
# the digits data set that scikit-learn ships, in two environments.
#
#   trainrun plan      # the venv to create, the runs to submit, and why
#   trainrun apply     # build the venv once, run everything
#   trainrun status    # the accuracy of each run
#
# Needs Debian's python3-sklearn (apt-get install python3-sklearn
# python3-venv), which installs for /usr/bin/python3.

compute "local" "laptop" {
  max_runs = 2
}

# What the machine has installed, used as it is. Its interpreter's path and
# version are part of every run's fingerprint: upgrade it, and the plan
# says so.
environment "host" "system" {
  python = "/usr/bin/python3"
}

# An environment of its own, built once into the compute's environments
# directory and reused while its definition is unchanged. It sees the
# system's scikit-learn; add requirements (from wheels, with pip_args =
# ["--no-index", "--find-links", "DIR"] when there is no package index)
# and it is rebuilt.
environment "venv" "isolated" {
  python               = "/usr/bin/python3"
  system_site_packages = true
}

experiment "svm_host" {
  compute     = compute.laptop
  environment = environment.system
  source_dir  = "./src"
  command     = ["python3", "train.py", "--gamma", param.gamma, "--C", param.C]
  params      = { gamma = 0.001, C = 1 }
  timeout     = "10m"

  sweep {
    grid = { gamma = [0.0005, 0.001, 0.002] }
  }
}

experiment "svm_venv" {
  compute     = compute.laptop
  environment = environment.isolated
  source_dir  = "./src"
  command     = ["python3", "train.py", "--gamma", param.gamma, "--C", param.C]
  params      = { gamma = 0.001, C = 1 }
  timeout     = "10m"
}
