package Souk::Saga;
# The order domain on real processes, for tests of the checkout saga (tests/e2e/55_saga.t and
# whoever needs the same stack): fresh PostgreSQL databases, one Redis, one vhost; souk-catalog,
# -users, -cart, -inventory, -payments, -orders and souk-gateway in front with the routes a
# shopper uses (accounts, products, stock, cart, orders in mode new, and the v2 orders and
# admin sagas routes). Core Perl only.
#
#   my $s = Souk::Saga->start(env => {orders => {SOUK_ORDERS_DEADLINE_S => 5}});
#   my $u = $s->user;                                   # registered, logged in, with an address
#   my $p = $s->product(price => 1999, stock => 5);     # orders prices it, inventory holds 5
#   $s->cart_add($u, $p->{id}, 2);
#   my $res = $s->checkout($u, '4242424242424242');     # POST /api/v1/orders through the gateway
#   my $o = $s->wait_status($u, $id, 'CONFIRMED');      # GET /api/v2/orders/{id}: status, timeline
#   $s->sql(inventory => 'SELECT ... FROM audit_stock'); # any service's database
#   $s->stop('payments'); ...; $s->start_again('payments');  # same port, database and vhost
#   $s->republish(payments => 'payment.succeeded', $id);  # an event once more (a duplicate)
#
# Fixtures wait for the replicas they feed (orders' products_replica and customers_replica);
# assertions about the saga's outcome wait with wait_status().
use strict;
use warnings;
use Souk::Test;
use Souk::Gateway ();

my $SECRET = 'saga-test-secret-0123456789abcdef0123';
# Spawn order: the consumers of the saga first, orders last (it reads the cart at checkout).
my @ORDER = qw(catalog users cart inventory payments orders);
my @ROUTES = (
    [accounts => '/api/v1/accounts', 'users', 'public'],
    [products => '/api/v1/products', 'catalog', 'public'],
    [stock => '/api/v1/products/{id}/stock', 'inventory', 'public'],
    [cart => '/api/v1/cart', 'cart', 'user'],
    [orders => '/api/v1/orders', 'orders', 'user'],
    [orders_v2 => '/api/v2/orders', 'orders', 'user'],
    [sagas_v2 => '/api/v2/admin/sagas', 'orders', 'admin'],
);

# start(env => {service => {VAR => value}}): the stack, stopped when the object goes.
sub start {
    my ($class, %o) = @_;
    my $s = bless {svc => {}, env => {}, bad => [], seq => 0, tag => sprintf('sg%x', $$)}, $class;
    my $redis = $s->{redis} = redis_start();
    my $amqp = rabbit_vhost();
    my %env = (
        catalog => {SOUK_REDIS_URL => $redis->url},
        users => {SOUK_ARGON2_OPS => 1, SOUK_ARGON2_MEM_KIB => 8192},
        cart => {SOUK_REDIS_URL => $redis->url},
    );
    for my $name (@ORDER) {
        my %e = (SOUK_AMQP_URL => $amqp, SOUK_JWT_SECRET => $SECRET, %{$env{$name} || {}},
            ($name eq 'cart' ? (SOUK_CATALOG_URL => $s->{svc}{catalog}->url) : ()),
            ($name eq 'orders' ? (SOUK_CART_URL => $s->{svc}{cart}->url) : ()),
            %{$o{env}{$name} || {}});
        $s->{svc}{$name} = fresh_service($name, %e);
        $s->{env}{$name} = {%e, 'SOUK_' . uc($name) . '_DB' => $s->{svc}{$name}{db}{dsn},
            SOUK_LISTEN => '127.0.0.1:' . $s->{svc}{$name}->port};
    }
    my %up = map { ($_ => Souk::Gateway::pool('127.0.0.1:' . $s->{svc}{$_}->port)) } @ORDER;
    my @routes = map {
        Souk::Gateway::route(name => $_->[0], path => $_->[1], new => $_->[2], mode => 'new',
            auth => $_->[3], timeout_ms => 30000)
    } @ROUTES;
    $s->{gateway} = Souk::Gateway->start(env => {SOUK_JWT_SECRET => $SECRET},
        routes => Souk::Gateway::table(upstreams => \%up, routes => \@routes));
    $s->{admin_token} = jwt_mint(sub => '1', role => 'admin', secret => $SECRET);
    return $s;
}

sub url { $_[0]{gateway}->url }
sub svc { $_[0]{svc}{$_[1]} // die "no service $_[1]\n" }
sub services { my ($s) = @_; map { $s->{svc}{$_} } @ORDER }
sub gateway { $_[0]{gateway} }
sub admin_token { $_[0]{admin_token} }
sub bad { $_[0]{bad} }    # the 5xx answers not asked for (for no_failures)

# stop($name) / start_again($name): take a service down (SIGTERM, waited for) and bring it
# back on the same port with the same database, vhost and settings.
sub stop { my ($s, $name) = @_; $s->svc($name)->stop }
sub start_again {
    my ($s, $name) = @_;
    my $db = $s->{svc}{$name}{db};
    $s->{svc}{$name} = spawn_service($name, %{$s->{env}{$name}});
    $s->{svc}{$name}{db} = $db;
    return $s->{svc}{$name};
}

# api($method, $path, %o): through the gateway (Souk::Test::api_request's options).
sub api { my ($s, @a) = @_; api_request($s->url, $s->{bad}, @a) }

# sql($service, $sql): rows of that service's database (pg_sql); sql1: the first value.
sub sql { my ($s, $name, $q) = @_; pg_sql($s->svc($name)->{db}{db}, $q) }
sub sql1 { my ($s, @a) = @_; my $r = $s->sql(@a); @$r ? $r->[0][0] : undef }

# user(address => {...} | 0): registered and logged in through v1 (users), with a shipping
# address that orders' customer replica has: {id, email, token, address}.
sub user {
    my ($s, %o) = @_;
    my $n = ++$s->{seq};
    my $u = {email => "$s->{tag}.$n\@saga.test", password => 'correct horse battery'};
    my $res = $s->api(POST => '/api/v1/accounts/register',
        json => {email => $u->{email}, password => $u->{password}, name => "Saga User $n"});
    die "register: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    $u->{id} = $res->{json}{id};
    $res = $s->api(POST => '/api/v1/accounts/login',
        json => {email => $u->{email}, password => $u->{password}});
    die "login: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    $u->{token} = $res->{json}{token};
    return $u if defined $o{address} && !$o{address};
    $u->{address} = $o{address} // {line1 => "$n Saga Street", line2 => '', city => 'Lisboa',
        postal_code => '1100-053', country => 'PT'};
    $res = $s->api(PUT => '/api/v1/accounts/me/address', token => $u->{token}, json => $u->{address});
    die "address: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    wait_until("user $u->{id}'s address in orders' replica", sub {
        $s->sql1(orders => "SELECT count(*) FROM customers_replica WHERE id = $u->{id}"
            . ' AND line1 IS NOT NULL');
    }, 20) or die "user $u->{id} never reached orders' customer replica\n";
    return $u;
}

# product(price => minor, stock => n): created in the catalog (admin v1), its stock set in
# inventory (admin v1), known to orders' price replica: the catalog's answer.
sub product {
    my ($s, %o) = @_;
    my $n = ++$s->{seq};
    $s->{category} //= do {
        my $res = http(POST => $s->svc('catalog')->url . '/api/v2/categories',
            {headers => {Authorization => "Bearer $s->{admin_token}"},
             json => {slug => "$s->{tag}-cat", name => 'Saga'}});
        die "category: $res->{status} $res->{body}\n" unless $res->{status} == 201;
        $res->{json}{id};
    };
    my $res = $s->api(POST => '/api/v1/products', token => $s->{admin_token},
        json => {sku => "$s->{tag}-$n", name => "Saga Product $n", brand => 'Acme',
            category_id => $s->{category}, price => {amount => $o{price} // 1000, currency => 'EUR'}});
    die "product: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    my $p = $res->{json};
    $s->stock($p->{id}, $o{stock} // 10);
    wait_until("product $p->{id} in orders' price replica", sub {
        $s->sql1(orders => "SELECT count(*) FROM products_replica WHERE id = $p->{id}");
    }, 20) or die "product $p->{id} never reached orders' price replica\n";
    return $p;
}

# stock($product_id, $n): the admin PUT /api/v1/products/{id}/stock (inventory).
sub stock {
    my ($s, $id, $n) = @_;
    my $res = $s->api(PUT => "/api/v1/products/$id/stock", token => $s->{admin_token},
        json => {stock => $n});
    die "stock $id: $res->{status} $res->{body}\n" unless $res->{status} == 200;
}

sub cart_add {
    my ($s, $u, $id, $qty) = @_;
    my $res = $s->api(POST => '/api/v1/cart/items', token => $u->{token},
        json => {product_id => $id, quantity => $qty});
    die "cart add: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    return $res->{json};
}

# checkout($user, $card, %headers): POST /api/v1/orders (a 503 is an outcome, not a failure).
sub checkout {
    my ($s, $u, $card, %h) = @_;
    return $s->api(POST => '/api/v1/orders', token => $u->{token}, json => {card_number => $card},
        headers => \%h, allow_5xx => 1);
}

# checkout_v2($user, $card, %headers): POST /api/v2/orders (202 at once).
sub checkout_v2 {
    my ($s, $u, $card, %h) = @_;
    return $s->api(POST => '/api/v2/orders', token => $u->{token}, json => {card_number => $card},
        headers => \%h);
}

# last_order($user): the id of the user's newest order in orders' audit view (a failed v1
# checkout answers no id, but the order is kept for audit).
sub last_order {
    my ($s, $u) = @_;
    return $s->sql1(orders => "SELECT order_id FROM audit_orders WHERE user_id = $u->{id}"
        . ' ORDER BY order_id DESC LIMIT 1');
}

# order_v2($user, $id): GET /api/v2/orders/{id}'s JSON (undef unless 200).
sub order_v2 {
    my ($s, $u, $id) = @_;
    my $res = $s->api(GET => "/api/v2/orders/$id", token => $u->{token});
    return $res->{status} == 200 ? $res->{json} : undef;
}

# wait_status($user, $id, $status, $timeout_s, @types): the v2 order once it has that status
# and its timeline holds an event of each of @types; undef if that never happens.
sub wait_status {
    my ($s, $u, $id, $status, $timeout, @want) = @_;
    my $o;
    wait_until("order $id $status", sub {
        $o = $s->order_v2($u, $id);
        return 0 unless $o && $o->{status} eq $status;
        my %have = map { ($_->{type} => 1) } @{$o->{timeline} || []};
        !grep { !$have{$_} } @want;
    }, $timeout // 20) or return undef;
    return $o;
}

# republish($service, $type, $order_id, same_id => 1): the newest $type event of that order
# in $service's outbox published once more by its relay: as a copy under a new event id (the
# consumers' inboxes cannot tell; their state machines must), or, with same_id, the very row
# marked unsent again (the same id: the inboxes drop it). The event id published.
sub republish {
    my ($s, $name, $type, $oid, %o) = @_;
    my ($old) = @{$s->sql($name, "SELECT id FROM outbox WHERE type = '$type'"
        . " AND aggregate_id = $oid ORDER BY seq DESC LIMIT 1")};
    die "republish: no $type of order $oid in the outbox of $name\n" unless $old;
    if ($o{same_id}) {
        $s->sql($name, "UPDATE outbox SET sent_at = NULL WHERE id = '$old->[0]'");
        return $old->[0];
    }
    my $id = $s->sql1($name, 'SELECT gen_random_uuid()');
    $s->sql($name, "INSERT INTO outbox (id, type, aggregate_id, envelope) SELECT '$id', type,"
        . " aggregate_id, replace(envelope, id::text, '$id') FROM outbox WHERE id = '$old->[0]'");
    return $id;
}

# consumed($service, $event_id, $timeout_s): true once $service's inbox has the event.
sub consumed {
    my ($s, $name, $id, $timeout) = @_;
    return wait_until("$name consumed $id",
        sub { $s->sql1($name => "SELECT count(*) FROM inbox WHERE event_id = '$id'") }, $timeout // 20);
}

# sent($service, $event_id): true once $service's relay has published that outbox row.
sub sent {
    my ($s, $name, $id) = @_;
    return wait_until("$name published $id", sub {
        $s->sql1($name => "SELECT count(*) FROM outbox WHERE id = '$id' AND sent_at IS NOT NULL");
    }, 20);
}

1;
