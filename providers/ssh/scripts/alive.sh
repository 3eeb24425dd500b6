pid=$1 ticks=$2
case $pid in
-*)
	g=${pid#-}
	kill -s 0 -- "$pid" 2>/dev/null || kill -s 0 "$pid" 2>/dev/null || { echo 0; exit 0; }
	[ -d /proc/self ] || { echo 1; exit 0; }
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		s=${s##*)}
		set -f; set -- $s; set +f
		if [ "$3" = "$g" ] && [ "$1" != Z ] && [ "$1" != X ]; then echo 1; exit 0; fi
	done
	echo 0; exit 0 ;;
esac
if [ -r "/proc/$pid/stat" ] && { read -r s <"/proc/$pid/stat"; } 2>/dev/null; then
	s=${s##*)}
	set -f; set -- $s
	case $1 in Z|X) echo 0; exit 0 ;; esac
	if [ -n "$ticks" ] && [ "${20}" != "$ticks" ]; then echo 0; else echo 1; fi
	exit 0
fi
[ -d /proc/self ] && { echo 0; exit 0; }
if kill -s 0 "$pid" 2>/dev/null; then echo 1; else echo 0; fi
