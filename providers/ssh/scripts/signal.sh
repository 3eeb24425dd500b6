sig=$1 pid=$2
kill -s "$sig" -- "$pid" 2>/dev/null && exit 0
kill -s "$sig" "$pid" 2>/dev/null && exit 0
kill -s 0 -- "$pid" 2>/dev/null || kill -s 0 "$pid" 2>/dev/null || exit 47
echo "cannot signal process $pid" >&2
exit 1
