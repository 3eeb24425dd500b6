printf 'os=%s\n' "$(uname -s 2>/dev/null)"
printf 'kernel=%s\n' "$(uname -r 2>/dev/null)"
printf 'arch=%s\n' "$(uname -m 2>/dev/null)"
if [ -r /etc/os-release ]; then (. /etc/os-release 2>/dev/null; printf 'distro=%s\n' "$PRETTY_NAME"); fi
printf 'cpus=%s\n' "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null)"
if [ -r /proc/meminfo ]; then
	while read -r k v _; do [ "$k" = MemTotal: ] && printf 'memory_kib=%s\n' "$v"; done </proc/meminfo
else
	printf 'memory=%s\n' "$(sysctl -n hw.memsize 2>/dev/null)"
fi
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | while IFS= read -r g; do printf 'gpu=%s\n' "$g"; done
fi
printf 'home=%s\n' "$HOME"
