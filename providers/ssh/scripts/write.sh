p=$1 m=$2
if [ -L "$p" ]; then echo "$p is a symbolic link" >&2; exit 46; fi
d=${p%/*}
[ -d "${d:-/}" ] || exit 44
umask 077
cat >"$p" && chmod "$m" "$p"
