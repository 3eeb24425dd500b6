package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/providers/executor"
)

var _ executor.TreeHasher = (*Executor)(nil)

// hashTreePerl ROOT prints a record per regular file and symbolic link
// below ROOT, never following links: KIND MODE PATH SHA256, each field
// NUL-terminated, KIND "f" or "l", MODE 644 or 755 (the target's hash for
// a link, mode 0), PATH relative to ROOT. Entries named .git and
// directories named .trainrun are left out, as snapshots leave them out.
// It hashes with Digest::SHA where perl has it, else with sha256sum or
// shasum.
const hashTreePerl = `use strict;
use Fcntl qw(:mode);
my ($root) = @ARGV;
chdir($root) or exit 44;
my $sha = eval { require Digest::SHA; 1 };
sub tool {
	my @cmd = @_;
	open(my $h, "-|", @cmd) or die "$cmd[0]: $!\n";
	my $l = <$h>;
	close($h);
	return defined $l && $l =~ /^([0-9a-f]{64})/ ? $1 : undef;
}
sub filehash {
	my ($p) = @_;
	if ($sha) {
		open(my $fh, "<:raw", $p) or die "read $p: $!\n";
		return Digest::SHA->new(256)->addfile($fh)->hexdigest;
	}
	my $h = tool("sha256sum", "--", $p) // tool("shasum", "-a", "256", "--", $p);
	defined $h or die "no Digest::SHA, sha256sum or shasum to hash $p\n";
	return $h;
}
sub strhash {
	my ($s) = @_;
	return Digest::SHA::sha256_hex($s) if $sha;
	my $h = tool("sh", "-c", 'printf %s "$1" | { sha256sum 2>/dev/null || shasum -a 256; }', "sh", $s);
	defined $h or die "no Digest::SHA, sha256sum or shasum\n";
	return $h;
}
$| = 0;
my @stack = ("");
while (@stack) {
	my $d = pop @stack;
	opendir(my $dh, $d eq "" ? "." : $d) or die "read $d: $!\n";
	for my $n (grep { $_ ne "." && $_ ne ".." } readdir($dh)) {
		next if $n eq ".git";
		my $r = $d eq "" ? $n : "$d/$n";
		my @s = lstat($r) or next;
		if (S_ISLNK($s[2])) {
			my $t = readlink($r);
			print join("\0", "l", 0, $r, strhash($t)), "\0" if defined $t;
		} elsif (S_ISDIR($s[2])) {
			push @stack, $r unless $n eq ".trainrun";
		} elsif (S_ISREG($s[2])) {
			print join("\0", "f", ($s[2] & 0111) ? 755 : 644, $r, filehash($r)), "\0";
		}
	}
	closedir($dh);
}
`

// HashTree hashes dir on the machine; see executor.TreeHasher. It needs
// perl there.
func (e *Executor) HashTree(ctx context.Context, dir string) ([]providers.File, error) {
	if err := checkAbs("hash", dir); err != nil {
		return nil, err
	}
	if !e.hasPerl(ctx) {
		return nil, errors.New("hash " + dir + ": no perl on the machine")
	}
	out, err := e.run(ctx, true, []string{"perl", "-e", hashTreePerl, dir}, nil)
	if exitCode(err) == codeNotExist {
		return nil, &fs.PathError{Op: "hash", Path: dir, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", dir, err)
	}
	return parseHashRecords(out)
}

// parseHashRecords reads hashTreePerl's output.
func parseHashRecords(out []byte) ([]providers.File, error) {
	fields := bytes.Split(out, []byte{0})
	if len(fields) > 0 && len(fields[len(fields)-1]) == 0 {
		fields = fields[:len(fields)-1]
	}
	if len(fields)%4 != 0 {
		return nil, errors.New("hash: truncated listing")
	}
	files := make([]providers.File, 0, len(fields)/4)
	for i := 0; i < len(fields); i += 4 {
		kind, mode, p, h := string(fields[i]), string(fields[i+1]), string(fields[i+2]), string(fields[i+3])
		if err := executor.CheckPath(p); err != nil || len(h) != 64 || path.Clean(p) != p {
			return nil, fmt.Errorf("hash: bad record for %q", p)
		}
		f := providers.File{Path: p, Hash: h}
		switch kind {
		case "l":
			f.Mode = 0o120000
		case "f":
			m, err := strconv.ParseUint(mode, 8, 32)
			if err != nil || m != 0o644 && m != 0o755 {
				return nil, fmt.Errorf("hash: bad mode %q for %q", mode, p)
			}
			f.Mode = uint32(m)
		default:
			return nil, fmt.Errorf("hash: bad record kind %q", kind)
		}
		files = append(files, f)
	}
	return files, nil
}
