#!/usr/bin/env perl
# The OpenAPI documents pass Redocly's linter with its recommended rules, every warning an
# error (contracts/redocly.yaml); and the linter does fail a document that breaks a rule.
use strict;
use warnings;
use File::Temp ();
use Test::More;
use lib 'tests/lib';
use Souk::Test qw(repo_root);

my $dir = repo_root() . '/contracts';
my $redocly = "$dir/node_modules/.bin/redocly";
ok(-x $redocly, 'redocly is installed (scripts/bootstrap.sh: npm ci in contracts/)')
    or BAIL_OUT('run scripts/bootstrap.sh');

# lint(@files): exit status and output of redocly lint with the project's configuration.
sub lint {
    my (@files) = @_;
    my $cmd = join ' ', map {"'$_'"} $redocly, 'lint', "--config=$dir/redocly.yaml",
        '--format=stylish', @files;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

my @docs = sort glob "$dir/api-*.yaml";
ok(scalar(grep {m{/api-v1\.yaml$}} @docs) && scalar(grep {m{/api-v2\.yaml$}} @docs),
    'api-v1.yaml and api-v2.yaml are there');
for my $doc (@docs) {
    my ($rc, $out) = lint($doc);
    (my $name = $doc) =~ s{.*/}{};
    is($rc, 0, "$name passes redocly lint (recommended-strict)") or diag($out);
}

# No suppressions: no ignore file, and the configuration turns no rule off.
ok(!-e "$dir/.redocly.lint-ignore.yaml", 'no lint ignore file');
open my $fh, '<', "$dir/redocly.yaml" or die "redocly.yaml: $!";
my $cfg = do { local $/; <$fh> } =~ s/#[^\n]*//gr;
unlike($cfg, qr/\boff\b|\bwarn\b/, 'redocly.yaml turns no rule off or down');

# The linter can fail: a public operation without `security: []` is an error.
my $tmp = File::Temp->newdir;
open my $in, '<', "$dir/api-v1.yaml" or die $!;
my $text = do { local $/; <$in> };
ok($text =~ s/(operationId: categoryList\n)      security: \[\]\n/$1/, 'made a broken copy');
open my $out, '>', "$tmp/api-v1.yaml" or die $!;
print $out $text;
close $out;
my ($rc, $msg) = lint("$tmp/api-v1.yaml");
isnt($rc, 0, 'a public operation without security: [] fails the lint');
like($msg, qr/security-defined/, 'for the rule security-defined');

done_testing;
