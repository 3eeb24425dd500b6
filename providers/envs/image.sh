# trainrun's image builder (POSIX sh), after lock.sh. Arguments: DIR ID
# RUNTIME TAG CONTEXT DOCKERFILE [BUILD OPTION...]. CONTEXT is an uploaded
# copy of the build context, removed in any case. Prints "cached" when the
# image is there already, "built" after building it; a failed build prints
# the last lines of the builder's output on stderr.
rt=$3 tag=$4 ctx=$5 dockerfile=$6
shift 6
if "$rt" image inspect "$tag" >/dev/null 2>&1; then
	rm -rf "$ctx"
	echo cached
	exit 0
fi
"$rt" build --tag "$tag" --file "$ctx/$dockerfile" "$@" "$ctx" >"$ctx.log" 2>&1 </dev/null
code=$?
if [ "$code" -ne 0 ]; then
	tail -n 15 "$ctx.log" | cut -c 1-250 >&2
fi
rm -rf "$ctx" "$ctx.log"
[ "$code" -eq 0 ] || exit "$code"
echo built
