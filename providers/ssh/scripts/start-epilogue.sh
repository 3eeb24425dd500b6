if command -v setsid >/dev/null 2>&1; then
	setsid ARGV </dev/null >/dev/null 2>&1 &
	p=$!
else
	p=$$
fi
t=
if { read -r s <"/proc/$p/stat"; } 2>/dev/null; then s=${s##*)}; set -f; set -- $s; t=${20}; fi
echo "$p $t"
[ "$p" != "$$" ] || exec ARGV </dev/null >/dev/null 2>&1
exit 0
