# web/t/62_console_sagas.t - the control room's Sagas panel against the real order saga
# (Souk::Saga: users, catalog, cart, orders, inventory, payments on PostgreSQL, Redis and
# RabbitMQ, a gateway in front): an operator gives the admin token, signs in with an admin
# account through the admin listener's /api/ (a customer's account is refused), sees the
# orders by state, filters them, and opens one order's timeline across services; axe on it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use Test::More;

use Souk::Test;
use Souk::Saga qw(CARD_OK CARD_DECLINED);
use Souk::Gateway;
use Souk::Browser qw(run_browser browser_ready);

my $web = Souk::Test::repo_root() . '/' . ($ENV{SOUK_BUILD} || 'build') . '/web';
ok(-f "$web/console/index.html", "the console is built ($web/console)") or BAIL_OUT('make builds the console');
my $shop = Souk::Saga->start(gateway_env => {SOUK_GATEWAY_WEB_DIR => $web});
my $gw = $shop->gateway;

# The saga tracker's route, as in gateway/routes.default.json (Souk::Saga routes the v1 saga).
my $t = $gw->routes;
push @{$t->{routes}}, Souk::Gateway::route(name => 'sagas_v2', path => '/api/v2/admin/sagas', new => 'orders',
    mode => 'new', auth => 'admin');
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

# The third buyer becomes an admin (users' role column: the only way there is).
pg_sql($shop->db('users')->{db}, "UPDATE users SET role = 'admin' WHERE id = $admin->{id}");

my $bad = run_browser("$FindBin::Bin/console_sagas.mjs",
    CONSOLE_URL    => $gw->admin_url . '/',
    ADMIN_TOKEN    => $Souk::Gateway::ADMIN_TOKEN,
    ADMIN_EMAIL    => $admin->{email},
    CUSTOMER_EMAIL => $buyer->{email},
    PASSWORD       => 'correct horse battery',
    ORDER_ID       => $order);
done_testing;
