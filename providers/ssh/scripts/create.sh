p=$1 m=$2
if [ -e "$p" ] || [ -L "$p" ]; then exit 45; fi
d=${p%/*}
[ -d "${d:-/}" ] || exit 44
umask 077
set -C
if ! { : >"$p"; } 2>/dev/null; then
	if [ -e "$p" ] || [ -L "$p" ]; then exit 45; fi
	exit 1
fi
cat >>"$p" && chmod "$m" "$p"
