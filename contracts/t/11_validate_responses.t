#!/usr/bin/env perl
# contracts/bin/validate-responses.mjs, the check tests/run.sh runs on every answer the suites
# received: answers that agree with the OpenAPI documents pass, and each kind of disagreement
# (status, content type, body schema, required header, unlisted method) fails with its reason.
use strict;
use warnings;
use File::Temp ();
use JSON::PP ();
use Test::More;
use lib 'tests/lib';
use Souk::Test qw(repo_root);

my $root = repo_root();
my $json = JSON::PP->new->canonical;
my %rid = ('x-request-id' => 'r1');

# verdict(\%exchange): exit status and output of the validator on that one exchange.
sub verdict {
    my ($x) = @_;
    my $dir = File::Temp->newdir;
    open my $fh, '>', "$dir/1.jsonl" or die $!;
    print $fh $json->encode({file => 'contracts/t/x.t', method => 'GET', headers => {}, %$x}), "\n";
    close $fh;
    my $out = `node '$root/contracts/bin/validate-responses.mjs' --files . '$dir' 2>&1`;
    return ($? >> 8, $out);
}

my $user = {id => 7, email => 'ada@example.com', name => 'Ada', role => 'customer',
    created_at => '2025-11-25T10:00:00Z', shipping_address => undef};
my %ok = (
    'register: shipping_address null' => {method => 'POST', url => 'http://h/api/v1/accounts/register',
        status => 201, headers => {%rid, 'content-type' => 'application/json'}, body => $json->encode($user)},
    'a problem under default (503)' => {url => 'http://h/api/v1/categories', status => 503,
        headers => {%rid, 'content-type' => 'application/problem+json'},
        body => $json->encode({type => 'https://souk.dev/problems/unavailable', title => 'Service unavailable',
            status => 503, detail => 'failing checks: db', instance => '/api/v1/categories', request_id => 'r1'})},
    'v2 suggest' => {url => 'http://h/api/v2/search/suggest?q=zen', status => 200,
        headers => {%rid, 'content-type' => 'application/json'},
        body => '{"suggestions":[{"id":3,"name":"Zenbook"}]}'},
    'a path no document has' => {url => 'http://h/internal/x', status => 200, body => 'x'},
);
for my $name (sort keys %ok) {
    my ($rc, $out) = verdict($ok{$name});
    is($rc, 0, "passes: $name") or diag($out);
}

my $problem = $json->encode({type => 'https://souk.dev/problems/not-found', title => 'Not found',
    status => 404, detail => 'no', instance => '/api/v1/categories', request_id => 'r1'});
my %bad = (
    'an undeclared status' => [{url => 'http://h/api/v1/categories', status => 404,
        headers => {%rid, 'content-type' => 'application/problem+json'}, body => $problem},
        qr/status 404 is not declared/],
    'a body its schema refuses' => [{method => 'POST', url => 'http://h/api/v1/accounts/register',
        status => 201, headers => {%rid, 'content-type' => 'application/json'},
        body => $json->encode({%$user, shipping_address => 'Main St'})}, qr{body: /shipping_address}],
    'a content type not declared' => [{url => 'http://h/api/v1/categories', status => 200,
        headers => {%rid, 'content-type' => 'text/html'}, body => '{"items":[]}'},
        qr/content type 'text\/html'/],
    'a required header missing' => [{url => 'http://h/api/v1/categories', status => 200,
        headers => {'content-type' => 'application/json'}, body => '{"items":[]}'},
        qr/required header X-Request-Id is missing/],
    'instance not a URI reference' => [{url => 'http://h/api/v1/products/1%20x', status => 404,
        headers => {%rid, 'content-type' => 'application/problem+json'},
        body => $json->encode({type => 'https://souk.dev/problems/not-found', title => 'Not found',
            status => 404, detail => 'no', instance => '/api/v1/products/1 x', request_id => 'r1'})},
        qr{/instance must match format "uri-reference"}],
    'an unlisted method answered 200' => [{method => 'DELETE', url => 'http://h/api/v1/categories',
        status => 200, headers => {%rid, 'content-type' => 'application/json'}, body => '{}'},
        qr/status 200, want 405/],
    'a v2 answer its schema refuses' => [{url => 'http://h/api/v2/search/suggest?q=zen', status => 200,
        headers => {%rid, 'content-type' => 'application/json'}, body => '{"suggestions":[{"id":"3"}]}'},
        qr/api-v2\.yaml GET \/api\/v2\/search\/suggest 200: body/],
);
for my $name (sort keys %bad) {
    my ($x, $why) = @{$bad{$name}};
    my ($rc, $out) = verdict($x);
    is($rc, 1, "fails: $name") or diag($out);
    like($out, $why, "  with its reason") or diag($out);
}

done_testing;
