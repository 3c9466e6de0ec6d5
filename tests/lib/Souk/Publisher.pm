package Souk::Publisher;
# Events published onto a vhost's souk.events exactly as a service would: a souk-mqprobe
# (lib/t/mqprobe.c) that only relays, on a probe database of its own, whose outbox rows the
# test writes (any envelope, in any order, the same event id twice). For consumers' tests
# that play a producer without running it (services/reporting/t).
#
#   my $pub = Souk::Publisher->new($amqp_url);
#   my $id = $pub->publish('order.confirmed', 7, {order_id => 7, ...}, occurred_at => ...);
#   $pub->publish_envelopes(@envelopes);   # one transaction, published in this order
use strict;
use warnings;
use JSON::PP ();
use Souk::Test qw(pg_sql pg_admin_dsn spawn_service);
use Souk::Probe qw(probe_db);

my $JSON = JSON::PP->new->utf8->canonical;
my $N = 0;

sub new {
    my ($class, $amqp) = @_;
    my $db = probe_db('pub' . ++$N);
    my $svc = spawn_service('mqprobe', SOUK_PROBE_DB => pg_admin_dsn($db), SOUK_AMQP_URL => $amqp,
        SOUK_PROBE_CONSUME => 0, SOUK_PROBE_SERVICE => "publisher$N", SOUK_OUTBOX_POLL_MS => 20);
    return bless {db => $db, svc => $svc, seq => 0}, $class;
}

# A random UUID (version 4 layout), lower case.
sub uuid {
    my @b = map { int rand 256 } 1 .. 16;
    $b[6] = ($b[6] & 0x0f) | 0x40;
    $b[8] = ($b[8] & 0x3f) | 0x80;
    return join '-', map { join '', map { sprintf '%02x', $_ } @b[@$_] }
        [0 .. 3], [4, 5], [6, 7], [8, 9], [10 .. 15];
}

# envelope($type, $aggregate_id, \%payload, id => ..., occurred_at => ...): the envelope hash.
sub envelope {
    my ($self, $type, $agg, $payload, %o) = @_;
    return {id => $o{id} // uuid(), type => $type, version => 1,
        occurred_at => $o{occurred_at} // '2026-01-02T03:04:05.678Z', aggregate_id => $agg,
        trace_id => '', payload => $payload};
}

# With SOUK_API_CAPTURE (tests/run.sh), every event published here is also checked against
# its schema at the end of the run (contracts/bin/events.mjs validate), as the services' are:
# a test plays a producer with the producer's own payloads.
sub _capture {
    my ($self, @envs) = @_;
    return unless $ENV{SOUK_API_CAPTURE};
    open my $fh, '>>', "$ENV{SOUK_API_CAPTURE}/$$.events.jsonl" or return;
    print $fh map { $JSON->encode({file => $0, db => $self->{db}, envelope => $JSON->encode($_),
        ($self->{invalid}{$_->{id}} ? (invalid_on_purpose => JSON::PP::true) : ())}) . "\n" }
        grep { !$self->{captured}{$_->{id}}++ } @envs;
    close $fh;
}

# publish_envelopes(@envelopes): written in one transaction, relayed in the order given.
sub publish_envelopes {
    my ($self, @envs) = @_;
    return unless @envs;
    $self->_capture(@envs);
    # The outbox row's id is the message_id the relay publishes (what `soukctl dlq` lists): the
    # event's id, as a service writes it; a redelivery staged here needs a row id of its own.
    my @rows = map {
        (my $q = $JSON->encode($_)) =~ s/'/''/g;
        my $row_id = $self->{staged}{$_->{id}}++ ? 'gen_random_uuid()' : "'$_->{id}'";
        "($row_id, '$_->{type}', $_->{aggregate_id}, '$q')"
    } @envs;
    pg_sql($self->{db},
        'INSERT INTO outbox (id, type, aggregate_id, envelope) VALUES ' . join(', ', @rows));
}

# invalid($envelope): mark a deliberately malformed event, so the schema check expects it to fail.
sub invalid { $_[0]{invalid}{$_[1]{id}} = 1; return $_[1] }

# publish($type, $aggregate_id, \%payload, %o): one event; returns its id.
sub publish {
    my ($self, @args) = @_;
    my $e = $self->envelope(@args);
    $self->publish_envelopes($e);
    return $e->{id};
}

# Events still waiting in the outbox (not yet confirmed by the broker).
sub unsent { pg_sql($_[0]{db}, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0] }

sub stop { $_[0]{svc}->stop if $_[0]{svc} }

1;
