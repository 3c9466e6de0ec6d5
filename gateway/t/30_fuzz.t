# gateway/t/30_fuzz.t - the libFuzzer harnesses of fuzz/ (fuzz/README.md), briefly: build them
# with clang (`make fuzz-build`, incremental), then run every target for a few seconds from its
# committed seeds. Each must end cleanly: exit 0, no sanitizer, leak or invariant report.
# `make fuzz` runs them longer. Nothing here reads or writes var/: the working corpora and
# logs live in a temporary directory; a reproducer is kept under fuzz/crashes/ (git-ignored).
#
#   SOUK_FUZZ_SECONDS   seconds per target (default 7)
#
# clang is a build dependency (scripts/bootstrap.sh installs it): without it this fails.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(time);

my $ROOT = "$FindBin::Bin/../..";
chdir $ROOT or die "$ROOT: $!";
my $SECONDS = $ENV{SOUK_FUZZ_SECONDS} // 7;

my @targets = map { m{^fuzz/(\w+)\.c$} ? $1 : () } sort glob('fuzz/*.c');
cmp_ok(scalar(@targets), '>=', 5, "fuzz targets: @targets");

my $clang = `clang --version 2>&1`;
ok($? == 0 && $clang =~ /clang version/, 'clang is installed (scripts/bootstrap.sh)')
    or do { diag($clang // ''); done_testing(); exit 1 };

# A clean make: not the caller's jobserver (make test may run under -j), not its build dir.
my %env = %ENV;
delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES)};
my $t0 = time;
my $out = `make -s -j2 fuzz-build 2>&1`;
my $rc = $?;
diag(sprintf('make fuzz-build took %.1f s', time - $t0));
ok($rc == 0, 'make fuzz-build') or do { diag($out); done_testing(); exit 1 };
%ENV = %env;

my $tmp = tempdir('souk-fuzz.XXXXXX', TMPDIR => 1, CLEANUP => 1);
local $ENV{FUZZ_CORPUS} = "$tmp/corpus";
local $ENV{FUZZ_LOGS} = "$tmp/logs";
for my $t (@targets) {
    my $start = time;
    # run.sh bounds the run (-max_total_time); timeout only guards against a hang of it.
    my $res = `timeout @{[$SECONDS + 60]} fuzz/run.sh $SECONDS $t 2>&1`;
    my $code = $? >> 8;
    my $log = do { local (@ARGV, $/) = ("$tmp/logs/$t.log"); <> } // '';
    my @reports = $log =~ /^(.*(?:ERROR: (?:AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant broken).*)$/mg;
    my ($runs) = $log =~ /^#(\d+)\s+DONE/m;
    ok($code == 0 && !@reports && defined $runs,
        sprintf('%s: %s runs in %.1f s, no crash, leak or broken invariant', $t, $runs // 0, time - $start))
        or diag($res);
}

done_testing();
