#!/usr/bin/env bash
# Installs the Debian packages the integration tests start for real (sshd,
# Slurm, podman, Python venvs and scikit-learn), once and one after the other,
# so that test binaries running in parallel never race for the dpkg lock;
# another apt-get on the machine is waited for (up to 30 minutes).
# Test helpers still install what is missing themselves when run directly.
# Without root or apt-get it does nothing: the tests then skip, or fail under
# TRAINRUN_REQUIRE_INTEGRATION=1.
set -euo pipefail

pkgs=(openssh-server rsync slurm-wlm munge podman runc busybox-static python3-venv python3-pip python3-sklearn python3-torch git zsh fish chromium postgresql)

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
	echo "test-deps: not root or no apt-get: not installing ${pkgs[*]}" >&2
	exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=1800 update -qq
apt-get -o DPkg::Lock::Timeout=1800 install -y -qq "${missing[@]}" >/dev/null
