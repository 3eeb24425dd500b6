dir=$1 trees=$2 keep=$3
rmtree() { rm -rf -- "$1" 2>/dev/null || { chmod -R u+rwx -- "$1" 2>/dev/null; rm -rf -- "$1"; }; }
[ -d "$trees" ] || { mkdir -p -- "$trees" && chmod 700 -- "$trees"; } || exit 1
id=${dir%/*}
id=${id##*/}
if [ -f "$dir.tree" ] && [ -d "$dir" ] && [ ! -L "$dir" ] && [ ! -e "$trees/$id" ]; then
	mv -- "$dir" "$trees/$id" && mv -- "$dir.tree" "$trees/$id.tree" || exit 1
elif [ -e "$dir" ] || [ -e "$dir.tree" ]; then
	rm -f -- "$dir.tree"
	[ ! -e "$dir" ] || mv -- "$dir" "$trees/.trash-$id" || exit 1
fi
n=0
for e in "$trees"/*; do
	[ ! -d "$e" ] || n=$((n + 1))
done
if [ "$n" -gt "$keep" ]; then
	old=$(cd "$trees" && ls -1dt -- */ | tail -n +$((keep + 1)))
	set -f # the names are split, never globbed; they are run ids
	for e in $old; do
		e=${e%/}
		mv -- "$trees/$e" "$trees/.trash-$e" 2>/dev/null && rm -f -- "$trees/$e.tree"
	done
	set +f
fi
for e in "$trees"/*.tree; do
	[ ! -f "$e" ] || [ -d "${e%.tree}" ] || rm -f -- "$e"
done
for e in "$trees"/.trash-*; do
	[ ! -e "$e" ] || rmtree "$e"
done
exit 0
