# web/t/63_console_sagas.t - the control room's Sagas panel against the real order saga
# (Souk::Saga: users, catalog, cart, orders, inventory, payments on PostgreSQL, Redis and
# RabbitMQ, a gateway in front): an operator gives the admin token, signs in with an admin
# account through the admin listener's /api/ (a customer's account is refused), sees the
# orders by state, filters them, opens one order's timeline across services, inspects the
# message inventory parked in its dead-letter queue and replays it; axe on it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use Test::More;
use JSON::PP ();

use Souk::Test;
use Souk::Saga qw(CARD_OK CARD_DECLINED);
use Souk::Gateway;
use Souk::Browser qw(run_browser browser_ready);

my $web = Souk::Test::repo_root() . '/' . ($ENV{SOUK_BUILD} || 'build') . '/web';
ok(-f "$web/console/index.html", "the console is built ($web/console)") or BAIL_OUT('make builds the console');
# Two quick attempts, so a poisoned message is parked within a second.
my %fast = (SOUK_MQ_MAX_ATTEMPTS => 2, SOUK_MQ_RETRY_DELAY_MS => 50);
my $shop = Souk::Saga->start(gateway_env => {SOUK_GATEWAY_WEB_DIR => $web}, env => {inventory => {%fast}});
my $gw = $shop->gateway;

# The saga tracker's and the dead letters' routes, as in gateway/routes.default.json (Souk::Saga
# routes the v1 saga).
my $t = $gw->routes;
push @{$t->{routes}}, Souk::Gateway::route(name => 'sagas_v2', path => '/api/v2/admin/sagas', new => 'orders',
    mode => 'new', auth => 'admin'),
    map { Souk::Gateway::route(name => "dlq_$_", path => "/api/v2/admin/dlq/$_", new => $_, mode => 'new', auth => 'admin') }
    qw(orders inventory payments);
$t->{upstreams}{payments} //= Souk::Gateway::pool('127.0.0.1:' . $shop->svc('payments')->port);
my $put = $gw->admin(PUT => '/routes', {json => $t});
is($put->{status}, 200, 'the sagas_v2 route is installed') or diag $put->{body};

my $p = $shop->product(stock => 20);
my ($buyer, $other, $admin) = @{$shop->buyers(3)};
$shop->cart_add($buyer, $p->{id}, 1);
my $ok = $shop->checkout($buyer, card => CARD_OK);
ok($ok->{status} == 201 || $ok->{status} == 200, 'an order is placed') or diag $ok->{body};
my $order = $ok->{json}{id} // $ok->{json}{order}{id};
$shop->cart_add($other, $p->{id}, 1);
my $no = $shop->checkout($other, card => CARD_DECLINED);
my $declined = $no->{json} ? ($no->{json}{id} // '') : '';
wait_until('both orders are settled', sub {
    my $r = http(GET => $shop->url . "/api/v2/orders/$order", {headers => {Authorization => "Bearer $buyer->{token}"}});
    return $r->{json} && $r->{json}{status} eq 'CONFIRMED';
}, 60);

# A poisoned order.created (a line of quantity 0) from orders' outbox: inventory refuses it,
# retries, and parks it in inventory.dlq.
my $poison = sprintf('%08x-0000-4000-8000-%012x', $$, time);
my $env = JSON::PP->new->canonical->encode({id => $poison, type => 'order.created', version => 1,
    occurred_at => '2026-12-08T00:00:00.000Z', aggregate_id => 424242, trace_id => '',
    payload => {order_id => 424242, user_id => 7, lines => [{product_id => $p->{id}, quantity => 0,
        unit_price => {amount => 1000, currency => 'EUR'}}], total => {amount => 0, currency => 'EUR'},
        card => {token => 'sim_ok_4242_9f86d081884c7d65', last4 => '4242'},
        ship_to => {line1 => '1 Poison Row', line2 => '', city => 'Lisbon', postal_code => '1000-001', country => 'PT'},
        deadline => '2026-12-08T00:00:30Z', created_at => '2026-12-08T00:00:00Z'}});
Souk::Test::event_invalid_on_purpose($poison);
(my $quoted = $env) =~ s/'/''/g;
pg_sql($shop->db('orders')->{db}, "INSERT INTO outbox (id, type, aggregate_id, envelope) VALUES ('$poison', 'order.created', 424242, '$quoted')");
ok(wait_until('inventory parks the poisoned order.created', sub {
    (metric_value($shop->svc('inventory'), 'souk_events_dead_lettered_total') // 0) >= 1 }, 30), 'inventory parked it');

# The third buyer becomes an admin (users' role column: the only way there is).
pg_sql($shop->db('users')->{db}, "UPDATE users SET role = 'admin' WHERE id = $admin->{id}");

my $bad = run_browser("$FindBin::Bin/console_sagas.mjs",
    CONSOLE_URL    => $gw->admin_url . '/',
    ADMIN_TOKEN    => $Souk::Gateway::ADMIN_TOKEN,
    ADMIN_EMAIL    => $admin->{email},
    CUSTOMER_EMAIL => $buyer->{email},
    PASSWORD       => 'correct horse battery',
    ORDER_ID       => $order,
    POISON_ID      => $poison);
ok(wait_until('the replayed message is parked again (its cause is not fixed)', sub {
    (metric_value($shop->svc('inventory'), 'souk_events_dead_lettered_total') // 0) >= 2 }, 30),
    'the replay sent it back to inventory, which parked it again');

# The dead-letter routes as an API: admin only, bad input is a 4xx problem.
my $dlq = $shop->url . '/api/v2/admin/dlq/inventory';
my %admin = (headers => {Authorization => 'Bearer ' . $shop->admin_token});
is_problem(http(GET => $dlq), 401, 'unauthorized', 'the dead letters without a token: 401');
is_problem(http(GET => $dlq, {headers => {Authorization => "Bearer $buyer->{token}"}}), 403, 'forbidden',
    'with a customer\'s: 403');
my $list = http(GET => $dlq, \%admin);
is($list->{status}, 200, 'an admin lists them');
my ($again) = grep { ($_->{event_id} // '') eq $poison } @{$list->{json}{items} || []};
ok($again && $again->{attempts} == 2 && $again->{type} eq 'order.created', 'the replayed message, parked again after 2 attempts')
    or diag explain $list->{json};
for my $bad ([{}, 'neither'], [{event_id => $poison, all => JSON::PP::true}, 'both'], [{all => 1}, 'all not a boolean'],
    [{event_id => ''}, 'an empty id'], [{event_id => $poison, x => 1}, 'an unknown member']) {
    is_problem(http(POST => "$dlq/replay", {%admin, json => $bad->[0]}), 400, 'invalid-request', "replay with $bad->[1]: 400");
}
is_problem(http(POST => "$dlq/replay", {%admin, body => '{"all":', headers => {%{$admin{headers}}, 'Content-Type' => 'application/json'}}),
    400, 'malformed-json', 'replay with a body that is not JSON: 400');
is_problem(http(POST => "$dlq/replay", {%admin, json => {event_id => 'no-such-event'}}), 404, 'not-found',
    'replay of an event that is not parked: 404');
is(scalar(grep { ($_->{event_id} // '') eq $poison } @{http(GET => $dlq, \%admin)->{json}{items} || []}), 1,
    'the refused replays moved nothing');
done_testing;
