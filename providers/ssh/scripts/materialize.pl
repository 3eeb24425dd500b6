use strict;
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
