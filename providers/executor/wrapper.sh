# trainrun's run wrapper. Usage (every value is a positional argument, never
# script text):
#   sh -c "$script" trainrun-run RUNDIR TIMEOUT GRACE -- COMMAND [ARG...]
# It must be started as the leader of its own process group (setsid): the
# group is the run, and signals go to the whole group. It writes
#   RUNDIR/pid       "PID STARTTICKS" of this shell (STARTTICKS: /proc field 22)
#   RUNDIR/log       the command's stdout and stderr, appended
#   RUNDIR/timedout  the timeout in seconds, when it expired
#   RUNDIR/exit      the exit code and a newline, written last
# TRAINRUN_PATH_PREPEND, when set, is put first on the command's PATH.
# TRAINRUN_CHECKPOINT_DIR, when set, is made (mode 0700) if it is missing.
# POSIX sh only: it must run under dash and on hosts with nothing but sh.

rundir=$1 limit=$2 grace=$3
shift 4
case $rundir in /*) ;; *) rundir=$PWD/$rundir ;; esac
exec </dev/null >>"$rundir/log" 2>&1
set -f

# An environment's directories (a venv's bin) come first on PATH: only here
# is the machine's own PATH known.
if [ -n "${TRAINRUN_PATH_PREPEND-}" ]; then
	PATH=$TRAINRUN_PATH_PREPEND${PATH:+:$PATH}
	export PATH
fi
unset TRAINRUN_PATH_PREPEND

pgrp=$$ ticks=
procstat() { [ $# -ge 20 ] || return 0; pgrp=$3 ticks=${20}; }
if [ -r "/proc/$$/stat" ] && read -r stat <"/proc/$$/stat"; then
	procstat ${stat##*)}
fi
echo "$$ $ticks" >"$rundir/pid"

# A stop signal goes to the whole group once: this shell then ignores the
# stop signals, so the TERM it sends to the group does not come back. The
# command ignores INT (sh ignores it in asynchronous lists), so INT asks the
# run to stop with TERM.
sig=
stop() {
	trap '' TERM INT HUP
	sig=$2
	kill -s "$1" 0 2>/dev/null
}
trap 'stop TERM 15' TERM
trap 'stop TERM 2' INT
trap 'stop HUP 1' HUP

# The watchdog sleeps for the timeout in a child it can kill when told to
# stop (USR1), so no sleeping process outlives a run that ends in time. On
# expiry it marks the run timed out, asks this shell to stop the group, and
# after the grace period kills what is left of the group, itself included.
watchdog() {
	trap '' TERM INT HUP
	s= quit=
	trap 'quit=1; [ -z "$s" ] || kill -s KILL "$s" 2>/dev/null' USR1
	sleep "$limit" &
	s=$!
	[ -z "$quit" ] || kill -s KILL "$s" 2>/dev/null
	wait "$s"
	s=
	[ -z "$quit" ] || exit 0
	trap '' USR1
	echo "$limit" >"$rundir/timedout"
	kill -s TERM $$ 2>/dev/null
	sleep "$grace"
	kill -s KILL 0
}

if [ "$pgrp" != "$$" ]; then
	echo "trainrun: the run wrapper must lead its own process group" >&2
	code=126
elif [ -n "$sig" ]; then
	code=$((128 + sig))
elif ! cd "$rundir/src"; then
	code=126
elif [ -n "${TRAINRUN_CHECKPOINT_DIR-}" ] && ! [ -d "$TRAINRUN_CHECKPOINT_DIR" ] &&
	! mkdir -p -m 700 -- "$TRAINRUN_CHECKPOINT_DIR"; then
	code=126
else
	# exec skips shell functions and builtins: the command is a program.
	exec "$@" &
	child=$!
	dog=
	if [ "$limit" -gt 0 ]; then
		# Its stderr is not the run's: some shells (busybox) report the
		# sleep it kills as "Killed".
		watchdog 2>/dev/null &
		dog=$!
	fi
	# wait returns early when a trapped signal arrives: wait again while
	# the command is still there (a zombie counts, so its status is kept).
	while :; do
		wait "$child"
		code=$?
		[ "$code" -gt 128 ] && kill -0 "$child" 2>/dev/null || break
	done
	trap '' TERM INT HUP
	[ -z "$dog" ] || kill -s USR1 "$dog" 2>/dev/null
	# What the command left running in the background ends with it.
	kill -s TERM 0 2>/dev/null
fi
# One short write: a reader that sees no final newline has seen it too early.
# (Cheaper than writing exit.tmp and renaming it with mv, a process per run.)
echo "$code" >"$rundir/exit"
