p=$1
[ -e "$p" ] || [ -L "$p" ] || exit 0
rm -rf -- "$p" 2>/dev/null && exit 0
chmod -R u+rwx -- "$p" 2>/dev/null
rm -rf -- "$p"
