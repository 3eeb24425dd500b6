root=$1 rel=$2 wantdir=$3
cd -P "$root" 2>/dev/null || exit 44
rootp=$(pwd -P)
inside() { case $1/ in "$rootp"/*) return 0 ;; esac; echo "$rel resolves to $1, outside $root" >&2; exit 48; }
[ -e "./$rel" ] || exit 44
if [ -d "./$rel" ]; then
	cd -P "./$rel" || exit 1
	srcp=$(pwd -P)
	inside "$srcp"
	printf d
	exec tar -cf - .
fi
if [ "$wantdir" = 1 ]; then echo "$rel is not a directory" >&2; exit 49; fi
if [ ! -f "./$rel" ]; then echo "$rel is not a regular file or directory" >&2; exit 49; fi
f=./$rel
if [ -L "$f" ]; then
	f=$(readlink -f -- "$f") || { echo "cannot resolve the link $rel (no readlink -f)" >&2; exit 1; }
fi
case $f in */*) d=${f%/*} ;; *) d=. ;; esac
b=${f##*/}
cd -P "${d:-/}" || exit 1
inside "$(pwd -P)/$b"
printf f
exec tar -cf - "./$b"
