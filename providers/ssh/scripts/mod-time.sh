[ -e "$1" ] || exit 44
stat -c %.9Y -- "$1" 2>/dev/null || stat -c %Y -- "$1"
