package Souk::Browser;
# Souk::Browser - run a browser script (web/t/*.mjs, web/t/lib/browser.mjs) in
# Debian's chromium through node and playwright-core, and turn each JSON line it prints into one
# Test::More check. The script gets its inputs as environment variables; its stderr is passed
# through as diagnostics when a check fails or node exits non-zero.
use strict;
use warnings;
use Exporter 'import';
use JSON::PP ();
use File::Temp ();
use Test::More;

our @EXPORT_OK = qw(run_browser browser_ready);

# browser_ready(): '' when chromium and web/node_modules are there, else why not (the caller
# fails, never skips: make test installs both through scripts/bootstrap.sh).
sub browser_ready {
    my $chromium = $ENV{SOUK_CHROMIUM} || '/usr/bin/chromium';
    return "$chromium is not installed (scripts/bootstrap.sh installs Debian's chromium)" unless -x $chromium;
    return "web/node_modules/playwright-core is missing (scripts/bootstrap.sh runs npm ci in web/)"
        unless -d 'web/node_modules/playwright-core';
    return '';
}

# run_browser($script, %env): runs node $script with %env added, one check per line; returns
# the number of failed checks. Fails (one check) when node exits non-zero or printed no check.
sub run_browser {
    my ($script, %env) = @_;
    my $why = browser_ready();
    if ($why) { fail("browser: $why"); return 1 }
    my $err = File::Temp->new(SUFFIX => '.stderr');
    local %ENV = (%ENV, %env);
    open(my $fh, '-|', 'node', $script) // die "node: $!";
    my ($n, $bad) = (0, 0);
    my $json = JSON::PP->new;
    while (my $line = <$fh>) {
        chomp $line;
        my $r = eval { $json->decode($line) };
        if (!$r) { diag("browser: $line"); next }
        $n++;
        ok($r->{ok}, $r->{name}) or do { $bad++; diag($r->{diag}) if defined $r->{diag} };
    }
    close $fh;
    my $rc = $? >> 8;
    ok($rc == 0 && $n > 0, "browser script $script ran ($n checks, exit $rc)") or $bad++;
    return $bad;
}

1;
