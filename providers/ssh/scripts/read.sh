[ -e "$1" ] || exit 44
exec cat -- "$1"
