# web/t/62_console.t - the control room in Debian's chromium (web/t/console.mjs): a gateway
# whose admin listener serves build/web/console/, in front of two fake upstreams that answer
# the same product differently (the monolith's and the catalog's sides of a shadow diff) and
# a fake souk-sync /metrics for the migration panel; the
# operator switches products to shadow, reads the diff, canaries 10 %, goes back to legacy;
# axe on every panel. SOUK_SCREENSHOT_DIR=docs/screenshots refreshes the README's pictures.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use Test::More;

use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;
use Souk::Browser qw(run_browser);

my $product = {id => 1, name => 'Brass lamp', price => 10, tags => ['a']};
my $L = Souk::FakeUpstream->start(name => 'monolith', reply => {json => $product});
my $N = Souk::FakeUpstream->start(name => 'catalog', reply => {json => {%$product, price => 11, tags => ['a', 'b']}},
    paths => {'/api/v1/products/broken' => {status => 500, json => {error => 'broken'}},    # the rollback's cause
              '/api/v1/products/down' => {status => 503, json => {error => 'down'}}});       # the breaker's

# The catalog's souk-sync as the gateway reads it (GET /sync): its /metrics text.
my $S = Souk::FakeUpstream->start(name => 'sync', reply => {status => 404, body => 'no'},
    paths => {'/metrics' => {headers => ['Content-Type' => 'text/plain'], body => join '',
        map {"souk_sync_$_->[0] $_->[1]\n"} [lag_seconds => 3], [lag_events => 40], [applied_per_second => 250],
        [applied_total => 12000], [errors_total => 0], [refused => 0]}});

# The pages as make built them (the console: SOUK_GATEWAY_WEB_DIR/console/ on the admin listener).
my $web = Souk::Test::repo_root() . '/' . ($ENV{SOUK_BUILD} || 'build') . '/web';
ok(-f "$web/console/index.html", "the console is built ($web/console)") or BAIL_OUT('make builds the console');

my $gw = Souk::Gateway->start(env => {SOUK_GATEWAY_SYNC => 'catalog=' . $S->addr, SOUK_GATEWAY_WEB_DIR => $web}, routes => table(
    upstreams => {monolith => pool($L), catalog => pool($N)},
    routes => [
        route(name => 'products', path => '/api/v1/products', methods => ['GET', 'HEAD'], legacy => 'monolith',
            new => 'catalog', shadow => {methods => ['GET', 'HEAD'], ignore => [], headers => [],
                max_body => 65536, max_inflight => 64},
            rollback => {error_rate => 0.5, window_ms => 30000, min_requests => 20}),
        route(name => 'rest', path => '/', legacy => 'monolith'),
        {name => 'shop', path => '/shop', methods => ['GET', 'HEAD'], static => 'storefront'},    # pages, no mode
    ]));

# The catalog's record as soukctl migrate reports it (tests/integration/40_migrate_report.t
# checks soukctl's side): a verify that found differences.
is($gw->admin(PUT => '/migration/catalog', {json => {step => 'verify', status => 'failed', done_step => 'sync',
    updated_by => 'ops', updated_at => '2026-12-08T00:00:00Z', verify_ok => JSON_FALSE, verify_at => '2026-12-08T00:00:00Z',
    verify_detail => 'products id 17: differs; products id 23: missing on the service',
    log => ['2026-12-08T00:00:00Z  ops  catalog  verify  failed  812 ms  2 keys still differ']}})->{status}, 200,
    'the catalog\'s migration record is reported');

my $bad = run_browser("$FindBin::Bin/console.mjs",
    CONSOLE_URL => $gw->admin_url . '/',
    ADMIN_URL   => $gw->admin_url,
    ADMIN_TOKEN => $Souk::Gateway::ADMIN_TOKEN,
    PUBLIC_URL  => "http://127.0.0.1:$gw->{port}");
diag(join "\n", grep {defined} (split /\n/, $gw->stderr_text)[-30 .. -1]) if $bad; # the gateway's last words

$gw->stop;
done_testing;
