# trainrun's directory environment builder (POSIX sh), after lock.sh.
# Arguments: DIR ID RAND SUFFIX. Standard input: the build's input (a
# requirement list, an environment file), saved as $input ($prefix.inSUFFIX)
# for the steps.
#
# DIR/ID, when it is there, is a finished environment: a symlink to
# DIR/.d/ID.RAND, where it was built (its tools record that path, so it is
# never moved). A build runs the steps below with $prefix set, its output
# in $prefix.log. The steps write $prefix/.trainrun-lock (the resolved
# package set). Then the symlink is renamed into place. A failed build
# prints the log's last lines on stderr and removes everything it made.
#
# Prints "cached" or "built", then the lock.
rand=$3 suffix=$4
env=$dir/$id
if [ -e "$env/.trainrun-lock" ]; then
	echo cached
	cat "$env/.trainrun-lock"
	exit 0
fi
# What a killed build left, and a dangling link.
rm -rf "$env" "$dir/.d/$id".*
prefix=$dir/.d/$id.$rand
input=$prefix.in$suffix
cat >"$input" || exit 1
(
	set -e
	cd "$dir/.d"
	steps
) >"$prefix.log" 2>&1 </dev/null
code=$?
if [ "$code" -eq 0 ] && [ -f "$prefix/.trainrun-lock" ] &&
	ln -s ".d/$id.$rand" "$prefix.link" && mv "$prefix.link" "$env"; then
	rm -f "$input" "$prefix.log"
	echo built
	cat "$env/.trainrun-lock"
	exit 0
fi
[ "$code" -ne 0 ] || code=1
# Executors keep the first 4 KiB of stderr: the last lines, cut short.
tail -n 15 "$prefix.log" | cut -c 1-250 >&2
rm -rf "$prefix" "$input" "$prefix.log" "$prefix.link"
exit "$code"
