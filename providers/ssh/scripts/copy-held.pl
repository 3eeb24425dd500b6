use strict;
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
