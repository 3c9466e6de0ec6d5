#!/usr/bin/env perl
# The event contract as code (contracts/bin/events.mjs): published type@versions keep their
# frozen schema's promises, the examples in contracts/events.md are valid, and the validator
# tests/run.sh runs on every event the suites published refuses what breaks the contract.
use strict;
use warnings;
use File::Temp ();
use JSON::PP ();
use Test::More;
use lib 'tests/lib';
use Souk::Test qw(repo_root);

my $root = repo_root();
my $bin = "$root/contracts/bin/events.mjs";
my $json = JSON::PP->new->canonical;

my $out = `node '$bin' compat 2>&1`;
is($? >> 8, 0, 'every payload schema is compatible with its frozen copy') or diag($out);

# breaks(then, now): what a schema change breaks for consumers, [] when nothing.
sub breaks {
    my ($then, $now) = @_;
    my $js = sprintf('import {breaks} from %s; console.log(JSON.stringify(breaks(%s, %s)));',
        $json->encode("$root/contracts/bin/events.mjs"), $json->encode($then), $json->encode($now));
    my $r = `node --input-type=module -e '$js' 2>&1`;
    return eval { $json->decode($r) } // die "breaks: $r";
}
my $v1 = {type => 'object', required => ['a'], properties => {a => {type => 'integer'},
    b => {type => 'string', enum => ['x', 'y']}}};
my %change = (
    'an optional member added' => [{%$v1, properties => {%{$v1->{properties}}, c => {type => 'string'}}}, 0],
    'a required member removed' => [{%$v1, required => []}, 1],
    'a member removed' => [{%$v1, properties => {a => {type => 'integer'}}}, 1],
    'a member retyped' => [{%$v1, properties => {%{$v1->{properties}}, a => {type => 'string'}}}, 1],
    'a member made nullable' => [{%$v1, properties => {%{$v1->{properties}}, a => {type => ['integer', 'null']}}}, 1],
    'a member newly required' => [{%$v1, required => ['a', 'b']}, 1],
    'an enum widened' => [{%$v1, properties => {%{$v1->{properties}}, b => {type => 'string', enum => ['x', 'y', 'z']}}}, 1],
    'an enum narrowed' => [{%$v1, properties => {%{$v1->{properties}}, b => {type => 'string', enum => ['x']}}}, 0],
);
for my $name (sort keys %change) {
    my ($now, $breaking) = @{$change{$name}};
    my $b = breaks($v1, $now);
    if ($breaking) { ok(scalar @$b, "breaking: $name") or diag('no break found') }
    else { is_deeply($b, [], "compatible: $name") }
}

# validate(@envelopes): exit status and output of events.mjs validate on these events (an
# envelope given as [$envelope, invalid_on_purpose => 1] is a record with that mark).
sub validate {
    my $dir = File::Temp->newdir;
    open my $fh, '>', "$dir/1.events.jsonl" or die $!;
    for (@_) {
        my ($e, %mark) = ref $_ eq 'ARRAY' ? @$_ : ($_);
        print $fh $json->encode({file => 'contracts/t/x.t', envelope => ref $e ? $json->encode($e) : $e,
            ($mark{invalid_on_purpose} ? (invalid_on_purpose => JSON::PP::true) : ())}), "\n";
    }
    close $fh;
    my $r = `node '$bin' validate --files . '$dir' 2>&1`;
    return ($? >> 8, $r);
}
sub envelope {
    my ($type, $payload, %o) = @_;
    return {id => '0f8fad5b-d9cb-469f-a165-70867728950e', type => $type, version => 1,
        occurred_at => '2026-12-05T06:01:26.123Z', aggregate_id => 42, trace_id => '',
        payload => $payload, %o};
}

# The examples of contracts/events.md: the envelope, DOC, and each payload section's.
open my $fh, '<', "$root/contracts/events.md" or die $!;
my $md = do { local $/; <$fh> };
my ($env_example) = $md =~ /^## The envelope\n.*?```json\n(.*?)```/ms;
my ($doc) = $md =~ /^`DOC` below is .*?```json\n(.*?)```/ms;
ok($env_example && $doc, 'events.md has the envelope and DOC examples');
my @examples = ($env_example =~ s/\n//gr);
for my $t (qw(product.created product.updated)) {
    push @examples, envelope($t, {version => 1, product => $json->decode($doc), category_path => ['laptops']});
}
push @examples, envelope('product.price_changed', {version => 2, product => $json->decode($doc),
    old_price => {amount => 139900, currency => 'EUR'}});
while ($md =~ /^### `([a-z_.]+)` \(version (\d+)\)\n(?:(?!^##).)*?```json\n(.*?)```/msg) {
    push @examples, envelope($1, $json->decode($3), version => $2 + 0);
}
my ($rc, $r) = validate(@examples);
is($rc, 0, scalar(@examples) . ' examples of events.md are valid') or diag($r);
like($r, qr/user\.address_changed\@1/, 'the payload sections were read') or diag($r);

my %bad = (
    'a rating out of range' => [envelope('review.created', {review_id => 1, product_id => 2,
        user_id => 3, rating => 6, created_at => '2026-12-05T06:01:26Z'}), qr/review\.created\@1 payload/],
    'a required member missing' => [envelope('user.registered', {user_id => 7, email => 'a@b.c',
        name => 'A', role => 'customer'}), qr/created_at/],
    'a version with no schema' => [envelope('product.deleted', {version => 3, product_id => 4}, version => 2),
        qr/product\.deleted\@2: no payload schema/],
    'an envelope member missing' => [do { my $e = envelope('product.deleted', {version => 3, product_id => 4});
        delete $e->{trace_id}; $e }, qr/envelope: .*trace_id/],
    'not JSON' => ['{"id":', qr/is not JSON/],
);
for my $name (sort keys %bad) {
    my ($e, $why) = @{$bad{$name}};
    my ($rc, $r) = validate($e);
    is($rc, 1, "refused: $name") or diag($r);
    like($r, $why, '  with its reason');
}

# A test's deliberately malformed event (Souk::Test::event_invalid_on_purpose) must fail.
my $nine = envelope('review.created', {review_id => 1, product_id => 2, user_id => 3, rating => 9,
    created_at => '2026-12-05T06:01:26Z'});
is((validate([$nine, invalid_on_purpose => 1]))[0], 0, 'an event invalid on purpose is no violation');
($rc, $r) = validate([envelope('product.deleted', {version => 3, product_id => 4}), invalid_on_purpose => 1]);
is($rc, 1, 'an event marked invalid on purpose that passes is one');
like($r, qr/marked invalid on purpose, yet passes/, '  with its reason');

done_testing;
