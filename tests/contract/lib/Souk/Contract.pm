package Souk::Contract;
# The v1 contract suite's target and fixtures (tests/contract/README.md). One test file runs
# unchanged against whatever contract_target() gives it:
#
#   SOUK_TEST_TARGET=http://127.0.0.1:8080   a stack someone runs already (`make run`), used as is
#   SOUK_CONTRACT_MODE=monolith (default)    a fresh MariaDB schema and one souk-monolith
#   SOUK_CONTRACT_MODE=services              fresh PostgreSQL databases, Redis and a vhost,
#                                            souk-users, -catalog, -search, -reviews, -cart,
#                                            -orders, -inventory, -payments, -reporting and
#                                            souk-gateway in
#                                            front with their routes in mode new
#
#   my $t = contract_target();
#   my $u = $t->user;                                  # registered and logged in through v1
#   my $c = $t->categories;                            # {parent, child, other}
#   my $p = $t->product(category_id => $c->{child}{id});
#   $t->settle;                                        # search and replicas have caught up
#   my $res = $t->api(GET => "/api/v1/products/$p->{id}");
#   $t->finish;                                        # "no 5xx" as a test
#
# Fixtures go through each target's own API (v1 where v1 can write, the catalog's v2 for
# categories, SQL only where the monolith has no write at all). Waiting for eventually
# consistent projections lives here, never in the assertions. Core Perl modules only.
use strict;
use warnings;
use Exporter 'import';
use Test::More ();
use Time::HiRes ();
use Souk::Test;
use Souk::Gateway ();

our @EXPORT = qw(contract_target conforms answers in_order %SPEC %ORDER);

my $SECRET = 'contract-test-secret-0123456789abcdef';
my $SEQ = 0;

# Which services serve which v1 routes behind the gateway, in spawn order: the consumers
# search and reviews before the producers catalog and users (queues bound before anything is
# published; catalog's own queue, for reviews' review.created, is bound before it is ready),
# cart after the catalog it asks for price snapshots, the order domain last (orders reads the
# cart at checkout; its replicas and inventory's stock fill from events published by the
# fixtures, which come later still). payments serves no v1 route: it only takes part in the saga.
# reporting, a consumer of product and order events, comes first with search and reviews;
# history (the query side of orders) answers the v1 order reads, orders the checkout; history
# starts before orders so its queue is bound before the first order event.
my @SERVICES = qw(reporting search reviews catalog users cart inventory payments history orders);
my %ROUTES = (
    users     => [[accounts => '/api/v1/accounts']],
    catalog   => [[products => '/api/v1/products'], [categories => '/api/v1/categories']],
    search    => [[search => '/api/v1/search']],
    reviews   => [[reviews => '/api/v1/products/{id}/reviews']],
    cart      => [[cart => '/api/v1/cart', 'user']],
    orders    => [[orders => '/api/v1/orders', 'user']],
    history   => [[orders_read => '/api/v1/orders', 'user', ['GET', 'HEAD']]],
    inventory => [[stock => '/api/v1/products/{id}/stock']],
    payments  => [],
    reporting => [[reports => '/api/v1/reports', 'admin']],
);

# contract_target(): the target of this test file, started if need be (stopped at exit).
sub contract_target {
    my $t = bless {bad => [], products => [], tag => _tag()}, __PACKAGE__;
    if (my $url = $ENV{SOUK_TEST_TARGET}) {
        $url =~ s{/+$}{};
        @$t{qw(mode kind url)} = ('external', $ENV{SOUK_CONTRACT_MODE} // 'monolith', $url);
        $t->{secret} = $ENV{SOUK_JWT_SECRET} // $Souk::Test::DEV_SECRET;
    } else {
        my $mode = $ENV{SOUK_CONTRACT_MODE} // 'monolith';
        @$t{qw(mode kind secret)} = ($mode, $mode, $SECRET);
        $mode eq 'monolith' ? $t->_start_monolith
            : $mode eq 'services' ? $t->_start_services
            : die "SOUK_CONTRACT_MODE: want monolith or services, got '$mode'\n";
    }
    $t->{admin_token} = jwt_mint(sub => '1', role => 'admin', secret => $t->{secret});
    Test::More::note("contract target: $t->{mode} ($t->{kind}) at $t->{url}");
    return $t;
}

# A word no seeded data holds: letters and digits only, so both searches see one word.
sub _tag { sprintf('ct%x%04x', $$, int(rand(0xffff))) }

sub _start_monolith {
    my ($t) = @_;
    $t->{db} = mariadb_fresh('contract');
    $t->{svc}{monolith} = spawn_service('monolith', SOUK_MONOLITH_DB => $t->{db}{dsn},
        SOUK_JWT_SECRET => $SECRET, SOUK_ARGON2_OPS => 1, SOUK_ARGON2_MEM_KIB => 8192);
    $t->{url} = $t->{svc}{monolith}->url;
}

sub _start_services {
    my ($t) = @_;
    my $redis = $t->{redis} = redis_start();
    my %common = (SOUK_AMQP_URL => rabbit_vhost(), SOUK_JWT_SECRET => $SECRET);
    my %env = (
        catalog => sub { (SOUK_REDIS_URL => $redis->url) },
        users   => sub { (SOUK_ARGON2_OPS => 1, SOUK_ARGON2_MEM_KIB => 8192,
            SOUK_REDIS_URL => $redis->url) },
        cart => sub { (SOUK_REDIS_URL => $redis->url, SOUK_CATALOG_URL => $t->{svc}{catalog}->url) },
        # a waiting checkout holds a database connection (default 64 of them): two contract
        # files run at once on one PostgreSQL (max_connections 100)
        orders => sub { (SOUK_CART_URL => $t->{svc}{cart}->url, SOUK_ORDERS_WAITERS => 4) },
        # an unavailable provider is given up on well within the checkout's wait
        payments => sub { (SOUK_PAYMENTS_RETRY_LIMIT => 2, SOUK_PAYMENTS_RETRY_BASE_MS => 50,
            SOUK_PAYMENTS_CONSUMERS => 2) },
        reporting => sub { (SOUK_REPORTING_CONSUMERS => 1, SOUK_WORKERS => 2) },
        # a read of my orders right after a checkout waits for history to apply the version
        # the checkout answered (api() sends it back); the default 1 s is a tight bound for
        # ten services on a loaded 2-core machine in the sanitizer build, and a stale answer
        # (without the new order) fails the contract's "as checkout returned them"
        history => sub { (SOUK_HISTORY_RYW_WAIT_MS => 10000) },
    );
    for my $name (@SERVICES) {
        $t->{svc}{$name} = fresh_service($name, %common, $env{$name} ? $env{$name}->() : ());
        $t->{pg}{$name} = $t->{svc}{$name}{db};
    }
    my (%up, @routes);
    for my $name (@SERVICES) {
        $up{$name} = Souk::Gateway::pool("127.0.0.1:" . $t->{svc}{$name}->port);
        push @routes, map {
            Souk::Gateway::route(name => $_->[0], path => $_->[1], new => $name, mode => 'new',
                auth => $_->[2] // 'public', ($_->[3] ? (methods => $_->[3]) : ()),
                # a checkout waits for the saga's outcome (SOUK_ORDERS_SYNC_WAIT_MS, 15 s)
                timeout_ms => $_->[0] eq 'orders' ? 30000 : 10000)
        } @{$ROUTES{$name}};
    }
    $t->{gateway} = Souk::Gateway->start(env => {SOUK_JWT_SECRET => $SECRET},
        routes => Souk::Gateway::table(upstreams => \%up, routes => \@routes));
    $t->{url} = $t->{gateway}->url;
}

sub url  { $_[0]{url} }
sub kind { $_[0]{kind} }
sub tag  { $_[0]{tag} }
sub admin_token { $_[0]{admin_token} }

# differs($side, $why): $why when the target has that side, else undef; for `local $TODO`
# around an assertion it does not meet yet (each one listed in the README). $side is
# 'services' (the services answer) or 'gateway' (the gateway is in front: every target but a
# bare monolith; an external target is taken to be a gateway).
sub differs {
    my ($t, $side, $why) = @_;
    my $has = $side eq 'services' ? $t->{kind} eq 'services' : $t->{mode} ne 'monolith';
    return $has ? $why : undef;
}

# api($method, $path, token => ..., json => ..., body => ..., headers => {...}): http()
# against the target; every 5xx is remembered for finish().
# A read of the user's orders sends back the version their last checkout answered
# (Souk-Order-Version -> Souk-Min-Order-Version): souk-history waits for it (read-your-writes);
# the monolith ignores the header.
sub api {
    my ($t, $m, $p, %o) = @_;
    my $v = defined $o{token} ? $t->{order_version}{$o{token}} : undef;
    $o{headers} = {%{$o{headers} || {}}, 'Souk-Min-Order-Version' => $v}
        if defined $v && $m eq 'GET' && $p =~ m{^/api/v1/orders(?:[/?]|$)};
    api_request($t->{url}, $t->{bad}, $m, $p, %o);
}

sub admin_api { my ($t, $m, $p, %o) = @_; $t->api($m, $p, token => $t->{admin_token}, %o) }

# token(%claims): a token the target accepts (its secret), for forged-identity tests.
sub token { my ($t, %c) = @_; jwt_mint(secret => $t->{secret}, %c) }

# --- users --------------------------------------------------------------------

sub email { sprintf('%s.%d@contract.test', $_[0]{tag}, ++$SEQ) }

# user(%o): registered and logged in through v1: {id, email, password, name, token, user}.
# reviewer => 1 also waits until the reviews side knows the name (services: its replica).
sub user {
    my ($t, %o) = @_;
    my $u = {email => $o{email} // $t->email, password => $o{password} // 'correct horse battery',
        name => $o{name} // "Contract User $SEQ"};
    my $res = $t->api(POST => '/api/v1/accounts/register',
        json => {email => $u->{email}, password => $u->{password}, name => $u->{name}});
    die "register $u->{email}: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    $u->{id} = $res->{json}{id};
    $res = $t->api(POST => '/api/v1/accounts/login',
        json => {email => $u->{email}, password => $u->{password}});
    die "login $u->{email}: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    @$u{qw(token user)} = @{$res->{json}}{qw(token user)};
    $t->_wait_reviewer($u) if $o{reviewer};
    return $u;
}

sub _wait_reviewer {
    my ($t, $u) = @_;
    return unless $t->{kind} eq 'services';
    return Time::HiRes::sleep(1) if $t->{mode} eq 'external';    # no way to ask: a grace period
    wait_until("user $u->{id} in the reviews replica", sub {
        @{pg_sql($t->{pg}{reviews}{db}, "SELECT 1 FROM users_replica WHERE id = $u->{id}")};
    }, 20) or die "user $u->{id} never reached the reviews replica\n";
}

# --- catalog ------------------------------------------------------------------

# categories(): {parent, child, other}, each {id, slug, name}: child's parent is parent,
# other is unrelated. Made once per target (external targets: picked from what exists).
sub categories {
    my ($t) = @_;
    return $t->{categories} //= $t->_pick_categories if $t->{mode} eq 'external';
    return $t->{categories} //= do {
        my $parent = $t->_category('parent', 'Contract Parent');
        {parent => $parent, child => $t->_category('child', 'Contract Child', $parent),
            other => $t->_category('other', 'Contract Other')};
    };
}

sub _category {
    my ($t, $key, $name, $parent) = @_;
    my $slug = "$t->{tag}-$key";
    my $id;
    if ($t->{mode} eq 'monolith') {    # the monolith has no category write
        my $p = $parent ? $parent->{id} : 'NULL';
        mariadb_sql($t->{db}{db}, "INSERT INTO categories (slug, name, parent_id) VALUES ('$slug', '$name', $p)");
        $id = 0 + mariadb_sql($t->{db}{db}, "SELECT id FROM categories WHERE slug = '$slug'")->[0][0];
    } else {
        my $res = http(POST => $t->{svc}{catalog}->url . '/api/v2/categories',
            {headers => {Authorization => "Bearer $t->{admin_token}"},
             json => {slug => $slug, name => $name, ($parent ? (parent_id => $parent->{id}) : ())}});
        die "category $slug: $res->{status} $res->{body}\n" unless $res->{status} == 201;
        $id = $res->{json}{id};
    }
    return {id => $id, slug => $slug, name => $name};
}

sub _pick_categories {
    my ($t) = @_;
    my $all = $t->api(GET => '/api/v1/categories')->{json}{items} // [];
    my ($child) = grep { defined $_->{parent_id} } @$all;
    die "external target: no category with a parent to use\n" unless $child;
    my ($parent) = grep { $_->{id} == $child->{parent_id} } @$all;
    my ($other) = grep { !defined $_->{parent_id} && $_->{id} != $parent->{id} } @$all;
    die "external target: want two top-level categories\n" unless $other;
    my $pick = sub { +{map { ($_ => $_[0]{$_}) } qw(id slug name)} };
    return {parent => $pick->($parent), child => $pick->($child), other => $pick->($other)};
}

# product(%fields): POST /api/v1/products as admin, defaults for what is not given. Every
# fixture's description holds the tag (the search for it finds them all) and its attributes
# suite=<tag> (the list filtered on it shows only this file's products, seeded data or not).
sub product {
    my ($t, %f) = @_;
    $SEQ++;
    my %body = (sku => "$t->{tag}-$SEQ", name => "Contract Product $SEQ", brand => 'Acme',
        category_id => $t->categories->{other}{id}, price => {amount => 1000, currency => 'EUR'},
        %f);
    $body{description} = join ' ', grep {length} $body{description} // '', $t->{tag};
    $body{attributes} = {%{$body{attributes} || {}}, suite => $t->{tag}};
    my $res = $t->admin_api(POST => '/api/v1/products', json => \%body);
    die "product: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    push @{$t->{products}}, $res->{json}{id};
    return $res->{json};
}

# update_product($id, \%body, carts => [$user, ...]): PUT /api/v1/products/{id} as admin; the
# answer. On the services side the carts named learn the new price and name from events, so
# this waits until each of them shows them.
sub update_product {
    my ($t, $id, $body, %o) = @_;
    my $res = $t->admin_api(PUT => "/api/v1/products/$id", json => $body);
    die "update $id: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    return $res->{json} unless $t->{kind} eq 'services';
    for my $u (@{$o{carts} || []}) {
        wait_until("the cart of user $u->{id} shows product $id as updated", sub {
            my $c = $t->api(GET => '/api/v1/cart', token => $u->{token})->{json} // {};
            my ($l) = grep { $_->{product_id} == $id } @{$c->{items} || []};
            !$l || $l->{unit_price}{amount} == $body->{price}{amount} && $l->{name} eq $body->{name};
        }, 20) or die "the cart never saw the update of product $id\n";
    }
    return $res->{json};
}

# settle(): every product made so far is found by search (for its tag) and known to reviews,
# and the catalog's rating of each shows every review written so far (the catalog keeps it
# from review.created). Immediate on the monolith; the services get there through events.
sub settle {
    my ($t) = @_;
    return unless $t->{kind} eq 'services';
    my %want = map { ($_ => 1) } @{$t->{products}};
    my $n = keys %want;
    wait_until("search has the $n fixtures", sub {
        my %got;
        for (my $page = 1; ; $page++) {
            my $j = $t->api(GET => "/api/v1/search?q=$t->{tag}&limit=100&page=$page")->{json};
            return 0 unless ref $j eq 'HASH';
            $got{$_->{id}} = 1 for @{$j->{items}};
            last if $page * 100 >= $j->{total};
        }
        !grep { !$got{$_} } keys %want;
    }, 30) or die "search never caught up\n";
    for my $id (keys %want) {
        next if $t->{reviewable}{$id};
        wait_until("reviews knows product $id",
            sub { $t->api(GET => "/api/v1/products/$id/reviews")->{status} == 200 }, 20)
            or die "product $id never reached the reviews replica\n";
        $t->{reviewable}{$id} = 1;
    }
    for my $id (keys %want) {
        wait_until("the catalog's rating of product $id counts its reviews", sub {
            my $r = $t->api(GET => "/api/v1/products/$id/reviews?limit=1")->{json};
            my $p = $t->api(GET => "/api/v1/products/$id")->{json};
            ref $r eq 'HASH' && ref $p eq 'HASH' && defined $r->{count}
                && ($p->{rating}{count} // -1) == $r->{count};
        }, 20) or die "the catalog's rating of product $id never caught up\n";
    }
}

# --- orders -------------------------------------------------------------------

# address($user, \%address): PUT /api/v1/accounts/me/address; the stored address. On the
# services side orders copies it at checkout from its customer replica, so this waits until
# the replica has it (customer_known).
sub address {
    my ($t, $u, $addr) = @_;
    my $res = $t->api(PUT => '/api/v1/accounts/me/address', token => $u->{token}, json => $addr);
    die "address of user $u->{id}: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    $t->customer_known($u);
    return $res->{json};
}

# stock($product_id, $n): the admin PUT /api/v1/products/{id}/stock (monolith or inventory).
# On the services side inventory learns of a product from product.created (until then the PUT
# is 404) and orders prices lines from its product replica: this waits for both.
sub stock {
    my ($t, $id, $n) = @_;
    if ($t->{kind} eq 'services' && $t->{mode} ne 'external') {    # product.created first
        wait_until("inventory knows product $id",
            sub { @{pg_sql($t->{pg}{inventory}{db}, "SELECT 1 FROM stock WHERE product_id = $id")} }, 20)
            or die "product $id never reached inventory\n";
    }
    my $res = $t->admin_api(PUT => "/api/v1/products/$id/stock", json => {stock => $n});
    die "stock of product $id: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    $t->product_priced($id);
    return $res->{json};
}

# cart_add($user, $product_id, $quantity): POST /api/v1/cart/items; dies unless 200.
sub cart_add {
    my ($t, $u, $id, $qty) = @_;
    my $res = $t->api(POST => '/api/v1/cart/items', token => $u->{token},
        json => {product_id => $id, quantity => $qty});
    die "cart add $id x $qty: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    return $res->{json};
}

# checkout($user, $card, %headers): POST /api/v1/orders {"card_number": $card}. A 503 is an
# outcome the contract names (payment-unavailable), so it is not counted against finish().
sub checkout {
    my ($t, $u, $card, %h) = @_;
    my $res = $t->api(POST => '/api/v1/orders', token => $u->{token}, json => {card_number => $card},
        headers => \%h, allow_5xx => 1);
    my $v = $res->{headers}{'souk-order-version'};
    $t->{order_version}{$u->{token}} = $v if defined $v;
    return $res;
}

# cart_settled($user): on the services side the cart gives up the ordered lines when
# order.confirmed reaches it; this waits until the cart is empty (the monolith empties it in
# the checkout's transaction).
sub cart_settled {
    my ($t, $u) = @_;
    return unless $t->{kind} eq 'services';
    wait_until("the cart of user $u->{id} is empty after its checkout", sub {
        my $c = $t->api(GET => '/api/v1/cart', token => $u->{token})->{json} // {};
        ref $c->{items} eq 'ARRAY' && !@{$c->{items}};
    }, 20) or die "the cart of user $u->{id} never emptied\n";
}

# customer_known($user) / product_priced($product_id): orders' replicas (services side) have
# the user's address and the product's price (they follow users' and catalog's events).
sub customer_known { my ($t, $u) = @_; $t->_wait_replica(customers => $u->{id}) }
sub product_priced { my ($t, $id) = @_; $t->_wait_replica(products => $id) }

# How to ask orders' database whether a replica has a row (services/orders/migrations).
my %ORDERS_REPLICA = (
    customers => 'SELECT 1 FROM customers_replica WHERE id = %d AND line1 IS NOT NULL',
    products  => 'SELECT 1 FROM products_replica WHERE id = %d AND NOT deleted',
);

sub _wait_replica {
    my ($t, $which, $id) = @_;
    return unless $t->{kind} eq 'services';
    return Time::HiRes::sleep(1) if $t->{mode} eq 'external';    # no way to ask: a grace period
    my $sql = sprintf($ORDERS_REPLICA{$which}, $id);
    wait_until("$which $id in the orders replica",
        sub { @{pg_sql($t->{pg}{orders}{db}, $sql)} }, 20)
        or die "$which $id never reached the orders replica\n";
}

# finish(): a test that no answer was a 5xx.
sub finish {
    my ($t) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::is_deeply($t->{bad}, [], 'no 5xx answers') or Test::More::diag(join "\n", @{$t->{bad}});
}

# sales($from, $to): the admin GET /api/v1/reports/sales for those days. The monolith computes
# it in the request; souk-reporting keeps it from order events, so right after a checkout it
# may not show it yet: sales_after($from, $to, \&ok) asks again until &ok accepts the body's
# months (the freshness contract: eventually, within seconds), and returns the last answer.
sub sales {
    my ($t, $from, $to) = @_;
    return $t->admin_api(GET => "/api/v1/reports/sales?from=$from&to=$to");
}
sub sales_after {
    my ($t, $from, $to, $ok) = @_;
    my $res;
    wait_until("the sales report of $from..$to to catch up", sub {
        $res = $t->sales($from, $to);
        $res->{status} == 200 && $ok->($res->{json}{months});
    }, 20);
    return $res;
}

# --- shapes -------------------------------------------------------------------

# The v1 representations (contracts/api-v1.yaml, monolith/api*.c): members and JSON types,
# and the order of the members where a path of key_order() names them.
my $MONEY = {amount => 'int', currency => 'str'};
my $CATEGORY_REF = {id => 'int', slug => 'str', name => 'str'};
my $ADDRESS = {line1 => 'str', line2 => 'str', city => 'str', postal_code => 'str', country => 'str'};
my $SUMMARY = {id => 'int', sku => 'str', name => 'str', brand => 'str', category => $CATEGORY_REF,
    price => $MONEY, attributes => {'*' => 'str'}};
# souk-cart adds "price_changed" and "unavailable" (true) to a line when they apply (additive
# v1 members, services/cart/README.md); the monolith never sends them.
my $LINE = {product_id => 'int', name => 'str', quantity => 'int', unit_price => $MONEY,
    line_total => $MONEY, 'price_changed?' => 'bool', 'unavailable?' => 'bool'};
our %SPEC = (
    user => {id => 'int', email => 'str', name => 'str', role => 'str', created_at => 'ts',
        shipping_address => 'null'},
    address => $ADDRESS,
    login => {token => 'str', token_type => 'str', expires_in => 'int', user => 'user'},
    categories => {items => [{%$CATEGORY_REF, parent_id => 'int|null'}]},
    product => {%$SUMMARY, description => 'str', stock => 'int',
        rating => {average => 'num', count => 'int'}, created_at => 'ts', updated_at => 'ts'},
    product_page => {items => [$SUMMARY], page => 'int', limit => 'int', total => 'int'},
    search_page => {items => [$SUMMARY], page => 'int', limit => 'int', total => 'int',
        query => 'str'},
    review => {id => 'int', product_id => 'int', user_id => 'int', author => 'str', rating => 'int',
        title => 'str', body => 'str', created_at => 'ts'},
    cart => {items => [$LINE], total => $MONEY, item_count => 'int'},
    order => {id => 'int', user_id => 'int', status => 'str', total => $MONEY,
        items => [{product_id => 'int', name => 'str', quantity => 'int', unit_price => $MONEY,
            line_total => $MONEY}], shipping_address => $ADDRESS,
        payment => {status => 'str', card_last4 => 'str'}, created_at => 'ts'},
    problem => {type => 'str', title => 'str', status => 'int', detail => 'str', instance => 'str',
        request_id => 'str'},
);
$SPEC{sales_report} = {from => 'str', to => 'str',
    months => [{month => 'str', orders => 'int', items => 'int', revenue => $MONEY}]};
$SPEC{user_with_address} = {%{$SPEC{user}}, shipping_address => $ADDRESS};
$SPEC{login}{user} = $SPEC{user};
$SPEC{order_page} = {items => [$SPEC{order}], page => 'int', limit => 'int', total => 'int'};
$SPEC{review_page} = {items => [$SPEC{review}], page => 'int', limit => 'int', total => 'int',
    average_rating => 'num', count => 'int'};

my $SUMMARY_ORDER = 'id,sku,name,brand,category,price,attributes';
our %ORDER = (
    problem => {'.' => 'type,title,status,detail,instance,request_id'},
    user => {'.' => 'id,email,name,role,created_at,shipping_address'},
    address => {'.' => 'line1,line2,city,postal_code,country'},
    login => {'.' => 'token,token_type,expires_in,user',
        '.user' => 'id,email,name,role,created_at,shipping_address'},
    categories => {'.' => 'items', '.items[]' => 'id,slug,name,parent_id'},
    product => {'.' => "$SUMMARY_ORDER,description,stock,rating,created_at,updated_at",
        '.category' => 'id,slug,name', '.price' => 'amount,currency', '.rating' => 'average,count'},
    product_page => {'.' => 'items,page,limit,total', '.items[]' => $SUMMARY_ORDER,
        '.items[].category' => 'id,slug,name', '.items[].price' => 'amount,currency'},
    review => {'.' => 'id,product_id,user_id,author,rating,title,body,created_at'},
    review_page => {'.' => 'items,page,limit,total,average_rating,count',
        '.items[]' => 'id,product_id,user_id,author,rating,title,body,created_at'},
    cart => {'.' => 'items,total,item_count', '.total' => 'amount,currency',
        '.items[]' => 'product_id,name,quantity,unit_price,line_total',
        '.items[].unit_price' => 'amount,currency', '.items[].line_total' => 'amount,currency'},
);
$ORDER{order} = {'.' => 'id,user_id,status,total,items,shipping_address,payment,created_at',
    '.total' => 'amount,currency', '.items[]' => 'product_id,name,quantity,unit_price,line_total',
    '.shipping_address' => 'line1,line2,city,postal_code,country', '.payment' => 'status,card_last4'};
$ORDER{order_page} = {'.' => 'items,page,limit,total',
    map { ('.items[]' . ($_ eq '.' ? '' : $_) => $ORDER{order}{$_}) } keys %{$ORDER{order}}};
$ORDER{sales_report} = {'.' => 'from,to,months', '.months[]' => 'month,orders,items,revenue',
    '.months[].revenue' => 'amount,currency'};
$ORDER{search_page} = {%{$ORDER{product_page}}, '.' => 'items,page,limit,total,query'};

# answers($res, $status, $spec, $name): one test that $res (from api()) has that status, a
# Content-Type of application/json and a body conforming to $spec (a %SPEC name or a spec).
sub answers {
    my ($res, $status, $spec, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @bad;
    push @bad, "status is $res->{status}, want $status" if $res->{status} != $status;
    push @bad, "content-type is '" . ($res->{headers}{'content-type'} // '') . "'"
        unless ($res->{headers}{'content-type'} // '') =~ m{^application/json\s*(?:;|$)}i;
    if (!defined $res->{json}) {
        push @bad, 'body is not JSON';
    } elsif (defined $spec) {
        push @bad, conforms($res->{json}, ref $spec ? $spec : $SPEC{$spec} // die "no spec $spec\n");
    }
    my $ok = Test::More::ok(!@bad, $name);
    Test::More::diag(join("\n", @bad) . "\nbody: " . ($res->{body} // '')) unless $ok;
    return $ok;
}

# in_order($res, $order, $name): one test that the members at each path of $order (a %ORDER
# name or {path => 'a,b,c'}) come in that order in the body's text (other members ignored).
sub in_order {
    my ($res, $order, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $order = $ORDER{$order} // die "no order $order\n" unless ref $order;
    my %got = map { split /:/, $_, 2 } split /;/, key_order($res->{body} // '');
    my %want = %$order;
    # only the order of the members named: which members there are is conforms()' business
    my %seen = map {
        my %named = map { ($_ => 1) } split /,/, $want{$_};
        ($_ => join ',', grep { $named{$_} } split /,/, $got{$_});
    } grep { exists $got{$_} } keys %want;
    # an empty list has no item paths: compare only the paths the answer has
    %want = map { ($_ => $want{$_}) } grep { exists $got{$_} || !/\[\]/ } keys %want;
    return Test::More::is_deeply(\%seen, \%want, $name);
}

# conforms($data, $spec): the ways decoded JSON misses a spec (empty when it conforms).
# A spec is 'int', 'num', 'str', 'ts' (RFC 3339 UTC, seconds, Z), 'bool', 'null', 'A|B',
# [SPEC] (an array of SPEC items), {name => SPEC, ...} (exactly these members; a name ending
# in '?' is an additive member that may be absent) or {'*' => SPEC} (any members, each SPEC).
my $TS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
sub conforms {
    my ($d, $spec, $path) = @_;
    $path //= '';
    my $at = $path eq '' ? '.' : $path;
    if (ref $spec eq 'HASH') {
        return ("$at: not an object") unless ref $d eq 'HASH';
        if (my $each = $spec->{'*'}) {
            return map { conforms($d->{$_}, $each, "$path.$_") } sort keys %$d;
        }
        my %want = map { (s/\?$//r => $spec->{$_}) } keys %$spec;
        my @bad = map {"$at: unexpected member \"$_\""} grep { !exists $want{$_} } sort keys %$d;
        push @bad, map {"$at: missing member \"$_\""}
            grep { !/\?$/ && !exists $d->{$_} } sort keys %$spec;
        push @bad, map { conforms($d->{$_}, $want{$_}, "$path.$_") }
            grep { exists $d->{$_} } sort keys %want;
        return @bad;
    }
    if (ref $spec eq 'ARRAY') {
        return ("$at: not an array") unless ref $d eq 'ARRAY';
        return map { conforms($d->[$_], $spec->[0], "$path\[$_]") } 0 .. $#$d;
    }
    my $type = json_shape($d);
    for my $s (split /\|/, $spec) {
        return () if $s eq 'null' && $type eq 'null'
            || $s eq 'bool' && $type eq 'boolean'
            || $s eq 'str' && $type eq 'string'
            || $s eq 'ts' && $type eq 'string' && $d =~ $TS
            || $s eq 'num' && $type eq 'number'
            || $s eq 'int' && $type eq 'number' && $d =~ /^-?\d+$/;
    }
    return ("$at: " . (ref $d ? lc(ref $d) : $type eq 'null' ? 'null' : "$type '$d'") . ", want $spec");
}

1;
