# `make run` as a new user meets it (issue 17), whole, on free ports and a private var dir:
# scripts/run-local.sh starts its own MariaDB, PostgreSQL, Redis and RabbitMQ, loads the demo
# data, starts the ten souk processes under their supervisors, prints the summary and then
# stays as a quiet console. While traffic flows through the gateway the console stays silent
# (the access lines go to the log files); a service killed with SIGKILL is reported on it and
# comes back; `soukctl status` sees all fifteen processes; Ctrl-C (SIGINT to the console's process
# group, as a terminal sends it) stops everything.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;
use File::Temp ();
use POSIX ();
use Time::HiRes ();

my $ROOT = repo_root();
my $var = File::Temp::tempdir('souk-makerun-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $var;    # the postgres user must reach its data dir inside

my @names = qw(mariadb pg redis rabbit dist epmd monolith users catalog search reviews cart
    orders inventory payments history reporting gateway admin);
# Below the kernel's ephemeral range and reserved against the test files running beside this
# one (free_ports): run-local.sh boots for a while before each port is bound.
my %port;
@port{@names} = free_ports(scalar @names);
my %env = (
    SOUK_VAR_DIR => $var,
    SOUK_MARIADB_PORT => $port{mariadb}, SOUK_PG_PORT => $port{pg},
    SOUK_REDIS_PORT => $port{redis}, SOUK_RABBIT_PORT => $port{rabbit},
    SOUK_RABBIT_DIST_PORT => $port{dist}, SOUK_RABBIT_EPMD_PORT => $port{epmd},
    SOUK_REDIS_PERSIST => 0,
    SOUK_GATEWAY_LISTEN => "127.0.0.1:$port{gateway}",
    SOUK_GATEWAY_ADMIN_LISTEN => "127.0.0.1:$port{admin}",
    (map { ('SOUK_' . uc($_) . '_LISTEN' => "127.0.0.1:$port{$_}") }
        qw(monolith users catalog search reviews cart orders inventory payments history reporting)),
    SOUK_LOOPS => 1, SOUK_WORKERS => 2,
    # "my orders" right after the checkout names its version: history waits for it, by default
    # 1 s, which the order.confirmed's way (relay, RabbitMQ, apply) may not fit in with the
    # whole shop on a loaded 2-core machine in the sanitizer build; a stale answer lacks it
    SOUK_HISTORY_RYW_WAIT_MS => 10000,
);
# Nothing of the harness's servers or of the caller's settings (SOUK_LOG_LEVEL=warn would
# empty the log files); the build dir stays (`make check`).
delete $ENV{$_} for grep { /^SOUK_/ && $_ ne 'SOUK_BUILD' } keys %ENV;
$ENV{BUILD} = $ENV{SOUK_BUILD} if $ENV{SOUK_BUILD};
@ENV{keys %env} = values %env;

sub slurp { open my $fh, '<', $_[0] or return ''; local $/; return scalar <$fh> }
my $console = "$var/console.out";
my $tail = sub { my $c = slurp($console); $c =~ s/\A.*?^Warnings and errors[^\n]*\n//ms ? $c : undef };

my $pid = fork // die "fork: $!";
if (!$pid) {
    POSIX::setsid();    # its own process group, as a terminal's foreground job
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', $console or POSIX::_exit(127);
    open STDERR, '>&', \*STDOUT;
    exec "$ROOT/scripts/run-local.sh" or POSIX::_exit(127);
}
END {
    local $?;
    if ($var) {
        kill 'INT', -$pid if $pid && kill 0, $pid;
        system("SOUK_VAR_DIR=$var $ROOT/scripts/stop-local.sh >/dev/null 2>&1");
    }
}

my $exit;
my $gone = sub { return 1 if defined $exit; return 0 if waitpid($pid, POSIX::WNOHANG()) != $pid; $exit = $?; 1 };
unless (ok(wait_until('make run to reach its console', sub { defined $tail->() || $gone->() }, 300)
    && defined $tail->(), 'run-local.sh started everything and became the console')) {
    diag("run-local.sh did not start:\n" . slurp($console));
    done_testing;
    exit 1;
}
my $out = slurp($console);
like($out, qr{^$_\s+ready on http://127\.0\.0\.1:$port{$_} \(pid \d+\)$}m, "$_ started, with its pid")
    for qw(monolith users catalog search reviews cart orders inventory payments history reporting gateway);
like($out, qr/^backfilled [1-9]\d* product prices, [1-9]\d* customers, [1-9]\d* orders, /m,
    'orders is filled from the monolith (prices, customers, past orders)');
like($out, qr/^backfilled history: [1-9]\d* orders in /m,
    'history is filled with them too (the query side of orders)');
like($out, qr/^backfilled [1-9]\d* products, \d+ sales in /m,
    'inventory is filled from the monolith (stock, and the CONFIRMED orders\' sales)');
like($out, qr/^backfilled [1-9]\d* payments, [1-9]\d* provider charges in /m,
    'payments is filled from the monolith (payments and the provider\'s record)');
like($out, qr/^backfilled [1-9]\d* order facts \([1-9]\d* counted\), [1-9]\d* lines, [1-9]\d* products into reporting in /m,
    'reporting is filled from the monolith (order facts, tallies, views)');
like($out, qr/^souk is up\.\n.*^Demo logins.*^  customer  demo\@souk\.test\n.*^Stop: /ms,
    'the summary: URLs, demo logins, how to stop');

# The pages (issue 16): both URLs are printed, and each serves its app: the page, then the
# bundle it names (a page whose script 404s would be blank in a browser).
like($out, qr{^  storefront\s+http://127\.0\.0\.1:$port{gateway}/$}m, 'the summary names the storefront');
like($out, qr{^  control room\s+http://127\.0\.0\.1:$port{admin}/$}m, '...and the control room');
for my $page (['storefront', $port{gateway}, qr/<title>souk</], ['control room', $port{admin}, qr/<title>souk control room</]) {
    my ($what, $p, $title) = @$page;
    my $html = http(GET => "http://127.0.0.1:$p/");
    ok($html->{status} == 200 && ($html->{headers}{'content-type'} // '') =~ m{^text/html}
        && $html->{body} =~ $title, "$what: / is its page") or diag("$html->{status} $html->{body}");
    my ($js) = $html->{body} =~ /<script type="module" src="([^"]+)"/;
    my $bundle = defined $js ? http(GET => "http://127.0.0.1:$p$js") : {status => 0};
    ok(defined $js && $bundle->{status} == 200
        && ($bundle->{headers}{'content-type'} // '') =~ m{^text/javascript}, "$what: its bundle $js loads")
        or diag("$bundle->{status}");
}

my ($rc, $st) = soukctl({}, 'status');
is($rc, 0, 'soukctl status: every process up and ready') or diag($st);
is(scalar(() = $st =~ /^\S+\s+127\.0\.0\.1:\d+\s+\d+\s+up\s/mg), 16, 'sixteen processes up, each with a pid');

# Traffic: the console stays as it was, the log files fill.
my $before = $tail->();
my @bad;
my $gw = "http://127.0.0.1:$port{gateway}";
for my $i (1 .. 30) {
    api_request($gw, \@bad, GET => "/api/v1/products/$i");
    api_request($gw, \@bad, GET => "/api/v1/products?limit=3&page=$i");
    api_request($gw, \@bad, GET => "/api/v1/nothing-here-$i");
}
is_deeply(\@bad, [], 'no 5xx');
sleep 1;    # the console polls every 0.2 s
is($tail->(), $before, 'the console stays quiet while traffic flows')
    or diag($tail->());
is($before, '', 'and had nothing to say after start-up');
my $gwlog = slurp("$var/log/gateway.log");
cmp_ok(scalar(() = $gwlog =~ /"msg":"access"/g), '>=', 90, 'gateway.log holds the access lines');

# Reporting, filled by the backfill: its sales report is the monolith's (route reports is
# legacy, naming reporting), before any order is placed on either side.
my $atok = api_request($gw, \@bad, POST => '/api/v1/accounts/login',
    json => {email => 'admin@souk.test', password => 'souk-demo'})->{json}{token} // '';
my $legacy = api_request($gw, \@bad, GET => '/api/v1/reports/sales', token => $atok);
my $kept = api_request("http://127.0.0.1:$port{reporting}", \@bad, GET => '/api/v1/reports/sales',
    token => $atok);
is($legacy->{status}, 200, 'the sales report through the gateway (monolith): 200');
is($kept->{body}, $legacy->{body}, 'souk-reporting answers the same report from its tallies');

# The order domain: its routes start legacy; switched to the services with the admin API, a
# demo customer's checkout is the saga (souk-orders, -inventory, -payments over RabbitMQ) on
# the backfilled data.
my $admin = "http://127.0.0.1:$port{admin}";
my %ah = (Authorization => 'Bearer souk-admin-dev');
my $routes = http(GET => "$admin/routes", {headers => \%ah})->{json} // {};
my %mode = map { ($_->{name} => "$_->{mode} " . ($_->{new} // '-')) } @{$routes->{routes} || []};
is_deeply([@mode{qw(orders stock)}], ['legacy orders', 'legacy inventory'],
    'routes orders and stock: legacy, naming orders and inventory');
for my $r (qw(accounts cart stock orders)) {
    is(http(PATCH => "$admin/routes/$r", {headers => \%ah, json => {mode => 'new'}})->{status}, 200,
        "route $r switched to new");
}
my $login = api_request($gw, \@bad, POST => '/api/v1/accounts/login',
    json => {email => 'demo@souk.test', password => 'souk-demo'});
my $tok = $login->{json}{token} // '';
is(api_request($gw, \@bad, PUT => '/api/v1/accounts/me/address', token => $tok, json => {line1 => '1 Demo Road',
    city => 'Lisboa', postal_code => '1100-053', country => 'PT'})->{status}, 200, 'demo: an address (users)');
my ($prod) = grep { (api_request($gw, \@bad, GET => "/api/v1/products/$_")->{json}{stock} // 0) >= 1 } 1 .. 50;
ok($prod, 'a product in stock');
is(api_request($gw, \@bad, POST => '/api/v1/cart/items', token => $tok,
    json => {product_id => $prod // 1, quantity => 1})->{status}, 200, 'demo: a line in the cart (souk-cart)');
my $order;
wait_until('orders knows the new address', sub {
    $order = api_request($gw, \@bad, POST => '/api/v1/orders', token => $tok,
        json => {card_number => '4242424242424242'});
    $order->{status} != 422;
}, 20);
is($order->{status}, 201, 'demo: checkout through the saga is 201') or diag($order->{body});
is($order->{json}{status}, 'CONFIRMED', 'demo: CONFIRMED');
# The order reads from history (route orders_read), the checkout's version sent back.
is(http(PATCH => "$admin/routes/orders_read", {headers => \%ah, json => {mode => 'new'}})->{status},
    200, 'route orders_read switched to new (history)');
my $mine = api_request($gw, \@bad, GET => '/api/v1/orders?limit=100', token => $tok,
    headers => {'Souk-Min-Order-Version' => $order->{headers}{'souk-order-version'} // ''});
ok(($mine->{status} == 200) && grep({ $_->{id} == ($order->{json}{id} // 0) } @{$mine->{json}{items} || []}),
    'demo: my orders (souk-history) shows the new order at once') or diag($mine->{body});
is_deeply(\@bad, [], 'no 5xx');
# The backfilled shop with its first saga order keeps the checker's rules (SAGA.md).
my %saga_db = map { ('SOUK_' . uc($_) . '_DB' => "postgresql://$_:souk-dev\@127.0.0.1:$port{pg}/$_") }
    qw(orders inventory payments);
my ($crc, $cout, $cerr) = soukctl(\%saga_db, qw(check orders --wait 30));
is($crc, 0, 'soukctl check orders on the make run shop: no violation') or diag("$cout\n$cerr");

# A crash: reported at once, restarted.
my ($old) = slurp("$var/run/app-users.pid") =~ /(\d+)/;
kill 'KILL', $old;
ok(wait_until('the report', sub { ($tail->() // '') =~ /users exited with signal 9 \(KILL\)/ }, 10),
    'the console reports the killed users service');
ok(wait_until('users back', sub { (soukctl({}, 'status', 'users'))[0] == 0 }, 60),
    'it is restarted and ready again');
my ($new) = slurp("$var/run/app-users.pid") =~ /(\d+)/;
isnt($new, $old, "a new users process ($new)");
unlike($tail->(), qr/"msg":"access"| access /, 'no access line on the console');

# Ctrl-C.
kill 'INT', -$pid;
ok(wait_until('make run to stop', $gone, 120), 'Ctrl-C: make run stops');
is($exit, 0, 'and exits 0');
like(slurp($console), qr/^stopping\.\.\.\n.*^app-gateway\s+stopped.*^rabbitmq\s+stopped/ms,
    'stopping every process and server');
is_deeply([grep {/\.pid$/} map { s{.*/}{}r } glob("$var/run/*")], [], 'no pid file left');
($rc) = soukctl({}, 'status');
is($rc, 1, 'soukctl status: exit 1 once stopped');
$pid = 0;

done_testing;
