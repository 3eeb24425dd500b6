p=$1 m=$2 n=$3
shift 3
if [ -e "$p" ] || [ -L "$p" ]; then exit 45; fi
umask 077
[ -z "${p%/*}" ] || [ -d "${p%/*}" ] || mkdir -p -- "${p%/*}" 2>/dev/null
if ! mkdir -m "$m" -- "$p"; then [ -e "$p" ] && exit 45; exit 1; fi
umask 022
cd "$p" || exit 1
while [ "$n" -gt 0 ]; do
	: >"$1" || exit 1
	n=$((n - 1))
	shift
done
[ $# -eq 0 ] || mkdir -- "$@"
