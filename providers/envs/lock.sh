# trainrun's environment lock (POSIX sh), the prologue of build.sh and
# image.sh. Arguments: DIR ID; DIR is the environments directory, ID one
# environment. It takes DIR/.lock/ID for the rest of the script: with
# flock(1) where there is one (the kernel frees it when the script dies),
# else with a lock directory whose owner, when it is gone from this host,
# no longer holds it.
dir=$1 id=$2
mkdir -p "$dir/.lock" "$dir/.d" || exit 1
lock=$dir/.lock/$id
if command -v flock >/dev/null 2>&1; then
	exec 9>"$lock" || exit 1
	flock 9 || exit 1
else
	host=$(uname -n)
	until mkdir "$lock.d" 2>/dev/null; do
		owner=
		[ -r "$lock.d/owner" ] && read -r owner <"$lock.d/owner"
		if [ -n "$owner" ] && [ "${owner% *}" = "$host" ] && ! kill -0 "${owner##* }" 2>/dev/null; then
			rm -rf "$lock.d"
			continue
		fi
		sleep 1
	done
	echo "$host $$" >"$lock.d/owner"
	trap 'rm -rf "$lock.d"' EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
fi
