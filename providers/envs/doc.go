// Package envs holds the environment kinds: "host" (what the compute has
// installed, used as it is), "venv" (a Python virtual environment built
// from a requirement list), "conda" (a conda, mamba or micromamba prefix)
// and "container" (a podman or docker image, pulled or built).
//
// Kinds that build something build it on the compute, through its
// executor, once per content hash: into ENVDIR/.d/ID.RANDOM, published by
// renaming a symlink ENVDIR/ID onto it, under a lock (flock(1), else a lock
// directory) so that concurrent trainrun processes build it once. A failed
// build is removed and reports the last lines of the tool's output. See
// build.sh.
package envs
