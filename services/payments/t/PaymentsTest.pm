# Helpers for the payments tests (20_api.t, 30_never_twice.t, 32_tries_survive.t): the saga's events as the other
# services would publish them, injected into payments' own outbox (its relay publishes them
# to souk.events, its queue is bound to them, so they come back to its consumers exactly as
# inventory's and orders' would), and reads of its tables and of what it published.
package PaymentsTest;
use strict;
use warnings;
use Exporter 'import';
use JSON::PP ();
use Souk::Test;

our @EXPORT = qw(shop_env token inject inject_many reserved_payload reserved confirmed cancelled payment provider_rows published
    wait_state);

my $JSON = JSON::PP->new->canonical;

# shop_env(%overrides): a fresh payments database and RabbitMQ vhost on the run's servers, and
# the service's environment for them (4 tries; the back-off each file sets in %overrides).
# Returns ($db, %env): $db for pg_sql, %env for spawn_service / launch_service.
sub shop_env {
    my (%over) = @_;
    infra('postgres', 'rabbitmq');
    my $pg = pg_fresh('payments');
    return ($pg->{db}, SOUK_PAYMENTS_DB => $pg->{dsn}, SOUK_AMQP_URL => rabbit_vhost(),
        SOUK_PAYMENTS_RETRY_LIMIT => 4, SOUK_LOG_LEVEL => 'info', %over);
}
my $N = 0;

sub uuid {
    my $n = ++$N;
    return sprintf('%08x-%04x-4%03x-8%03x-%012x', $$ & 0xffffffff, $n & 0xffff, ($n >> 16) & 0xfff,
        int(rand(0xfff)), int(rand(2**40)));
}

# token($behaviour, $last4): a simulated provider's token (lib/card.h) for ok|decline|down.
sub token {
    my ($b, $last4) = @_;
    return sprintf('sim_%s_%s_%016x', $b, $last4 // '4242', int(rand(2**48)));
}

# inject($db, $type, $aggregate_id, \%payload, $id): one envelope into the outbox; returns its id.
sub inject {
    my ($db, $type, $agg, $payload, $id) = @_;
    $id //= uuid();
    inject_many($db, [$type, $agg, $payload, $id]);
    return $id;
}

# inject_many($db, [$type, $aggregate_id, \%payload, $id?], ...): envelopes in one INSERT, so
# the relay publishes them together.
sub inject_many {
    my ($db, @events) = @_;
    my @rows = map {
        my ($type, $agg, $payload, $id) = @$_;
        $id //= uuid();
        my $env = $JSON->encode({id => $id, type => $type, version => 1,
            occurred_at => '2026-12-07T10:00:00.000Z', aggregate_id => $agg, trace_id => '',
            payload => $payload});
        $env =~ s/'/''/g;
        "('$id', '$type', $agg, '$env')";
    } @events;
    pg_sql($db, 'INSERT INTO outbox (id, type, aggregate_id, envelope) VALUES ' . join(', ', @rows));
}

# reserved_payload($order, %o): inventory.reserved's payload (card ok|decline|down, last4,
# token, amount, user).
sub reserved_payload {
    my ($order, %o) = @_;
    my $last4 = $o{last4} // '4242';
    return {order_id => $order, user_id => $o{user} // 7,
        lines => [{product_id => 42, quantity => 2}],
        amount => {amount => $o{amount} // 3998, currency => 'EUR'},
        card => {token => $o{token} // token($o{card} // 'ok', $last4), last4 => $last4},
        hold_until => '2026-12-07T10:01:00Z'};
}

sub reserved {
    my ($db, $order, %o) = @_;
    return inject($db, 'inventory.reserved', $order, reserved_payload($order, %o), $o{id});
}

sub confirmed {
    my ($db, $order, %o) = @_;
    return inject($db, 'order.confirmed', $order, {order_id => $order, user_id => $o{user} // 7,
        lines => [{product_id => 42, quantity => 2}], total => {amount => 3998, currency => 'EUR'},
        at => '2026-12-07T10:00:01Z'});
}

sub cancelled {
    my ($db, $order, %o) = @_;
    return inject($db, 'order.cancelled', $order, {order_id => $order, user_id => $o{user} // 7,
        reason => $o{reason} // 'deadline', at => '2026-12-07T10:00:30Z'});
}

# payment($db, $order): payments' row as a hash (undef when none).
sub payment {
    my ($db, $order) = @_;
    my $r = pg_sql($db, "SELECT id, state, amount_minor, idempotency_key, attempts, failure,
        provider_ref, card_last4 FROM payments WHERE order_id = $order")->[0] or return undef;
    my %p;
    @p{qw(id state amount key attempts failure ref last4)} = @$r;
    return \%p;
}

# provider_rows($db, $order): the simulated provider's ledger for the order, through the
# audit view: [{key, authorized, captured, refunded, voided}...].
sub provider_rows {
    my ($db, $order) = @_;
    return [map { my %r; @r{qw(key authorized captured refunded voided)} = @$_; \%r }
        @{pg_sql($db, "SELECT idempotency_key, authorized, captured, refunded, voided
            FROM audit_provider WHERE order_id = $order ORDER BY idempotency_key")}];
}

# published($db, $type, $order): payloads payments wrote to its outbox for the order.
sub published {
    my ($db, $type, $order) = @_;
    return [map { $JSON->decode($_->[0])->{payload} } @{pg_sql($db,
        "SELECT envelope FROM outbox WHERE type = '$type' AND aggregate_id = $order ORDER BY seq")}];
}

# wait_state($db, $order, $state, $timeout): until payments' row is in $state.
sub wait_state {
    my ($db, $order, $state, $t) = @_;
    return wait_until("order $order $state", sub {
        my $p = payment($db, $order);
        $p && $p->{state} eq $state;
    }, $t // 15);
}

1;
