package ssh

// The POSIX sh scripts the executor runs on the machine. Each is passed as
// the script of sh -c with its values as positional arguments, the whole
// command line quoted by executor.CommandLine: values are never script
// text. They need nothing but sh and POSIX utilities.

import "github.com/trainrun/trainrun/providers/runner"

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
const homeScript = `if command -v perl >/dev/null 2>&1; then printf 1; else printf 0; fi
printf '%s' "$HOME"`

// aliveScript PID TICKS prints 1 when PID runs (and started at TICKS, when
// given), or, for a negative PID, when that process group has a live
// member; 0 otherwise. Zombies are not alive.
const aliveScript = `pid=$1 ticks=$2
case $pid in
-*)
	g=${pid#-}
	kill -s 0 -- "$pid" 2>/dev/null || kill -s 0 "$pid" 2>/dev/null || { echo 0; exit 0; }
	[ -d /proc/self ] || { echo 1; exit 0; }
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		s=${s##*)}
		set -f; set -- $s; set +f
		if [ "$3" = "$g" ] && [ "$1" != Z ] && [ "$1" != X ]; then echo 1; exit 0; fi
	done
	echo 0; exit 0 ;;
esac
if [ -r "/proc/$pid/stat" ] && { read -r s <"/proc/$pid/stat"; } 2>/dev/null; then
	s=${s##*)}
	set -f; set -- $s
	case $1 in Z|X) echo 0; exit 0 ;; esac
	if [ -n "$ticks" ] && [ "${20}" != "$ticks" ]; then echo 0; else echo 1; fi
	exit 0
fi
[ -d /proc/self ] && { echo 0; exit 0; }
if kill -s 0 "$pid" 2>/dev/null; then echo 1; else echo 0; fi
`

// signalScript SIG PID sends SIG (a name, or 0) to PID, a process group
// when negative. dash wants "--" before a negative pid, busybox refuses it:
// both forms are tried.
const signalScript = `sig=$1 pid=$2
kill -s "$sig" -- "$pid" 2>/dev/null && exit 0
kill -s "$sig" "$pid" 2>/dev/null && exit 0
kill -s 0 -- "$pid" 2>/dev/null || kill -s 0 "$pid" 2>/dev/null || exit 47
echo "cannot signal process $pid" >&2
exit 1
`

// readScript PATH writes the file to stdout.
const readScript = `[ -e "$1" ] || exit 44
exec cat -- "$1"
`

// modTimeScript PATH prints the file's modification time in seconds, with
// nanoseconds where stat can (GNU), else whole (busybox).
const modTimeScript = `[ -e "$1" ] || exit 44
stat -c %.9Y -- "$1" 2>/dev/null || stat -c %Y -- "$1"
`

// writeScript PATH MODE replaces the file with stdin, never writing
// through a symbolic link.
const writeScript = `p=$1 m=$2
if [ -L "$p" ]; then echo "$p is a symbolic link" >&2; exit 46; fi
d=${p%/*}
[ -d "${d:-/}" ] || exit 44
umask 077
cat >"$p" && chmod "$m" "$p"
`

// createScript PATH MODE creates the file exclusively (O_EXCL, as the
// shell's noclobber opens a file that is not there) with stdin; exit 45
// when anything is at PATH.
const createScript = `p=$1 m=$2
if [ -e "$p" ] || [ -L "$p" ]; then exit 45; fi
d=${p%/*}
[ -d "${d:-/}" ] || exit 44
umask 077
set -C
if ! { : >"$p"; } 2>/dev/null; then
	if [ -e "$p" ] || [ -L "$p" ]; then exit 45; fi
	exit 1
fi
cat >>"$p" && chmod "$m" "$p"
`

// mkdirScript PATH MODE creates the directory, its missing parents 0700;
// exit 45 when it exists.
const mkdirScript = `p=$1 m=$2
if [ -e "$p" ] || [ -L "$p" ]; then exit 45; fi
umask 077
[ -z "${p%/*}" ] || [ -d "${p%/*}" ] || mkdir -p -- "${p%/*}" 2>/dev/null
mkdir -m "$m" -- "$p" && exit 0
[ -e "$p" ] && exit 45
exit 1
`

// makeDirScript PATH MODE NFILES FILE… DIR… is mkdirScript, then makes the
// empty files FILE… (0644) and the directories DIR… (0755) in PATH: one
// mkdir for all of them.
const makeDirScript = `p=$1 m=$2 n=$3
shift 3
if [ -e "$p" ] || [ -L "$p" ]; then exit 45; fi
umask 077
[ -z "${p%/*}" ] || [ -d "${p%/*}" ] || mkdir -p -- "${p%/*}" 2>/dev/null
if ! mkdir -m "$m" -- "$p"; then [ -e "$p" ] && exit 45; exit 1; fi
umask 022
cd "$p" || exit 1
while [ "$n" -gt 0 ]; do
	: >"$1" || exit 1
	n=$((n - 1))
	shift
done
[ $# -eq 0 ] || mkdir -- "$@"
`

// removeScript PATH removes it and everything below, also read-only
// directories a run left.
const removeScript = `p=$1
[ -e "$p" ] || [ -L "$p" ] || exit 0
rm -rf -- "$p" 2>/dev/null && exit 0
chmod -R u+rwx -- "$p" 2>/dev/null
rm -rf -- "$p"
`

// openScript PATH OFFSET writes "x" and then the file from byte OFFSET:
// the marker tells a reader that the file exists before any byte of it. A
// directory opens, as os.Open opens one, and reads as empty.
const openScript = `p=$1 off=$2
[ -e "$p" ] || exit 44
printf x
if [ -d "$p" ]; then exit 0; fi
if [ "$off" -gt 0 ]; then exec tail -c "+$((off + 1))" -- "$p"; fi
exec cat -- "$p"
`

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
const startEpilogue = `if command -v setsid >/dev/null 2>&1; then
	setsid ARGV </dev/null >/dev/null 2>&1 &
	p=$!
else
	p=$$
fi
t=
if { read -r s <"/proc/$p/stat"; } 2>/dev/null; then s=${s##*)}; set -f; set -- $s; t=${20}; fi
echo "$p $t"
[ "$p" != "$$" ] || exec ARGV </dev/null >/dev/null 2>&1
exit 0
`

// missingScript CACHE reads blob hashes from stdin, one a line, and
// prints those the cache lacks.
const missingScript = `c=$1
while IFS= read -r h; do
	[ -f "$c/${h%"${h#??}"}/${h#??}" ] || echo "$h"
done
`

// uploadScript CACHE unpacks a tar of blobs (named ab/cdef…) from stdin
// into a directory of its own and only then moves them into the cache, so
// that the cache never holds a partial blob.
const uploadScript = `c=$1
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
`

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
const materializePerl = `use strict;
use Fcntl qw(O_WRONLY O_CREAT O_EXCL);
my ($dir, $cache, $trees, $upload) = @ARGV;
my $hires = eval { require Time::HiRes; Time::HiRes->can("lstat") };
$/ = "\0";
my (@recs, %want, %wdirs);
while (1) {
	my $kind = <STDIN>;
	die "truncated input\n" unless defined $kind;
	chomp($kind);
	last if $kind eq "";
	my $mode = <STDIN>; my $src = <STDIN>; my $rel = <STDIN>;
	die "truncated input\n" unless defined $rel;
	chomp($mode, $src, $rel);
	push @recs, [$kind, $mode, $src, $rel];
	$want{$rel} = [$kind, $mode, $src];
	for (my $d = $rel; $d =~ s{/[^/]*$}{}; ) { $wdirs{$d} = 1; }
}
# st is what DIR.tree records of a file: inode, size, ctime (any write,
# chmod or link moves it) and mode.
sub statline { return "$_[1] $_[7] $_[10] " . ($_[2] & 07777); }
sub st {
	my @s = Time::HiRes::lstat($_[0]);
	return @s ? statline(@s) : undef;
}
# expect holds, for each file of a claimed tree that may be kept, the inode,
# size and ctime it must still have; kept the files kept, with their record.
my (%expect, %kept);
sub clean {
	my ($rel) = @_;
	my $p = $rel eq "" ? $dir : "$dir/$rel";
	chmod(0755, $p) or die "chmod $rel: $!\n";
	opendir(my $dh, $p) or die "read $rel: $!\n";
	my @names = grep { $_ ne "." && $_ ne ".." } readdir($dh);
	closedir($dh);
	my $pre = $rel eq "" ? "" : "$rel/";
	for my $n (@names) {
		my $r = $pre . $n;
		my $q = "$dir/$r";
		my @s = Time::HiRes::lstat($q) or die "lstat $r: $!\n";
		my $t = $s[2] & 0170000;
		if ($t == 0100000) {
			my $e = $expect{$r};
			if (defined $e && $e eq "$s[1] $s[7] $s[10]") {
				$kept{$r} = "$e " . ($s[2] & 07777);
				next;
			}
		} elsif ($t == 0040000) {
			clean($r);
			next if $wdirs{$r};
			rmdir($q) or die "rmdir $r: $!\n";
			next;
		} elsif ($t == 0120000) {
			my $w = $want{$r};
			next if $w && $w->[0] eq "l" && readlink($q) eq $w->[2];
		}
		unlink($q) or die "remove $r: $!\n";
	}
}
if ($hires && $trees ne "" && opendir(my $th, $trees)) {
	# Newest first: the likeliest to hold what is wanted now.
	my @c = map { $_->[0] } sort { $b->[1] <=> $a->[1] }
		map { [$_, (lstat("$trees/$_.tree"))[9] || 0] } grep { !/^\./ && !/\.tree$/ } readdir($th);
	closedir($th);
	for my $c (@c) {
		rmdir($dir) or last; # not empty: not ours to replace
		if (rename("$trees/$c", $dir)) {
			if (open(my $sf, "<", "$trees/$c.tree")) {
				while (defined(my $r = <$sf>)) {
					my $stat = <$sf>; my $hash = <$sf>;
					last unless defined $hash;
					chomp($r, $stat, $hash);
					my $w = $want{$r};
					my ($ino, $size, $ctime, $mode) = split / /, $stat;
					# A whole-second ctime says the file system keeps no
					# finer one: a change in the same second would go unseen.
					$expect{$r} = "$ino $size $ctime"
						if $w && $w->[0] eq "f" && $w->[2] eq $hash && oct($w->[1]) == $mode && $ctime != int($ctime);
				}
				close($sf);
			}
			unlink("$trees/$c.tree");
			if (!eval { clean(""); 1 }) {
				rename($dir, "$trees/.trash-$$-" . time()) or die "set aside $dir: $!\n";
				mkdir($dir, 0755) or die "mkdir $dir: $!\n";
				%kept = ();
			}
			last;
		}
		mkdir($dir, 0755) or die "mkdir $dir: $!\n";
	}
}
# The blobs of the files still to copy that the cache lacks: the sender
# reads the list and sends them as a tar for UPLOAD, on the rest of stdin.
my (%missing, @missing);
for my $rec (@recs) {
	my ($kind, $mode, $src, $rel) = @$rec;
	next if $kind ne "f" || $kept{$rel} || $missing{$src};
	next if -f "$cache/" . substr($src, 0, 2) . "/" . substr($src, 2);
	$missing{$src} = 1;
	push @missing, $src;
}
$| = 1;
print map({ "$_\n" } @missing), "\n";
if (@missing) {
	system("sh", "-c", $upload, "sh", $cache) == 0 or die "upload: the blobs did not arrive\n";
}
my %made = ("" => 1);
sub mkdirs {
	my ($rel) = @_;
	return if $made{$rel};
	my $parent = $rel =~ m{^(.*)/[^/]*$} ? $1 : "";
	mkdirs($parent);
	my $p = "$dir/$rel";
	if (!mkdir($p, 0755)) {
		die "mkdir $rel: $!\n" unless -d $p && !-l $p;
	}
	chmod(0755, $p);
	$made{$rel} = 1;
}
my $buf;
for my $rec (@recs) {
	my ($kind, $mode, $src, $rel) = @$rec;
	next if $kept{$rel};
	mkdirs($rel =~ m{^(.*)/[^/]*$} ? $1 : "");
	my $dst = "$dir/$rel";
	if ($kind eq "l") {
		next if -l $dst && readlink($dst) eq $src;
		symlink($src, $dst) or die "symlink $rel: $!\n";
		next;
	}
	my $from = "$cache/" . substr($src, 0, 2) . "/" . substr($src, 2);
	open(my $in, "<", $from) or die "blob $src: $!\n";
	binmode($in);
	sysopen(my $out, $dst, O_WRONLY | O_CREAT | O_EXCL, 0600) or die "create $rel: $!\n";
	binmode($out);
	while (1) {
		my $n = sysread($in, $buf, 1 << 20);
		die "read blob $src: $!\n" unless defined $n;
		last if $n == 0;
		my $off = 0;
		while ($off < $n) {
			my $w = syswrite($out, $buf, $n - $off, $off);
			die "write $rel: $!\n" unless defined $w;
			$off += $w;
		}
	}
	close($in);
	close($out) or die "write $rel: $!\n";
	chmod(oct($mode), $dst) or die "chmod $rel: $!\n";
}
exit 0 unless $hires;
open(my $sf, ">", "$dir.tree.tmp") or die "record $dir.tree: $!\n";
for my $rec (@recs) {
	next unless $rec->[0] eq "f";
	my $s = $kept{$rec->[3]} || st("$dir/$rec->[3]");
	die "lstat $rec->[3]: $!\n" unless defined $s;
	print $sf "$rec->[3]\0$s\0$rec->[2]\0";
}
close($sf) or die "record $dir.tree: $!\n";
rename("$dir.tree.tmp", "$dir.tree") or die "record $dir.tree: $!\n";
`

// recycleScript DIR TREES KEEP moves DIR, a tree materializePerl recorded
// in DIR.tree, into TREES (as TREES/ID and TREES/ID.tree, ID the run's)
// for a later materialize to take over, then removes all but the KEEP
// newest trees. A tree without its record is removed: there is no knowing
// what of it is still as materialized. Removals go through
// TREES/.trash-…, so that one never races a claim (both rename the tree;
// only one can). Builtins but for mv: each process costs a millisecond.
const recycleScript = `dir=$1 trees=$2 keep=$3
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
`

// copyOutScript ROOT REL WANTDIR writes "d" and a tar of the directory
// ROOT/REL (its content, as ./…), or "f" and a tar holding the regular
// file ROOT/REL; REL is resolved and must lie in ROOT. Symbolic links
// below a directory are archived as links, never followed.
const copyOutScript = `root=$1 rel=$2 wantdir=$3
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
`

// copyHeldPerl ROOT REL WANTDIR is copyOutScript for a machine whose
// files trainrun may already hold (a run's outputs, often the same
// checkpoint again): it resolves REL as copyOutScript does, writes "d" or
// "f", then a record per regular file — NAME MODE SIZE SHA256 ("-" for
// files under 64 KiB, always sent), each NUL-terminated, NAME as in the
// archive (./…) — and an empty name. It
// then reads from stdin the NUL-separated names of the files to send and
// writes a tar of those, with every directory and symbolic link (never
// followed) of the tree. Exit 50: no Digest::SHA here (use copyOutScript).
const copyHeldPerl = `use strict;
use Cwd qw(realpath);
use Fcntl qw(:mode);
my ($root, $rel, $wantdir) = @ARGV;
eval { require Digest::SHA; 1 } or exit 50;
# Files below this size are sent without asking: hashing them costs more
# than sending them.
my $small = 64 << 10;
my $rootp = realpath($root);
exit 44 unless defined $rootp && -d $rootp;
exit 44 unless -e "$rootp/$rel";
my $real = realpath("$rootp/$rel");
exit 44 unless defined $real;
if ($rootp ne "/" && $real ne $rootp && index($real, "$rootp/") != 0) {
	print STDERR "$rel resolves to $real, outside $root\n";
	exit 48;
}
$| = 1;
sub sha {
	my ($p, $size) = @_;
	return "-" if $size < $small;
	open(my $fh, "<:raw", $p) or die "read $p: $!\n";
	return Digest::SHA->new(256)->addfile($fh)->hexdigest;
}
sub rec { print join("\0", @_), "\0"; }
my ($base, @list, %files);
if (-d $real) {
	$base = $real;
	print "d";
	@list = (".");
	my @stack = (".");
	while (@stack) {
		my $d = pop @stack;
		opendir(my $dh, "$base/$d") or die "read $d: $!\n";
		for my $n (sort grep { $_ ne "." && $_ ne ".." } readdir($dh)) {
			my $r = "$d/$n";
			my @s = lstat("$base/$r") or next;
			if (S_ISLNK($s[2])) {
				push @list, $r;
			} elsif (S_ISDIR($s[2])) {
				push @list, $r;
				push @stack, $r;
			} elsif (S_ISREG($s[2])) {
				$files{$r} = 1;
				rec($r, $s[2] & 07777, $s[7], sha("$base/$r", $s[7]));
			}
		}
		closedir($dh);
	}
} else {
	if ($wantdir) { print STDERR "$rel is not a directory\n"; exit 49; }
	if (!-f $real) { print STDERR "$rel is not a regular file or directory\n"; exit 49; }
	my ($d, $b) = $real =~ m{^(.*)/([^/]*)$};
	$base = $d eq "" ? "/" : $d;
	print "f";
	my @s = stat($real);
	$files{"./$b"} = 1;
	rec("./$b", $s[2] & 07777, $s[7], sha($real, $s[7]));
}
print "\0";
$/ = "\0";
while (defined(my $n = <STDIN>)) {
	chomp $n;
	push @list, $n if delete $files{$n};
}
chdir($base) or die "cd: $!\n";
open(my $t, "|-", "tar", "-cf", "-", "--no-recursion", "--null", "-T", "-") or die "tar: $!\n";
print $t "$_\0" for @list;
close($t) or exit 1;
`

// factsScript prints what attach records of a machine, as KEY=VALUE lines.
const factsScript = `printf 'os=%s\n' "$(uname -s 2>/dev/null)"
printf 'kernel=%s\n' "$(uname -r 2>/dev/null)"
printf 'arch=%s\n' "$(uname -m 2>/dev/null)"
if [ -r /etc/os-release ]; then (. /etc/os-release 2>/dev/null; printf 'distro=%s\n' "$PRETTY_NAME"); fi
printf 'cpus=%s\n' "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null)"
if [ -r /proc/meminfo ]; then
	while read -r k v _; do [ "$k" = MemTotal: ] && printf 'memory_kib=%s\n' "$v"; done </proc/meminfo
else
	printf 'memory=%s\n' "$(sysctl -n hw.memsize 2>/dev/null)"
fi
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | while IFS= read -r g; do printf 'gpu=%s\n' "$g"; done
fi
printf 'home=%s\n' "$HOME"
`
