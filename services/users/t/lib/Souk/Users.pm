package Souk::Users;
# Helpers for souk-users' black-box tests (services/users/t/2*.t): a fresh PostgreSQL
# database migrated by soukctl, a RabbitMQ vhost, and souk-users replicas on it, with fast
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

# start($name, %env): a fresh users database and vhost, one souk-users on them.
sub start {
    my ($class, $name, %env) = @_;
    infra('postgres', 'rabbitmq');
    my $db = pg_fresh('users');
    my $amqp = rabbit_vhost();
    my $t = bless {db => $db, amqp => $amqp, bad => [], svcs => [], name => $name}, $class;
    $t->{svc} = $t->replica(%env);
    $t->{url} = $t->{svc}->url;
    return $t;
}

# replica(%env): one more souk-users on the same database and vhost; the first is the
# default target of api(), others are reached with api(..., svc => $s).
sub replica {
    my ($t, %env) = @_;
    my $s = spawn_service('users', SOUK_USERS_DB => $t->{db}{dsn}, SOUK_AMQP_URL => $t->{amqp},
        SOUK_JWT_SECRET => $SECRET, SOUK_ARGON2_OPS => 1, SOUK_ARGON2_MEM_KIB => 8192, %env);
    push @{$t->{svcs}}, $s;
    return $s;
}

sub url { $_[0]{url} }
sub svc { $_[0]{svc} }
sub db  { $_[0]{db} }

# The vhost of this file's broker URL, percent-decoded (for rabbitmqctl -p).
sub vhost {
    my ($v) = $_[0]{amqp} =~ m{/([^/]*)$};
    return $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ger;
}

# api($method, $path, token => ..., json => ..., body => ..., headers => {...}, svc => $s):
# http() against souk-users; every 5xx is remembered and reported by finish().
sub api {
    my ($t, $method, $path, %o) = @_;
    my %h = %{$o{headers} || {}};
    $h{Authorization} = "Bearer $o{token}" if defined $o{token};
    my $url = ($o{svc} ? $o{svc}->url : $t->{url}) . $path;
    my $res = http($method, $url, {headers => \%h,
        (exists $o{json} ? (json => $o{json}) : ()),
        (defined $o{body} ? (body => $o{body}) : ())});
    push @{$t->{bad}}, "$method $path -> $res->{status}: " . ($res->{body} // '')
        if $res->{status} >= 500;
    return $res;
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
    Test::More::is_deeply($t->{bad}, [], 'users: no 5xx responses')
        or Test::More::diag(join "\n", @{$t->{bad}});
    # /ready polled by spawn_service before the relay's first connect is not an error here.
    my @err = grep { /"level":"error"/ && !/"path":"\/ready"/ }
        map { split /\n/, $_->stderr_text } @{$t->{svcs}};
    Test::More::is(scalar @err, 0, 'users: no error logged')
        or Test::More::diag(join "\n", @err[0 .. ($#err > 20 ? 20 : $#err)]);
}

1;
