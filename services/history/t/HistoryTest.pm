# Helpers for the history tests: a souk-history and a souk-orders on fresh databases in one
# vhost. Order events are written into orders' own outbox the way its checkout and its
# consumers write them; orders' relay publishes them and orders' order_log trigger keeps
# them (the feed `soukctl history rebuild` replays), so history sees exactly what it would
# see from a running saga.
package HistoryTest;
use strict;
use warnings;
use Exporter 'import';
use JSON::PP ();
use Souk::Test;

our @EXPORT = qw(start_pair tok created moved inject_many row_count caught_up);

my $JSON = JSON::PP->new->canonical;
our $SECRET = 'history-test-secret-0123456789abcdef';

# start_pair(%history_env): (history, orders), history first so its queue is bound before
# anything is published.
sub start_pair {
    my (%env) = @_;
    infra('postgres', 'rabbitmq');
    my $vhost = rabbit_vhost();
    my $h = fresh_service('history', SOUK_AMQP_URL => $vhost, SOUK_JWT_SECRET => $SECRET,
        %env);
    my $o = fresh_service('orders', SOUK_AMQP_URL => $vhost, SOUK_JWT_SECRET => $SECRET,
        SOUK_CART_URL => 'http://127.0.0.1:9');
    return ($h, $o);
}

sub tok {
    my ($sub, $role) = @_;
    return jwt_mint(sub => "$sub", role => $role // 'customer', iat => time - 5,
        secret => $SECRET);
}

my $N = 0;
sub uuid {
    my $n = ++$N;
    return sprintf('%08x-%04x-4%03x-8%03x-%012x', $$ & 0xffffffff, $n & 0xffff,
        ($n >> 16) & 0xfff, int(rand(0xfff)), int(rand(2**40)));
}

# created($oid, $uid, %o): an order.created [type, aggregate, payload].
sub created {
    my ($oid, $uid, %o) = @_;
    my $lines = $o{lines} // [[42, 2, 1999, 'Blue mug'], [7, 1, 500, "Tea \"Earl\" Grey"]];
    my $total = 0;
    $total += $_->[1] * $_->[2] for @$lines;
    return ['order.created', $oid, {order_id => $oid, user_id => $uid,
        lines => [map { {product_id => $_->[0], quantity => $_->[1],
            unit_price => {amount => $_->[2], currency => 'EUR'}, name => $_->[3]} } @$lines],
        total => {amount => $total, currency => 'EUR'},
        card => {token => 'sim_ok_4242_0123456789abcdef', last4 => $o{last4} // '4242'},
        ship_to => {line1 => 'Rua Augusta 10', line2 => '3 Dto', city => 'Lisboa',
            postal_code => '1100-053', country => 'PT'},
        deadline => '2030-01-01T00:00:30Z', created_at => $o{at} // '2026-12-07T10:00:00Z'}];
}

# moved($type, $oid, $uid, %o): order.confirmed | .rejected | .cancelled.
sub moved {
    my ($type, $oid, $uid, %o) = @_;
    my %p = (order_id => $oid, user_id => $uid, at => $o{at} // '2026-12-07T10:00:05Z');
    $p{lines} = [{product_id => 42, quantity => 2}] if $type eq 'order.confirmed';
    $p{total} = {amount => 4498, currency => 'EUR'} if $type eq 'order.confirmed';
    $p{shortages} = [{product_id => 42, requested => 2, available => 1}]
        if $type eq 'order.rejected';
    $p{reason} = $o{reason} // 'payment-declined' if $type eq 'order.cancelled';
    return [$type, $oid, \%p];
}

# inject_many($orders_db, [type, aggregate, payload, id?], ...): one INSERT into orders'
# outbox; returns the event ids.
sub inject_many {
    my ($db, @ev) = @_;
    my (@rows, @ids);
    for my $e (@ev) {
        my $id = $e->[3] // uuid();
        push @ids, $id;
        my $env = $JSON->encode({id => $id, type => $e->[0], version => 1,
            occurred_at => '2026-12-07T10:00:00.000Z', aggregate_id => $e->[1] + 0,
            trace_id => '', payload => $e->[2]});
        (my $q = $env) =~ s/'/''/g;
        push @rows, "('$id', '$e->[0]', $e->[1], '$q')";
    }
    pg_sql($db, 'INSERT INTO outbox (id, type, aggregate_id, envelope) VALUES '
        . join(', ', @rows));
    return @ids;
}

# row_count($history_db, $where): rows of order_rows matching.
sub row_count { pg_sql($_[0], "SELECT count(*) FROM order_rows WHERE $_[1]")->[0][0] }

# caught_up($history_db, $orders_db): true once every event in orders' outbox is in history's
# inbox, i.e. applied and committed. history applies with several consumer threads, so a row
# count (every order has a row) says nothing about the moves of those orders still in flight.
sub caught_up {
    my ($hdb, $odb) = @_;
    my @ids = map { $_->[0] } @{pg_sql($odb, 'SELECT id FROM outbox')};
    return 1 if !@ids;
    my $in = join ', ', map {"'$_'"} @ids;
    return pg_sql($hdb, "SELECT count(*) FROM inbox WHERE event_id IN ($in)")->[0][0] == @ids;
}

1;
