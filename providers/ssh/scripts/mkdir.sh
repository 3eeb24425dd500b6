p=$1 m=$2
if [ -e "$p" ] || [ -L "$p" ]; then exit 45; fi
umask 077
[ -z "${p%/*}" ] || [ -d "${p%/*}" ] || mkdir -p -- "${p%/*}" 2>/dev/null
mkdir -m "$m" -- "$p" && exit 0
[ -e "$p" ] && exit 45
exit 1
