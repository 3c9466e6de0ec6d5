package InventoryTest;
# Shared helpers for inventory's black-box tests: a fresh database and vhost, souk-inventory
# (one or several instances on the same database and queue), admin and customer tokens, and
# the saga's events published for real: each envelope is inserted into the inventory's own
# outbox, its relay publishes it to souk.events in the test's vhost and its consumer (bound
# to those keys) receives it like any other service's event. Core Perl modules only.
use strict;
use warnings;
use Exporter 'import';
use JSON::PP ();
use Souk::Test;

our $SECRET = 'inventory-test-secret-0123456789abcdef';
my $JSON = JSON::PP->new->utf8->canonical;

# start(%env): {db, amqp, svc, url, admin, customer}; the relay runs (events travel).
sub start {
    my ($class, %env) = @_;
    my $svc = fresh_service('inventory', SOUK_JWT_SECRET => $SECRET, SOUK_MQ_RETRY_DELAY_MS => 50,
        %env);
    return bless {db => $svc->{db}, amqp => $svc->{amqp}, svc => $svc, svcs => [$svc],
        url => $svc->url, env => {%env}, admin => mint(role => 'admin', sub => '1'),
        customer => mint(sub => '2'), bad => []}, $class;
}

# more(%env): another souk-inventory on the same database and vhost (one queue, competing
# consumers); its guard.
sub more {
    my ($t, %env) = @_;
    my $s = spawn_service('inventory', SOUK_INVENTORY_DB => $t->{db}{dsn},
        SOUK_AMQP_URL => $t->{amqp}, SOUK_JWT_SECRET => $SECRET, SOUK_MQ_RETRY_DELAY_MS => 50,
        %{$t->{env}}, %env);
    push @{$t->{svcs}}, $s;
    return $s;
}

sub api { my ($t, @a) = @_; api_request($t->{url}, $t->{bad}, @a) }
sub admin_api { my ($t, $m, $p, %o) = @_; $t->api($m, $p, token => $t->{admin}, %o) }
sub sql { pg_sql($_[0]{db}{db}, $_[1]) }
sub metric { metric_value($_[0]{url}, $_[1]) }
sub mint { jwt_mint(secret => $SECRET, @_) }

# consumed(): events consumed over every instance (duplicates included).
sub consumed {
    my ($t) = @_;
    my $n = 0;
    $n += (metric_value($_->url, 'souk_events_consumed_total') // 0)
        + (metric_value($_->url, 'souk_events_duplicates_total') // 0) for @{$t->{svcs}};
    return $n;
}

my $SEQ = 0;
sub uuid {
    my $n = ++$SEQ;
    return sprintf('%08x-%04x-4%03x-8%03x-%012x', $$ & 0xffffffff, $n & 0xffff, ($n >> 16) & 0xfff,
        int(rand(0xfff)), int(rand(2**40)));
}

# publish($type, $aggregate_id, \%payload): one envelope into the outbox (the relay
# publishes it); its event id. Several at once: publish_many([$type, $agg, $payload], ...).
sub publish { my ($t, @e) = @_; ($t->publish_many([@e]))[0] }

sub publish_many {
    my ($t, @evs) = @_;
    my (@rows, @ids);
    for (@evs) {
        my ($type, $agg, $payload) = @$_;
        my $id = uuid();
        push @ids, $id;
        my $env = $JSON->encode({id => $id, type => $type, version => 1,
            occurred_at => '2026-12-07T10:00:00.000Z', aggregate_id => $agg + 0, trace_id => '',
            payload => $payload});
        $env =~ s/'/''/g;
        push @rows, "('$id', '$type', $agg, '$env')";
    }
    while (my @chunk = splice @rows, 0, 200) {
        $t->sql('INSERT INTO outbox (id, type, aggregate_id, envelope) VALUES '
            . join(', ', @chunk));
    }
    return @ids;
}

# The saga's payloads, as orders and payments write them (contracts/events.md).
sub order_created_payload {
    my ($oid, $lines, %o) = @_;
    my $total = 0;
    my @l = map { $total += $_->[1] * 1000;
        {product_id => $_->[0], quantity => $_->[1], unit_price => {amount => 1000, currency => 'EUR'}} }
        @$lines;
    return {order_id => $oid, user_id => $o{user_id} // 7, lines => \@l,
        total => {amount => $total, currency => 'EUR'},
        card => {token => 'sim_ok_4242_9f86d081884c7d65', last4 => '4242'},
        ship_to => {line1 => '12 Analytical Row', line2 => '', city => 'London',
            postal_code => 'NW1 6XE', country => 'GB'},
        deadline => '2026-12-07T10:00:30Z', created_at => '2026-12-07T10:00:00Z'};
}

sub order_created { my ($t, $oid, $lines, %o) = @_;
    $t->publish('order.created', $oid, order_created_payload($oid, $lines, %o)) }
sub payment_succeeded { my ($t, $oid) = @_;
    $t->publish('payment.succeeded', $oid, {order_id => $oid, payment_id => $oid + 5000,
        amount => {amount => 1000, currency => 'EUR'}, provider_ref => "sim-$oid", card_last4 => '4242'}) }
sub payment_failed { my ($t, $oid) = @_;
    $t->publish('payment.failed', $oid, {order_id => $oid, reason => 'declined', attempts => 1}) }
sub order_cancelled { my ($t, $oid, $reason) = @_;
    $t->publish('order.cancelled', $oid, {order_id => $oid, user_id => 7,
        reason => $reason // 'deadline', at => '2026-12-07T10:00:31Z'}) }
sub order_confirmed { my ($t, $oid, $lines) = @_;
    $t->publish('order.confirmed', $oid, {order_id => $oid, user_id => 7,
        lines => [map { {product_id => $_->[0], quantity => $_->[1]} } @$lines],
        total => {amount => 1000, currency => 'EUR'}, at => '2026-12-07T10:00:05Z'}) }

# A catalog document as product.created carries it.
sub product_created {
    my ($t, $pid) = @_;
    $t->publish('product.created', $pid, {version => 1, product => {id => $pid, sku => "SKU-$pid",
        name => "Product $pid", description => '', brand => 'Souk',
        category => {id => 1, slug => 'kitchen', name => 'Kitchen'},
        price => {amount => 1000, currency => 'EUR'}, images => [], attributes => {}, stock => 0,
        rating => {average => 0, count => 0}, created_at => '2026-12-07T10:00:00Z',
        updated_at => '2026-12-07T10:00:00Z'}});
}
sub product_deleted { my ($t, $pid, $v) = @_;
    $t->publish('product.deleted', $pid, {version => $v // 2, product_id => $pid}) }

# product($id, $units): a known product with $units available (backfill-like row, then PUT).
sub product {
    my ($t, $pid, $units) = @_;
    $t->sql("INSERT INTO stock (product_id) VALUES ($pid) ON CONFLICT DO NOTHING");
    my $res = $t->admin_api(PUT => "/api/v1/products/$pid/stock", json => {stock => $units});
    die "product $pid: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    return $pid;
}

# stock($id): {received, on_hand, reserved, sold, version, deleted} from the table.
sub stock {
    my ($t, $pid) = @_;
    my $r = $t->sql("SELECT received, on_hand, reserved, sold, version, deleted FROM stock
        WHERE product_id = $pid")->[0] or return undef;
    my %s;
    @s{qw(received on_hand reserved sold version deleted)} = @$r;
    $s{$_} += 0 for qw(received on_hand reserved sold version);
    return \%s;
}

# state($order_id): the reservation's state (undef: none).
sub state {
    my ($t, $oid) = @_;
    my $r = $t->sql("SELECT state FROM reservations WHERE order_id = $oid")->[0];
    return $r ? $r->[0] : undef;
}

# wait_state($order_id, $state): until the reservation is in $state.
sub wait_state {
    my ($t, $oid, $want, $s) = @_;
    return wait_until("order $oid $want", sub { ($t->state($oid) // '') eq $want }, $s // 20);
}

# events($type, $aggregate_id): payloads of the inventory's own events of $type, in order.
sub events {
    my ($t, $type, $agg) = @_;
    return [map { $JSON->decode($_->[0])->{payload} } @{$t->sql("SELECT envelope FROM outbox
        WHERE type = '$type'" . (defined $agg ? " AND aggregate_id = $agg" : '') . ' ORDER BY seq')}];
}

# finish($expected): no 5xx seen and no error line logged but lines matching $expected.
sub finish {
    my ($t, $expected) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    no_failures($t->{bad}, $t->{svcs}, expected => $expected);
}

1;
