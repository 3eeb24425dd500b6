package ssh

// The POSIX sh scripts the executor runs on the machine. Each is passed as
// the script of sh -c with its values as positional arguments, the whole
// command line quoted by executor.CommandLine: values are never script
// text. They need nothing but sh and POSIX utilities.

import (
	_ "embed"

	"github.com/trainrun/trainrun/providers/runner"
)

// Exit codes the scripts use to say what went wrong.
const (
	codeNotExist  = 44 // the path does not exist
	codeExist     = 45 // the path exists (Mkdir)
	codeSymlink   = 46 // refusing to write through a symbolic link
	codeNoProcess = 47 // no process matches (Signal)
	codeEscapes   = 48 // a path resolves outside its root (CopyOut)
	codeKind      = 49 // not the kind of file asked for (CopyOut)
	codeNoSHA     = 50 // no Digest::SHA: copyHeldPerl cannot hash
)

// homeScript prints whether the machine has perl ("1" or "0") and the
// login's home directory: one session tells both.
//
//go:embed scripts/home.sh
var homeScript string

// aliveScript PID TICKS prints 1 when PID runs (and started at TICKS, when
// given), or, for a negative PID, when that process group has a live
// member; 0 otherwise. Zombies are not alive.
//
//go:embed scripts/alive.sh
var aliveScript string

// signalScript SIG PID sends SIG (a name, or 0) to PID, a process group
// when negative. dash wants "--" before a negative pid, busybox refuses it:
// both forms are tried.
//
//go:embed scripts/signal.sh
var signalScript string

// readScript PATH writes the file to stdout.
//
//go:embed scripts/read.sh
var readScript string

// modTimeScript PATH prints the file's modification time in seconds, with
// nanoseconds where stat can (GNU), else whole (busybox).
//
//go:embed scripts/mod-time.sh
var modTimeScript string

// writeScript PATH MODE replaces the file with stdin, never writing
// through a symbolic link.
//
//go:embed scripts/write.sh
var writeScript string

// createScript PATH MODE creates the file exclusively (O_EXCL, as the
// shell's noclobber opens a file that is not there) with stdin; exit 45
// when anything is at PATH.
//
//go:embed scripts/create.sh
var createScript string

// mkdirScript PATH MODE creates the directory, its missing parents 0700;
// exit 45 when it exists.
//
//go:embed scripts/mkdir.sh
var mkdirScript string

// makeDirScript PATH MODE NFILES FILE… DIR… is mkdirScript, then makes the
// empty files FILE… (0644) and the directories DIR… (0755) in PATH: one
// mkdir for all of them.
//
//go:embed scripts/make-dir.sh
var makeDirScript string

// removeScript PATH removes it and everything below, also read-only
// directories a run left.
//
//go:embed scripts/remove.sh
var removeScript string

// openScript PATH OFFSET writes "x" and then the file from byte OFFSET:
// the marker tells a reader that the file exists before any byte of it. A
// directory opens, as os.Open opens one, and reads as empty.
//
//go:embed scripts/open.sh
var openScript string

// startPrologue begins the script that starts a detached process (read by
// sh -s from the session's stdin, so that the environment, secrets
// included, is neither in a file nor on a command line). It drops every
// variable of the login's environment but those a local run inherits from
// trainrun; the generated part then exports the run's, changes directory
// and runs startEpilogue.
var startPrologue = `for n in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
	case $n in ` + runner.InheritedPattern() + `) ;; *) command unset "$n" 2>/dev/null ;; esac
done
unset n
`

// startEpilogue starts "$@"-to-be (the generated ARGV) in a session of its
// own with setsid, or, without setsid, becomes it: the shell sshd starts
// already leads a session of its own. Either way it prints "PID TICKS"
// first.
//
//go:embed scripts/start-epilogue.sh
var startEpilogue string

// missingScript CACHE reads blob hashes from stdin, one a line, and
// prints those the cache lacks.
//
//go:embed scripts/missing.sh
var missingScript string

// uploadScript CACHE unpacks a tar of blobs (named ab/cdef…) from stdin
// into a directory of its own and only then moves them into the cache, so
// that the cache never holds a partial blob.
//
//go:embed scripts/upload.sh
var uploadScript string

// materializePerl DIR CACHE TREES UPLOAD reads NUL-separated records from
// stdin, each KIND MODE SOURCE PATH, up to an empty KIND: KIND "f" copies
// blob SOURCE to DIR/PATH with MODE, "l" makes DIR/PATH a symbolic link to
// SOURCE. It prints the blobs the cache lacks, a line each, then an empty
// line, and when there are any runs UPLOAD (uploadScript) on the rest of
// stdin, where the sender has put them. The paths were
// checked by the sender (relative, clean, none below another) and links
// come last, so nothing is written through a link. perl is there on nearly
// every Linux (Debian's perl-base is Essential) and on macOS; one process
// copies a whole tree.
//
// With Time::HiRes (Debian's perl; not perl-base alone) it also records
// DIR.tree: for each file, PATH, its inode, size, ctime and mode, and its
// content hash. A tree recycled into TREES (see recycleScript) is then
// taken over instead of copying: DIR becomes the newest tree of TREES that
// it can claim (an atomic rename, so two claims never share one), every
// file whose inode, size and ctime are still what DIR.tree recorded, with
// the mode and hash wanted, is kept, and everything else (files a
// run wrote or changed: a change moves ctime, which no run can set back;
// directories, links and files that are not wanted) is removed before the
// missing files are copied. Nothing is followed through a symbolic link.
// If cleaning fails, the tree goes to TREES/.trash-… and DIR starts empty.
//
//go:embed scripts/materialize.pl
var materializePerl string

// recycleScript DIR TREES KEEP moves DIR, a tree materializePerl recorded
// in DIR.tree, into TREES (as TREES/ID and TREES/ID.tree, ID the run's)
// for a later materialize to take over, then removes all but the KEEP
// newest trees. A tree without its record is removed: there is no knowing
// what of it is still as materialized. Removals go through
// TREES/.trash-…, so that one never races a claim (both rename the tree;
// only one can). Builtins but for mv: each process costs a millisecond.
//
//go:embed scripts/recycle.sh
var recycleScript string

// copyOutScript ROOT REL WANTDIR writes "d" and a tar of the directory
// ROOT/REL (its content, as ./…), or "f" and a tar holding the regular
// file ROOT/REL; REL is resolved and must lie in ROOT. Symbolic links
// below a directory are archived as links, never followed.
//
//go:embed scripts/copy-out.sh
var copyOutScript string

// copyHeldPerl ROOT REL WANTDIR is copyOutScript for a machine whose
// files trainrun may already hold (a run's outputs, often the same
// checkpoint again): it resolves REL as copyOutScript does, writes "d" or
// "f", then a record per regular file — NAME MODE SIZE SHA256 ("-" for
// files under 64 KiB, always sent), each NUL-terminated, NAME as in the
// archive (./…) — and an empty name. It
// then reads from stdin the NUL-separated names of the files to send and
// writes a tar of those, with every directory and symbolic link (never
// followed) of the tree. Exit 50: no Digest::SHA here (use copyOutScript).
//
//go:embed scripts/copy-held.pl
var copyHeldPerl string

// factsScript prints what attach records of a machine, as KEY=VALUE lines.
//
//go:embed scripts/facts.sh
var factsScript string
