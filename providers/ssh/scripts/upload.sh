c=$1
umask 077
mkdir -p -- "$c/tmp" || exit 1
t=$c/tmp/up.$$
rm -rf -- "$t"
mkdir -- "$t" || exit 1
fail() { cd /; rm -rf -- "$t"; exit 1; }
tar -xof - -C "$t" || fail
cd "$t" || fail
for d in ??; do
	[ -d "$d" ] || continue
	mkdir -p -- "$c/$d" && mv -f -- "$d"/* "$c/$d/" || fail
done
cd / && rm -rf -- "$t"
