package Souk::Saga;
# The whole order saga on free ports, for end-to-end tests (tests/e2e/5x_*.t): fresh PostgreSQL
# databases for users, catalog, cart, orders, inventory and payments, a private Redis for catalog and
# cart, a vhost (or the broker given), the six services and a souk-gateway in front with the
# v1 routes the saga needs in mode new (route names as gateway/routes.default.json: accounts,
# products, stock, cart, orders, plus orders_v2 and inventory_v2). Core Perl modules only.
#
#   my $shop = Souk::Saga->start(env => {orders => {SOUK_ORDERS_DEADLINE_S => 10}});
#   my $p = $shop->product(stock => 50);               # in catalog, stock at inventory, priced by orders
#   my $u = $shop->buyer;                               # registered, with an address orders knows
#   $shop->cart_add($u, $p->{id}, 1);
#   my $res = $shop->checkout($u, card => Souk::Saga::CARD_OK);   # POST /api/v1/orders via the gateway
#   my ($rc, $out) = $shop->check('--wait', 60);        # soukctl check orders on the three databases
#   $shop->kill9('payments'); $shop->restart('payments');   # same port, same databases
#
# Services are started consumers first (each binds its queue before anything is published):
# orders, inventory, payments, cart, then the producers catalog and users. A service restarted
# with restart() keeps its port, so the gateway's upstream stays valid.
use strict;
use warnings;
use Exporter 'import';
use File::Temp ();
use HTTP::Tiny ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Test::More ();
use Souk::Test;
use Souk::Gateway ();

our @EXPORT_OK = qw(CARD_OK CARD_DECLINED CARD_DOWN);

# The simulated provider's test cards (contracts/api-v1.yaml, lib/card.h).
use constant CARD_OK       => '4242424242424242';
use constant CARD_DECLINED => '4000000000000002';
use constant CARD_DOWN     => '4000000000000119';

our $SECRET = 'saga-test-secret-0123456789abcdef';
# start order: consumers first; search and reviews only with => [...]
my @SHOP = qw(orders inventory payments cart search reviews catalog users);
my %PG = map { ($_ => 1) } @SHOP;
my %ROUTES = (
    users     => [[accounts => '/api/v1/accounts', 'public']],
    catalog   => [[products => '/api/v1/products', 'public']],
    inventory => [[stock => '/api/v1/products/{id}/stock', 'public'],
                  [inventory_v2 => '/api/v2/inventory', 'public']],
    cart      => [[cart => '/api/v1/cart', 'user']],
    orders    => [[orders => '/api/v1/orders', 'user'], [orders_v2 => '/api/v2/orders', 'user']],
);
# The rest of the shop's routes, for the pages (start(pages => DIR)).
my %PAGE_ROUTES = (
    catalog => [[categories => '/api/v1/categories', 'public'], [products_v2 => '/api/v2/products', 'public'],
                [categories_v2 => '/api/v2/categories', 'public']],
    search  => [[search => '/api/v1/search', 'public'], [search_v2 => '/api/v2/search', 'public']],
    reviews => [[reviews => '/api/v1/products/{id}/reviews', 'public']],
    users   => [[sessions_v2 => '/api/v2/sessions', 'public']],
);

# start(env => {svc => {VAR => value}}, amqp => URL, sync_wait_ms => N, gateway_env => {...}):
# everything up and ready. with => ['search', 'reviews'] starts those too (consumers, before
# catalog); pages => DIR has the gateway serve DIR/storefront/ at / (a static route,
# SOUK_GATEWAY_WEB_DIR) and route categories, v2 products/categories, search, reviews and
# the v2 sessions. sync_wait_ms (default 20000) is how long a v1 checkout waits for
# its outcome; the orders route's gateway timeout is set above it.
sub start {
    my ($class, %o) = @_;
    my %with = map { ($_ => 1) } @{$o{with} || []};
    my $s = bless {env => $o{env} || {}, svc => {}, port => {}, db => {}, seq => 0,
        sync_wait_ms => $o{sync_wait_ms} // 20000,
        order => [grep { !/^(?:search|reviews)$/ || $with{$_} } @SHOP]}, $class;
    my @order = @{$s->{order}};
    infra('postgres', 'redis', 'rabbitmq');
    $s->{redis} = redis_start();
    $s->{amqp} = $o{amqp} // rabbit_vhost();
    # without => [names]: leave some out (a test of a partial shop; their routes stay, their
    # databases have only the backbone's tables)
    my %without = map { ($_ => 1) } @{$o{without} || []};
    $s->{db}{$_} = pg_fresh($without{$_} ? 'backbone' : $_) for grep { $PG{$_} } @order;
    $s->{port}{$_} //= free_port() for @order;
    $s->_spawn($_) for grep { !$without{$_} } @order;
    my (%up, @routes);
    my %routes = %ROUTES;
    if ($o{pages}) {
        push @{$routes{$_} ||= []}, @{$PAGE_ROUTES{$_}} for grep { $s->{port}{$_} } keys %PAGE_ROUTES;
        push @routes, {name => 'storefront', path => '/', methods => ['GET', 'HEAD'], static => 'storefront'};
    }
    for my $name (sort keys %routes) {
        $up{$name} = Souk::Gateway::pool("127.0.0.1:$s->{port}{$name}");
        push @routes, map {
            # connect_timeout_ms: a busy 2-core machine may take over a second to accept
            # when hundreds of buyers connect at once (the default 1 s became 504s)
            Souk::Gateway::route(name => $_->[0], path => $_->[1], new => $name, mode => 'new',
                auth => $_->[2], connect_timeout_ms => 10000,
                timeout_ms => $name eq 'orders' ? $s->{sync_wait_ms} + 10000 : 10000)
        } @{$routes{$name}};
    }
    $s->{gateway} = Souk::Gateway->start(env => {SOUK_JWT_SECRET => $SECRET,
            SOUK_LOG_LEVEL => 'warn', ($o{pages} ? (SOUK_GATEWAY_WEB_DIR => $o{pages}) : ()),
            %{$o{gateway_env} || {}}},
        routes => Souk::Gateway::table(upstreams => \%up, routes => \@routes));
    $s->{admin} = jwt_mint(sub => '1', role => 'admin', secret => $SECRET);
    return $s;
}

sub url     { $_[0]{gateway}->url }
sub gateway { $_[0]{gateway} }
sub svc     { $_[0]{svc}{$_[1]} }
sub db      { $_[0]{db}{$_[1]} }
sub amqp    { $_[0]{amqp} }
sub admin_token { $_[0]{admin} }
sub services { my $s = shift; map { $s->{svc}{$_} } grep { $s->{svc}{$_} } @{$s->{order}} }

# Each service's environment: its database, the broker, the secret, its peers, the test's
# overrides last.
sub _env {
    my ($s, $name) = @_;
    my %e = (SOUK_AMQP_URL => $s->{amqp}, SOUK_JWT_SECRET => $SECRET);
    $e{'SOUK_' . uc($name) . '_DB'} = $s->{db}{$name}{dsn} if $PG{$name};
    $e{SOUK_REDIS_URL} = $s->{redis}->url if $name =~ /^(?:catalog|cart|users)$/;
    $e{SOUK_CATALOG_URL} = "http://127.0.0.1:$s->{port}{catalog}" if $name eq 'cart';
    %e = (%e, SOUK_ARGON2_OPS => 1, SOUK_ARGON2_MEM_KIB => 8192) if $name eq 'users';
    %e = (%e, SOUK_CART_URL => "http://127.0.0.1:$s->{port}{cart}",
        SOUK_ORDERS_SYNC_WAIT_MS => $s->{sync_wait_ms}) if $name eq 'orders';
    return (%e, %{$s->{env}{$name} || {}});
}

# Start (or start again) souk-$name on its port, and wait until /ready answers 200.
sub _spawn {
    my ($s, $name, $timeout) = @_;
    # ports are fixed up front, so peers (cart for orders, catalog for cart) know each other
    $s->{port}{$_} //= free_port() for @{$s->{order}};
    my $port = $s->{port}{$name};
    my $svc = launch_service($name, $s->_env($name), SOUK_LISTEN => "127.0.0.1:$port");
    $svc->{port} = $port;
    my $ua = HTTP::Tiny->new(timeout => 1, keep_alive => 0);
    my $deadline = Time::HiRes::time() + ($timeout // 30);
    while (1) {
        last if $ua->get("http://127.0.0.1:$port/ready")->{status} == 200;
        my $why = waitpid($svc->pid, POSIX::WNOHANG()) == $svc->pid ? "exited with status $?"
            : Time::HiRes::time() > $deadline ? 'not ready' : undef;
        if ($why) {
            $svc->{done} = 1;
            if (kill 0, $svc->pid) { kill 'KILL', $svc->pid; waitpid $svc->pid, 0 }
            Test::More::diag("souk-$name stderr:\n" . $svc->stderr_text);
            die "Souk::Saga: souk-$name $why\n";
        }
        Time::HiRes::sleep(0.05);
    }
    push @{$s->{dead}}, $s->{svc}{$name} if $s->{svc}{$name};    # its log, for diagnostics
    $s->{svc}{$name} = $svc;
    return $svc;
}

# kill9($name): SIGKILL, reaped; the service is down until restart($name).
sub kill9 {
    my ($s, $name) = @_;
    my $svc = $s->{svc}{$name} or return;
    return if $svc->{done};
    kill 'KILL', $svc->pid;
    waitpid $svc->pid, 0;
    $svc->{done} = 1;    # killed on purpose: no "exits cleanly" test
}

sub restart { my ($s, $name, $timeout) = @_; $s->kill9($name); $s->_spawn($name, $timeout) }

# stderr of every instance of the services (killed ones included), for no_failures-like checks.
sub logs {
    my ($s) = @_;
    return join '', map { $_->stderr_text } @{$s->{dead} || []}, $s->services;
}

# --- fixtures -----------------------------------------------------------------------------

sub _ok {
    my ($what, $res, @want) = @_;
    die "$what: $res->{status} " . ($res->{body} // '') . "\n" unless grep { $res->{status} == $_ } @want;
    return $res;
}

sub _auth { +{headers => {Authorization => "Bearer $_[0]", %{$_[1] || {}}}} }

# product(stock => N, price => minor, %fields): a product in catalog (v1 POST, admin), its stock
# set at inventory (v1 PUT .../stock) when given, and orders' price replica has it.
sub product {
    my ($s, %f) = @_;
    my $stock = delete $f{stock};
    my $price = delete $f{price} // 1999;
    my $n = ++$s->{seq};
    unless ($s->{category}) {
        my $c = http(POST => $s->{svc}{catalog}->url . '/api/v2/categories',
            {%{_auth($s->{admin})}, json => {slug => "saga-$$", name => 'Saga'}});
        $s->{category} = _ok('category', $c, 201)->{json}{id};
    }
    my $res = http(POST => $s->url . '/api/v1/products', {%{_auth($s->{admin})}, json => {
        sku => "SAGA-$$-$n", name => "Saga product $n", description => 'for the saga tests',
        brand => 'Souk', category_id => $s->{category},
        price => {amount => $price, currency => 'EUR'}, attributes => {}, %f}});
    my $p = _ok('product', $res, 201)->{json};
    $s->set_stock($p->{id}, $stock) if defined $stock;
    Souk::Test::wait_until("orders prices product $p->{id}", sub {
        @{pg_sql($s->{db}{orders}{db}, "SELECT 1 FROM products_replica WHERE id = $p->{id}")};
    }, 30) or die "product $p->{id} never reached orders' price replica\n";
    return $p;
}

# set_stock($id, $n): PUT /api/v1/products/{id}/stock (admin) through the gateway; a product
# inventory has not heard of yet (product.created still on its way) is 404 for a while.
sub set_stock {
    my ($s, $id, $n) = @_;
    my $res;
    Souk::Test::wait_until("inventory knows product $id", sub {
        $res = http(PUT => $s->url . "/api/v1/products/$id/stock",
            {%{_auth($s->{admin})}, json => {stock => $n}});
        $res->{status} != 404;
    }, 30);
    return _ok("stock of $id", $res, 200)->{json};
}

# buyers($n, cart => sub { my ($i) = @_; return ([$product_id, $qty], ...) }): $n accounts
# registered and logged in on users (4 at a time), each with a shipping address and, if cart
# is given, those lines in its cart (souk-cart), and known with the address to orders'
# customer replica: [{id, email, token}].
sub buyers {
    my ($s, $n, %o) = @_;
    my ($users, $cart) = ($s->{svc}{users}->url, $s->{svc}{cart}->url);
    my $json = JSON::PP->new->utf8;
    my $base = $s->{seq};
    $s->{seq} += $n;
    my $call = sub {
        my ($ua, $what, $method, $url, $body, $token, @want) = @_;
        my $r = $ua->request($method, $url, {content => $json->encode($body),
            headers => {'Content-Type' => 'application/json',
                ($token ? (Authorization => "Bearer $token") : ())}});
        die "$what: $r->{status} $r->{content}\n" unless grep { $r->{status} == $_ } @want;
        return $json->decode($r->{content});
    };
    my $u = $s->parallel(4, [0 .. $n - 1], sub {
        my ($ua, $i) = @_;
        my $k = $base + $i + 1;
        my %a = (email => "buyer$k.$$\@saga.test", password => 'correct horse battery');
        $call->($ua, 'register', POST => "$users/api/v1/accounts/register",
            {%a, name => "Buyer $k"}, undef, 201);
        my $login = $call->($ua, 'login', POST => "$users/api/v1/accounts/login", \%a, undef, 200);
        my $t = $login->{token};
        $call->($ua, 'address', PUT => "$users/api/v1/accounts/me/address", {line1 => "$k Saga Street",
            line2 => '', city => 'Lisbon', postal_code => '1000-001', country => 'PT'}, $t, 200);
        $call->($ua, 'cart', POST => "$cart/api/v1/cart/items",
            {product_id => $_->[0], quantity => $_->[1]}, $t, 200, 201)
            for $o{cart} ? $o{cart}->($i) : ();
        return {id => $login->{user}{id}, email => $a{email}, token => $t};
    }, timeout => 60 + $n);
    my @bad = grep { !$_ || $_->{error} } @$u;
    die "buyers: " . scalar(@bad) . " of $n failed: " . ($bad[0] ? $bad[0]{error} : 'no answer')
        . "\n" if @bad || @$u != $n;
    my $ids = join ',', map { $_->{id} } @$u;
    Souk::Test::wait_until("orders knows the addresses of $n buyers", sub {
        pg_sql($s->{db}{orders}{db},
            "SELECT count(*) FROM customers_replica WHERE line1 IS NOT NULL AND id IN ($ids)")->[0][0] == $n;
    }, 60) or die "orders' customer replica never got the $n buyers\n";
    return $u;
}

sub buyer { $_[0]->buyers(1)->[0] }

# cart_add($user, $product_id, $qty): POST /api/v1/cart/items on souk-cart.
sub cart_add {
    my ($s, $u, $id, $qty) = @_;
    return _ok('cart', http(POST => $s->{svc}{cart}->url . '/api/v1/cart/items',
        {%{_auth($u->{token})}, json => {product_id => $id, quantity => $qty // 1}}), 200, 201);
}

# checkout($user, card => number, key => Idempotency-Key): POST /api/v1/orders through the
# gateway; the answer as http() gives it.
sub checkout {
    my ($s, $u, %o) = @_;
    my $key = $o{key} // "saga-$$-" . ++$s->{seq};
    return http(POST => $s->url . '/api/v1/orders', {%{_auth($u->{token}, {'Idempotency-Key' => $key})},
        json => {card_number => $o{card} // CARD_OK}});
}

# parallel($workers, \@items, sub { my ($ua, $item) = @_; ...; return {...} }, timeout => S):
# the items split over $workers forked processes (item i to worker i % $workers, each worker
# in order), all released at once (a pipe closed as the starting gun); each worker has its
# own HTTP::Tiny (a forked copy of a keep-alive connection must not be shared). Returns the
# hashes the sub returned, in the items' order ({error => ...} for one that died). Workers
# still running after timeout seconds (default 120) are killed: their items stay undef.
sub parallel {
    my ($s, $workers, $items, $fn, %o) = @_;
    my $dir = File::Temp::tempdir('souk-saga-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $json = JSON::PP->new->canonical->utf8;
    pipe(my $gun_r, my $gun_w) or die "pipe: $!";
    my %pid;
    for my $w (0 .. $workers - 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $gun_w;
            my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => $o{http_timeout} // 60,
                agent => 'souk-saga-test');
            sysread $gun_r, my $x, 1;    # EOF: go
            open my $out, '>', "$dir/$w" or POSIX::_exit(1);
            for (my $i = $w; $i < @$items; $i += $workers) {
                my $r = eval { $fn->($ua, $items->[$i]) } // {error => "$@"};
                print $out $json->encode({i => $i, r => $r}), "\n";
                $out->flush;
            }
            close $out;
            POSIX::_exit(0);
        }
        $pid{$pid} = $w;
    }
    close $gun_r;
    close $gun_w;    # the starting gun
    my $deadline = Time::HiRes::time() + ($o{timeout} // 120);
    while (%pid && Time::HiRes::time() < $deadline) {
        # each worker by pid: waitpid(-1) could reap a service that died meanwhile
        for my $p (keys %pid) { delete $pid{$p} if waitpid($p, POSIX::WNOHANG()) == $p }
        last unless %pid;
        $o{tick}->() if $o{tick};    # e.g. the chaos monkey, between reaps
        Time::HiRes::sleep(0.05);
    }
    if (%pid) {
        Test::More::diag(scalar(keys %pid) . " workers still running after the timeout: killed");
        kill 'KILL', keys %pid;
        waitpid $_, 0 for keys %pid;
    }
    my @res;
    for my $w (0 .. $workers - 1) {
        open my $in, '<', "$dir/$w" or next;
        while (my $line = <$in>) {
            my $d = eval { $json->decode($line) } or next;
            $res[$d->{i}] = $d->{r};
        }
    }
    return \@res;
}

# check_env(): the three databases as `soukctl check orders` wants them.
sub check_env {
    my ($s) = @_;
    return {map { ('SOUK_' . uc($_) . '_DB' => $s->{db}{$_}{dsn}) } qw(orders inventory payments)};
}

# check(@args): soukctl check orders @args; (exit code, stdout, stderr).
sub check { my ($s, @a) = @_; soukctl($s->check_env, 'check', 'orders', @a) }

# stock($id): audit_stock's row for the product, {received, on_hand, reserved, sold}.
sub stock {
    my ($s, $id) = @_;
    my $r = pg_sql($s->{db}{inventory}{db},
        "SELECT received, on_hand, reserved, sold FROM audit_stock WHERE product_id = $id")->[0]
        or return undef;
    return {received => $r->[0], on_hand => $r->[1], reserved => $r->[2], sold => $r->[3]};
}

# counts(): audit_orders by status, {PENDING => n, ...}.
sub counts {
    my ($s) = @_;
    return {map { @$_ } @{pg_sql($s->{db}{orders}{db},
        'SELECT status, count(*) FROM audit_orders GROUP BY status')}};
}

1;
