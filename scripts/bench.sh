#!/usr/bin/env bash
# Whole-command timings of trainrun beside its peers, in one run, so that the
# ratios hold on a noisy shared machine. Needs hyperfine, snakemake (7.x) and
# GNU parallel: installs them from Debian's packages when missing (as root).
#
#   scripts/bench.sh            all benchmarks
#   scripts/bench.sh plan       only the no-op plan of a 1000-instance sweep
#   scripts/bench.sh sweep      only the 1000-run local sweep
#   scripts/bench.sh overhead   only the overhead of one trivial run
#   scripts/bench.sh tree       only the warm plan over 20,000 files
#   scripts/bench.sh pipeline   only the no-op plan of a 5-stage pipeline with a 200-point
#                               sweep and a for_each stage (403 instances)
#   scripts/bench.sh compare    only compare over 1000 instances with 100 metric points each
#   scripts/bench.sh live       only following 1000 live runs that each write a metric every
#                               100 ms, under a median-stopping policy (scripts/bench-live.sh)
#   scripts/bench.sh ssh        only the re-apply over SSH after one changed 1 MB file
#                               in a 200 MB, 5,000-file tree, beside rsync -a (needs
#                               root: starts its own sshd; installs openssh-server, rsync)
#   scripts/bench.sh slurm      only the 1000-run sweep on Slurm beside snakemake --slurm
#                               (needs root: runs its own cluster; installs slurm-wlm, munge;
#                               takes about 20 minutes, nearly all of it Snakemake's)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin/trainrun"
# Always built: a bin/trainrun left from an earlier build would time old code.
(cd "$root" && go build -o bin/trainrun ./cmd/trainrun)

need() {
	local missing=()
	for p in "$@"; do command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}"); done
	if [ ${#missing[@]} -gt 0 ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
		else
			echo "bench: missing ${missing[*]}; install them" >&2
			exit 1
		fi
	fi
}
need hyperfine:hyperfine snakemake:snakemake parallel:parallel git:git

work=$(mktemp -d)
cleanup() {
	[ -z "${slurm_up:-}" ] || "$work/slurmcluster" down || true
	[ -z "${sshd_pid:-}" ] || kill "$sshd_pid" 2>/dev/null || true
	[ -z "${ssh_home_dirs:-}" ] || rm -rf $ssh_home_dirs
	rm -rf "$work"
}
trap cleanup EXIT
which=${1:-all}
N=1000

# A 1000-point sweep of trivial shell runs, two at a time.
sweep_project() {
	mkdir -p "$1/src"
	echo 'echo "$1" > /dev/null' > "$1/src/run.sh"
	cat > "$1/trainrun.hcl" <<HCL
compute "local" "here" {
  max_runs = 2
}
experiment "trivial" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", param.i]
  sweep {
    grid = { i = range($N) }
  }
}
HCL
}

# The same 1000 jobs for Snakemake.
snake_project() {
	mkdir -p "$1"
	cat > "$1/Snakefile" <<'SMK'
N = 1000
rule all:
    input: expand("out/{i}.txt", i=range(N))
rule one:
    output: "out/{i}.txt"
    shell: "echo {wildcards.i} > {output}"
SMK
}

if [ "$which" = all ] || [ "$which" = plan ]; then
	echo "== no-op plan of a $N-instance sweep (target ≤ 100 ms) vs snakemake -n on $N done jobs"
	sweep_project "$work/plan"
	"$bin" -chdir="$work/plan" apply -auto-approve >/dev/null
	snake_project "$work/snake-plan"
	(cd "$work/snake-plan" && snakemake -j2 -q >/dev/null 2>&1)
	hyperfine -N -w 2 -r 10 \
		-n "trainrun plan" "$bin -chdir=$work/plan plan -detailed-exitcode" \
		-n "snakemake -n" "snakemake -n -q -d $work/snake-plan -s $work/snake-plan/Snakefile"
fi

if [ "$which" = all ] || [ "$which" = pipeline ]; then
	echo "== no-op plan of a 5-stage pipeline, 200-point sweep, for_each downstream (target ≤ 150 ms) vs snakemake -n on the same DAG"
	mkdir -p "$work/pipe/src" "$work/snake-pipe"
	printf 'prepare:\n  seed: 1\nfeaturize:\n  max_features: 100\ntrain:\n  seed: 7\n' > "$work/pipe/params.yaml"
	echo 'echo "$@" > "$TRAINRUN_OUTPUTS_DIR/out.txt"' > "$work/pipe/src/step.sh"
	cat > "$work/pipe/trainrun.hcl" <<'HCL'
locals {
  params = yamldecode(file("params.yaml"))
}
compute "local" "here" {
  max_runs = 2
}
experiment "prepare" {
  compute    = compute.here
  source_dir = "src"
  params     = local.params.prepare
  command    = ["sh", "step.sh", "prepare"]
}
experiment "featurize" {
  compute    = compute.here
  source_dir = "src"
  params     = local.params.featurize
  inputs     = { data = experiment.prepare.outputs }
  command    = ["sh", "step.sh", "featurize"]
}
experiment "train" {
  compute    = compute.here
  source_dir = "src"
  params     = local.params.train
  inputs     = { features = experiment.featurize.outputs }
  command    = ["sh", "step.sh", "train", param.lr, param.depth]
  sweep {
    grid = { lr = range(20), depth = range(10) }
  }
}
experiment "evaluate" {
  compute    = compute.here
  source_dir = "src"
  for_each   = experiment.train
  inputs     = { model = each.outputs, features = experiment.featurize.outputs }
  command    = ["sh", "step.sh", "evaluate", each.key]
}
experiment "report" {
  compute    = compute.here
  source_dir = "src"
  inputs     = { evals = experiment.evaluate.outputs }
  command    = ["sh", "step.sh", "report"]
}
HCL
	cat > "$work/snake-pipe/Snakefile" <<'SMK'
KEYS = [f"{lr}-{d}" for lr in range(20) for d in range(10)]
rule all:
    input: "report.txt"
rule prepare:
    output: "prepared.txt"
    shell: "echo prepare > {output}"
rule featurize:
    input: "prepared.txt"
    output: "features.txt"
    shell: "echo featurize > {output}"
rule train:
    input: "features.txt"
    output: "models/{k}.txt"
    shell: "echo train {wildcards.k} > {output}"
rule evaluate:
    input: "models/{k}.txt", "features.txt"
    output: "evals/{k}.txt"
    shell: "echo evaluate {wildcards.k} > {output}"
rule report:
    input: expand("evals/{k}.txt", k=KEYS)
    output: "report.txt"
    shell: "echo report > {output}"
SMK
	"$bin" -chdir="$work/pipe" apply -auto-approve >/dev/null
	(cd "$work/snake-pipe" && snakemake -j2 -q >/dev/null 2>&1)
	hyperfine -N -w 2 -r 10 \
		-n "trainrun plan (pipeline, 403 instances)" "$bin -chdir=$work/pipe plan -detailed-exitcode" \
		-n "snakemake -n (same DAG)" "snakemake -n -q -d $work/snake-pipe -s $work/snake-pipe/Snakefile"
fi

if [ "$which" = all ] || [ "$which" = sweep ]; then
	echo "== $N trivial runs, 2 at a time: trainrun apply vs snakemake -j2 vs parallel -j2 (target ≥ 15× snakemake, faster than parallel)"
	sweep_project "$work/sweep"
	snake_project "$work/snake"
	hyperfine -N -w 0 -r 3 \
		-p "rm -rf $work/sweep/.trainrun" -n "trainrun apply" "$bin -chdir=$work/sweep apply -auto-approve" \
		-p "rm -rf $work/snake/out $work/snake/.snakemake" -n "snakemake -j2" "snakemake -j2 -q -d $work/snake -s $work/snake/Snakefile" \
		-p "true" -n "parallel -j2" "sh -c 'seq $N | parallel -j2 sh $work/sweep/src/run.sh {}'"
fi

if [ "$which" = all ] || [ "$which" = overhead ]; then
	# Two cases: the first apply of a fresh project, and an apply in a
	# project that has run before, whose run is new because its seed is
	# (written by the prepare step, untimed, as -var seed=N would give
	# it). hyperfine's User and System count the whole process tree
	# (trainrun, the run wrapper, the command): the fixed cost of an apply
	# is each mean minus the command's own.
	echo "== one trivial run through trainrun apply vs the command itself (target ≤ 25 ms overhead)"
	mkdir -p "$work/one/src"
	echo 'true' > "$work/one/src/run.sh"
	cat > "$work/one/trainrun.hcl" <<'HCL'
compute "local" "here" {}
experiment "one" {
  compute    = compute.here
  source_dir = "src"
  params     = { seed = trimspace(file("seed")) }
  command    = ["sh", "run.sh"]
}
HCL
	date +%s%N > "$work/one/seed"
	"$bin" -chdir="$work/one" apply -auto-approve >/dev/null
	hyperfine -N -w 2 -r 20 \
		-p "rm -rf $work/one/.trainrun" -n "trainrun apply (1 run, fresh project)" "$bin -chdir=$work/one apply -auto-approve" \
		-p "sh -c 'date +%s%N > $work/one/seed'" -n "trainrun apply (1 run, new seed)" "$bin -chdir=$work/one apply -auto-approve" \
		-p "true" -n "sh run.sh" "sh $work/one/src/run.sh"
fi

if [ "$which" = all ] || [ "$which" = tree ]; then
	echo "== warm plan over 20,000 files vs git status on the same tree (target ≤ 2×)"
	mkdir -p "$work/tree/src"
	(cd "$work/tree/src" && for d in $(seq 0 199); do mkdir -p "d$d"; for f in $(seq 0 99); do echo "$d $f" > "d$d/f$f.txt"; done; done)
	cat > "$work/tree/trainrun.hcl" <<'HCL'
compute "local" "here" {}
experiment "big" {
  compute    = compute.here
  source_dir = "src"
  command    = ["true"]
}
HCL
	(cd "$work/tree/src" && git init -q && git add -A && git -c user.email=b@b -c user.name=b commit -qm tree)
	"$bin" -chdir="$work/tree" plan >/dev/null
	hyperfine -N -w 2 -r 10 \
		-n "trainrun plan (20k files, warm)" "$bin -chdir=$work/tree plan" \
		-n "git status" "git -C $work/tree/src status --porcelain"
fi

if [ "$which" = all ] || [ "$which" = compare ]; then
	echo "== trainrun compare over $N instances with 100 metric points each (target ≤ 200 ms)"
	mkdir -p "$work/compare/src"
	cat > "$work/compare/src/run.sh" <<'SH'
i=0
while [ $i -lt 34 ]; do
	echo "{\"name\":\"loss\",\"value\":0.$1$i,\"step\":$i}"
	echo "{\"name\":\"accuracy\",\"value\":0.$i$1,\"step\":$i}"
	echo "{\"name\":\"epoch_time\",\"value\":1.$i,\"step\":$i}"
	i=$((i+1))
done | head -n 100 >> "$TRAINRUN_METRICS_FILE"
SH
	cat > "$work/compare/trainrun.hcl" <<HCL
compute "local" "here" {
  max_runs = 2
}
experiment "train" {
  compute    = compute.here
  source_dir = "src"
  command    = ["sh", "run.sh", param.i]
  params     = { epochs = 100 }
  sweep {
    grid = { i = range($N) }
  }
}
HCL
	"$bin" -chdir="$work/compare" apply -auto-approve >/dev/null
	hyperfine -N -w 2 -r 20 \
		-n "trainrun compare -sort -accuracy" "$bin -chdir=$work/compare compare -sort -accuracy experiment.train" \
		-n "trainrun compare -json" "$bin -chdir=$work/compare compare -json experiment.train" \
		-n "trainrun status (same state)" "$bin -chdir=$work/compare status"
fi

# sshd on loopback with its own host key, serving an unprivileged user that
# logs in with a key of this run's (as internal/sshtest does for the tests).
ssh_start() {
	local d=$work/sshd user=trainrun-ssh
	id -u "$user" >/dev/null 2>&1 || { useradd -m -s /bin/sh "$user" && usermod -p '*' "$user"; }
	ssh_user=$user
	ssh_home=$(getent passwd "$user" | cut -d: -f6)
	# sshd reads authorized_keys as the user: it must reach the directory.
	chmod 711 "$work" && mkdir -p "$d" /run/sshd && chmod 755 "$d"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host" && ssh-keygen -q -t ed25519 -N '' -f "$d/client"
	cp "$d/client.pub" "$d/authorized_keys" && chmod 644 "$d/authorized_keys"
	ssh_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat > "$d/config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $d/host
PidFile $d/pid
AuthorizedKeysFile $d/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowUsers $user
CONF
	/usr/sbin/sshd -f "$d/config" -E "$d/log"
	for _ in $(seq 100); do [ -s "$d/pid" ] && break; sleep 0.05; done
	sshd_pid=$(cat "$d/pid")
	echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$d/host.pub")" > "$d/known_hosts"
	ssh_key=$d/client ssh_known=$d/known_hosts
}

if [ "$which" = all ] || [ "$which" = ssh ]; then
	echo "== re-apply over SSH after one changed 1 MB file in a 200 MB, 5,000-file tree vs rsync -a (target: not slower than rsync)"
	if [ "$(id -u)" != 0 ]; then
		echo "bench ssh: needs root to start sshd for another user; skipped" >&2
	else
		need rsync:rsync ssh:openssh-client
		[ -x /usr/sbin/sshd ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null; }
		ssh_start
		tag=bench-$$
		ssh_home_dirs="$ssh_home/$tag $ssh_home/$tag-rsync $ssh_home/$tag-copies"
		src=$work/ssh/src
		mkdir -p "$src"
		# 4,999 files of 40 KiB in 50 directories, and the 1 MB file that changes.
		head -c $((4999 * 40 * 1024)) /dev/urandom | split -b $((40 * 1024)) -a 4 -d - "$src/f"
		(cd "$src" && for i in $(seq -w 0 49); do mkdir "d$i"; done && i=0 && for f in f*; do mv "$f" "d$(printf %02d $((i % 50)))/"; i=$((i + 1)); done)
		head -c $((1024 * 1024)) /dev/urandom > "$src/big.bin"
		cat > "$work/ssh/trainrun.hcl" <<HCL
compute "ssh" "box" {
  host             = "127.0.0.1"
  port             = $ssh_port
  user             = "$ssh_user"
  private_key_file = "$ssh_key"
  known_hosts_file = "$ssh_known"
  workdir          = "~/$tag"
}
experiment "train" {
  compute    = compute.box
  source_dir = "src"
  command    = ["true"]
}
HCL
		rsh="ssh -p $ssh_port -i $ssh_key -o UserKnownHostsFile=$ssh_known -o BatchMode=yes"
		"$bin" -chdir="$work/ssh" apply -auto-approve >/dev/null 2>&1
		rsync -a -e "$rsh" "$src/" "$ssh_user@127.0.0.1:$tag-rsync/"
		$rsh "$ssh_user@127.0.0.1" "mkdir -p $tag-copies" </dev/null
		rsync -a -e "$rsh" "$src/" "$ssh_user@127.0.0.1:$tag-copies/0/"
		change="head -c 1048576 /dev/urandom > $src/big.bin"
		hyperfine -w 2 -r 10 --prepare "$change" \
			-n "trainrun apply (new run directory)" "$bin -chdir=$work/ssh apply -auto-approve" \
			-n "rsync -a (in place)" "rsync -a -e '$rsh' $src/ $ssh_user@127.0.0.1:$tag-rsync/" \
			-n "rsync -a --copy-dest (new directory)" "d=\$(date +%s%N); rsync -a --copy-dest=../0 -e '$rsh' $src/ $ssh_user@127.0.0.1:$tag-copies/\$d/"
		eval "$change"
		echo "rsync -a of one changed file: $(rsync -a --stats -e "$rsh" "$src/" "$ssh_user@127.0.0.1:$tag-rsync/" | grep -E 'Total bytes sent')"
		echo "(bytes trainrun sends for the same change: go test -bench IncrementalPut ./providers/ssh/, metric sent-B/op)"
	fi
fi

if [ "$which" = all ] || [ "$which" = slurm ]; then
	echo "== $N trivial runs on Slurm, start to all finished: trainrun apply (one job array) vs snakemake --slurm (one sbatch per job) (target ≥ 20×, ≤ 2 sbatch calls)"
	if [ "$(id -u)" != 0 ]; then
		echo "slurm: skipped: running a Slurm cluster here needs root"
	else
		(cd "$root" && go build -o "$work/slurmcluster" ./internal/slurmtest/slurmcluster)
		slurm_up=1
		"$work/slurmcluster" up
		export USER=${USER:-$(id -un)} # Snakemake's Slurm executor reads it
		# Each tool's sbatch calls are counted by a wrapper first on its PATH.
		for t in trainrun snakemake; do
			mkdir -p "$work/shim-$t"
			printf '#!/bin/sh\necho call >>"%s"\nexec %s "$@"\n' "$work/sbatch-$t" "$(command -v sbatch)" >"$work/shim-$t/sbatch"
			chmod +x "$work/shim-$t/sbatch"
		done
		mkdir -p "$work/slurm/src"
		echo 'echo "$1" > /dev/null' >"$work/slurm/src/run.sh"
		cat >"$work/slurm/trainrun.hcl" <<HCL
compute "slurm" "cluster" {
  workdir = "work"
}
experiment "trivial" {
  compute    = compute.cluster
  source_dir = "src"
  command    = ["sh", "run.sh", param.i]
  resources {
    cpus = 1
  }
  sweep {
    grid = { i = range($N) }
  }
}
HCL
		snake_project "$work/snake-slurm"
		# Snakemake at its fastest: it caps status checks at 1/s on Slurm
		# (it forces 0.03/s for anything above 1), and may submit 100 jobs/s.
		hyperfine -N -w 0 -r 1 --export-json "$work/slurm.json" \
			-p "rm -rf $work/slurm/.trainrun $work/slurm/work $work/sbatch-trainrun" \
			-n "trainrun apply (slurm)" "env PATH=$work/shim-trainrun:$PATH $bin -chdir=$work/slurm apply -auto-approve" \
			-p "rm -rf $work/snake-slurm/out $work/snake-slurm/.snakemake $work/sbatch-snakemake" \
			-n "snakemake --slurm" "env PATH=$work/shim-snakemake:$PATH snakemake --slurm -j $N --max-jobs-per-second 100 --max-status-checks-per-second 1 --default-resources mem_mb=64 runtime=10 -q -d $work/snake-slurm -s $work/snake-slurm/Snakefile"
		python3 - "$work/slurm.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
t, s = r["trainrun apply (slurm)"], r["snakemake --slurm"]
print(f"trainrun {t:.1f} s, snakemake {s:.1f} s: trainrun is {s / t:.1f}x faster")
PY
		echo "sbatch calls: trainrun $(wc -l <"$work/sbatch-trainrun"), snakemake $(wc -l <"$work/sbatch-snakemake")"
		echo "(go test -bench Sweep1000 ./providers/slurm/ reports the sbatch and squeue calls of the provider alone)"
	fi
fi

if [ "$which" = all ] || [ "$which" = live ]; then
	echo "== following $N live runs, a metric every 100 ms each, median stopping on every line (target: keeps up; the policy ≤ 1 ms a line)"
	"$root/scripts/bench-live.sh" "$N" 30
fi
