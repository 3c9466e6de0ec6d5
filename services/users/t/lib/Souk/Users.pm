package Souk::Users;
# Helpers for souk-users' black-box tests (services/users/t/*.t): a fresh PostgreSQL
# database migrated by soukctl, a RabbitMQ vhost, a private Redis (the v2 sessions), and
# souk-users replicas on them, with fast
# Argon2id and the secret of monolith/t/lib/Souk/Shop.pm (so Souk::Shop->mint tokens work
# on both sides). Core Perl modules only.
#
#   my $u = Souk::Users->start('api');
#   my $res = $u->api(GET => '/api/v1/accounts/me', token => $token);
#   my $r2 = $u->replica(SOUK_USERS_LOGIN_MAX_FAILURES => 3);   # another process, same db
#   $u->finish;                                                  # no 5xx, no error logs
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../../monolith/t/lib";
use Test::More ();
use Souk::Test;
use Souk::Shop ();

our $SECRET = $Souk::Shop::SECRET;

# start($name, %env): a fresh users database, vhost and Redis, one souk-users on them.
sub start {
    my ($class, $name, %env) = @_;
    infra('postgres', 'rabbitmq');
    my $redis = redis_start();
    my $s = fresh_service('users', _env(), SOUK_REDIS_URL => $redis->url, %env);
    my $t = bless {db => $s->{db}, amqp => $s->{amqp}, bad => [], svcs => [$s], name => $name,
        svc => $s, url => $s->url, redis => $redis}, $class;
    return $t;
}

# Fast Argon2id and the shared test secret.
sub _env { (SOUK_JWT_SECRET => $SECRET, SOUK_ARGON2_OPS => 1, SOUK_ARGON2_MEM_KIB => 8192) }

# replica(%env): one more souk-users on the same database and vhost; the first is the
# default target of api(), others are reached with api(..., svc => $s).
sub replica {
    my ($t, %env) = @_;
    my $s = spawn_service('users', SOUK_USERS_DB => $t->{db}{dsn}, SOUK_AMQP_URL => $t->{amqp},
        SOUK_REDIS_URL => $t->{redis}->url, _env(), %env);
    push @{$t->{svcs}}, $s;
    return $s;
}

sub url   { $_[0]{url} }
sub svc   { $_[0]{svc} }
sub db    { $_[0]{db} }
sub redis { $_[0]{redis} }

# redis_cmd(@args): one command on this file's Redis through redis-cli (no shell); its
# output, chomped ("" for nil).
sub redis_cmd {
    my ($t, @args) = @_;
    open my $fh, '-|', 'redis-cli', '-p', $t->{redis}->port, '--raw', @args
        or die "redis-cli: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    $out =~ s/\n\z//;
    return $out;
}

# The vhost of this file's broker URL, percent-decoded (for rabbitmqctl -p).
sub vhost {
    my ($v) = $_[0]{amqp} =~ m{/([^/]*)$};
    return $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ger;
}

# api($method, $path, token => ..., json => ..., body => ..., headers => {...}, svc => $s):
# http() against souk-users; every 5xx is remembered and reported by finish().
sub api {
    my ($t, $method, $path, %o) = @_;
    return api_request($o{svc} ? $o{svc}->url : $t->{url}, $t->{bad}, $method, $path, %o);
}

# sql($text): rows as arrayrefs, as the superuser on this file's database; sql1: first cell.
sub sql { pg_sql($_[0]{db}{db}, $_[1]) }
sub sql1 {
    my $rows = pg_sql($_[0]{db}{db}, $_[1]);
    return @$rows ? $rows->[0][0] : undef;
}

my $SEQ = 0;
sub email { sprintf('%s%d_%d@example.test', $_[1] // 'user', $$, ++$SEQ) }

# user(email =>, password =>, name =>, svc =>, ip =>): register + login on one replica
# (ip: the X-Forwarded-For it sends);
# {id, email, password, name, token, user}.
sub user {
    my ($t, %o) = @_;
    my $email = $o{email} // $t->email;
    my $pw = $o{password} // 'correct horse battery';
    my $name = $o{name} // "Test User $SEQ";
    my @svc = (($o{svc} ? (svc => $o{svc}) : ()),
        ($o{ip} ? (headers => {'X-Forwarded-For' => $o{ip}}) : ()));
    my $res = $t->api(POST => '/api/v1/accounts/register', @svc,
        json => {email => $email, password => $pw, name => $name});
    die "register $email: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    $res = $t->api(POST => '/api/v1/accounts/login', @svc,
        json => {email => $email, password => $pw});
    die "login $email: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    return {id => $res->{json}{user}{id}, email => lc $email, password => $pw, name => $name,
        token => $res->{json}{token}, user => $res->{json}{user}};
}

# finish(): no 5xx was seen and no replica logged an error.
sub finish {
    my ($t) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    no_failures($t->{bad}, $t->{svcs}, name => 'users');
}

1;
