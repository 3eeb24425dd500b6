# trainrun's run wrapper. Usage (every value is a positional argument, never
# script text):
#   sh WRAPPER RUNDIR TIMEOUT GRACE -- COMMAND [ARG...]
# It must be started in RUNDIR, as the leader of its own session (setsid):
# the session and its process group are the run, and signals go to the
# whole group. It works in the directory it was started in and never goes
# to RUNDIR by path (RUNDIR is there for ps and messages): a wrapper that
# comes up after its directory was removed and made anew finds nothing of
# the new one. It writes
#   pid       "PID STARTTICKS" of this shell (STARTTICKS: /proc field 22),
#             created exclusively: this is the wrapper's claim on the run.
#             A wrapper that cannot create it runs nothing.
#   log       the command's stdout and stderr, appended
#   timedout  the timeout in seconds, when it expired
#   environ   the command's environment, as export -p prints it
#   exit      the exit code and a newline, written last, once nothing of
#             the run's process group or session is left
# TRAINRUN_PATH_PREPEND, when set, is put first on the command's PATH.
# TRAINRUN_CHECKPOINT_DIR, when set, is made (mode 0700) if it is missing.
# POSIX sh only: it must run under dash and on hosts with nothing but sh
# and sed.

limit=$2 grace=$3
shift 4
set -f

pgrp=$$ ticks=
procstat() { [ $# -ge 20 ] || return 0; pgrp=$3 ticks=${20}; }
if [ -r "/proc/$$/stat" ] && read -r stat <"/proc/$$/stat"; then
	procstat ${stat##*)}
fi
# When the wrapper started, in hundredths of a second since boot (see left).
born=
now() {
	up=
	read -r up _ 2>/dev/null </proc/uptime || return 1
	case $up in *[!0-9.]* | *.*.* | .* | *.) return 1 ;; *.??) up=$((${up%.*} * 100 + 1${up#*.} - 100)) ;; *) return 1 ;; esac
}
! now || born=$up
# The claim: an exclusive create (O_EXCL). Whoever holds pid owns the run;
# a trainrun that finds a run directory without one takes it first, and
# this wrapper then leaves without a trace.
if ! { set -C; echo "$$ $ticks" >pid; } 2>/dev/null; then
	exit 0
fi
set +C
exec </dev/null >>log 2>&1

# An environment's directories (a venv's bin) come first on PATH: only here
# is the machine's own PATH known.
if [ -n "${TRAINRUN_PATH_PREPEND-}" ]; then
	PATH=$TRAINRUN_PATH_PREPEND${PATH:+:$PATH}
	export PATH
fi
unset TRAINRUN_PATH_PREPEND

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

# nap sleeps $1 seconds in a child that USR1 kills; it fails when told to
# quit.
s= quit=
nap() {
	sleep "$1" &
	s=$!
	[ -z "$quit" ] || kill -s KILL "$s" 2>/dev/null
	wait "$s"
	s=
	[ -z "$quit" ]
}

# The watchdog sleeps for the timeout; told to stop (USR1) it ends at once,
# so no sleeping process outlives a run that ends in time. On expiry it
# marks the run timed out, asks this shell to stop the group, and after the
# grace period kills the command; what else is left this shell kills.
watchdog() {
	trap '' TERM INT HUP
	trap 'quit=1; [ -z "$s" ] || kill -s KILL "$s" 2>/dev/null' USR1
	nap "$limit" || exit 0
	echo "$limit" >timedout
	kill -s TERM $$ 2>/dev/null
	nap "$grace" || exit 0
	kill -s KILL "$child" 2>/dev/null
}

# left sets $left to the processes still in the run's process group or
# session (not zombies) but this shell and its own children (the sed that
# looks). It fails where there is no /proc to look in.
#
# Every process of the run was made after this shell, and pids are handed
# out in increasing order until they wrap at pid_max. So when the last pid
# handed out (/proc/loadavg, read after listing /proc) is still above ours
# and the run took under a second (a full wrap then means more than
# pid_max forks in that second), only the processes with a pid between
# ours and that last one can be the run's: those few are read with the
# shell's own read, and a run that left nothing costs no process at all (one
# sed over every /proc/PID/stat took about 24 ms of CPU on a busy machine,
# as much as the rest of a trivial run). Otherwise, or with more than a
# few to read, one sed reads them. /proc is listed, not globbed for
# /proc/PID/stat: that glob looks at every process's stat file (a stat call
# each, hundreds on a busy machine), where only the few in range are read.
left() {
	left=
	[ -r "/proc/$$/stat" ] || return 1
	set +f
	set -- /proc/[0-9]*
	set -f
	if [ -n "$born" ] && now && [ $((up - born)) -lt 100 ] &&
		read -r last 2>/dev/null </proc/loadavg && last=${last##* } &&
		case $last in '' | *[!0-9]*) false ;; *) [ "$last" -gt $$ ] ;; esac; then
		after=
		for w; do
			p=${w#/proc/}
			case $p in '' | *[!0-9]*) continue ;; esac
			[ "$p" -le $$ ] || [ "$p" -gt "$last" ] || after="$after $p"
		done
		set -- $after
		# Reading one costs a few hundred one-byte reads (dash reads byte
		# by byte): sixteen of them cost less than starting sed.
		if [ $# -le 16 ]; then
			for p in "$@"; do
				# A process may end between listing and reading; zsh reports
				# a failed redirection on the shell's own stderr unless the
				# whole group's is redirected.
				{ read -r stat <"/proc/$p/stat"; } 2>/dev/null || continue
				inrun "$p" ${stat##*)}
			done
			return 0
		fi
		stats=
		for p; do stats="$stats /proc/$p/stat"; done
	else
		stats=
		for w; do
			case ${w#/proc/} in '' | *[!0-9]*) ;; *) stats="$stats $w/stat" ;; esac
		done
	fi
	set -- $stats
	[ $# -gt 0 ] || return 0
	for w in $(sed -n -e "s/^\([0-9][0-9]*\) .*) [^ZX] \([0-9][0-9]*\) $$ [^)]*\$/\1:\2/p" \
		-e "s/^\([0-9][0-9]*\) .*) [^ZX] \([0-9][0-9]*\) [0-9][0-9]* $$ [^)]*\$/\1:\2/p" "$@" 2>/dev/null); do
		case $w in "$$":* | *:"$$") ;; *) left="$left ${w%:*}" ;; esac
	done
}

# inrun adds process $1 to $left when the rest of its stat line, after the
# name, says it is a live process of the run's group or session, not this
# shell's child.
inrun() {
	[ $# -ge 5 ] || return 0
	case $2 in Z | X) return 0 ;; esac
	[ "$3" != $$ ] || return 0
	[ "$4" = $$ ] || [ "$5" = $$ ] || return 0
	left="$left $1"
}

# tick sleeps a tenth of a second (a second where sleep takes only whole
# ones) and counts it in $t, in tenths.
tick() {
	if sleep 0.1 2>/dev/null; then t=$((t + 1)); else sleep 1; t=$((t + 10)); fi
}

# reap ends what the command left in the run's process group or session:
# TERM, then, after the grace period (none when the watchdog spent it
# already, killing the command), KILL. No process of a finished run is
# left to hold its GPU.
reap() {
	kill -s TERM 0 2>/dev/null
	left || return 1
	[ -n "$left" ] || return 0
	kill -s TERM $left 2>/dev/null
	t=0
	[ ! -e timedout ] || [ "$code" != 137 ] || t=$((grace * 10))
	while [ -n "$left" ] && [ "$t" -lt $((grace * 10)) ]; do
		tick
		left
	done
	t=0
	while [ -n "$left" ] && [ "$t" -lt 600 ]; do
		kill -s KILL $left 2>/dev/null
		tick
		left
	done
}

if [ "$pgrp" != "$$" ]; then
	echo "trainrun: the run wrapper must lead its own process group" >&2
	code=126
elif [ -n "$sig" ]; then
	code=$((128 + sig))
elif [ -n "${TRAINRUN_CHECKPOINT_DIR-}" ] && ! [ -d "$TRAINRUN_CHECKPOINT_DIR" ] &&
	! mkdir -p -m 700 -- "$TRAINRUN_CHECKPOINT_DIR"; then
	code=126
else
	# What the command is given, for the run's record (the run directory
	# is the run's own, mode 0700: this may hold secrets).
	export -p >environ 2>/dev/null || :
	# exec skips shell functions and builtins: the command is a program.
	(cd src || exit 126; exec "$@") &
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
	if [ -n "$dog" ]; then
		kill -s USR1 "$dog" 2>/dev/null
		wait "$dog" 2>/dev/null
	fi
	# What the command left running in the background ends with it.
	if ! reap; then
		# No /proc: whatever is left is killed with this shell, once the
		# exit code is written.
		echo "$code" >exit
		kill -s KILL 0
	fi
fi
# One short write: a reader that sees no final newline has seen it too early.
# (Cheaper than writing exit.tmp and renaming it with mv, a process per run.)
echo "$code" >exit
