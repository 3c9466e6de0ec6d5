package Souk::Shop;
# Shared helpers for the monolith's black-box tests (monolith/t/3*.t): one fresh MariaDB
# schema and one souk-monolith per test file, users, admins, categories and products
# created through the API (or SQL where the API has no write), and HS256 tokens minted
# here with the same secret. Core Perl modules only.
#
#   my $t = Souk::Shop->start('cart');
#   my $u = $t->user;                          # registered, address set, logged in
#   my $res = $t->api(GET => '/api/v1/cart', token => $u->{token});
#   $t->finish;                                # "no 5xx" and "no error logs" tests
use strict;
use warnings;
use File::Temp ();
use HTTP::Tiny ();
use JSON::PP ();
use POSIX ();
use Test::More ();
use Souk::Test;

our $SECRET = 'monolith-test-secret-0123456789abcdef';
my $JSON = JSON::PP->new->utf8->canonical;
my $SEQ = 0;

# start($name, %env): fresh database, schema applied, monolith running with fast Argon2id.
sub start {
    my ($class, $name, %env) = @_;
    infra('mariadb');
    my $db = mariadb_fresh("mono_$name");
    my $svc = spawn_service('monolith', SOUK_MONOLITH_DB => $db->{dsn},
        SOUK_JWT_SECRET => $SECRET, SOUK_ARGON2_OPS => 1, SOUK_ARGON2_MEM_KIB => 8192, %env);
    return bless {db => $db, svc => $svc, url => $svc->url, bad => [], name => $name}, $class;
}

sub url { $_[0]{url} }
sub svc { $_[0]{svc} }

# api($method, $path, token => ..., json => ..., body => ..., headers => {...},
#     allow_5xx => 1): http() against the monolith; any 5xx not allowed is remembered
# and reported by finish(), so every file proves "never a 500".
sub api { my ($t, @a) = @_; api_request($t->{url}, $t->{bad}, @a) }

# A client for a forked child: never share the parent's keep-alive connection.
sub child_http {
    my ($t, $method, $path, %o) = @_;
    my $ua = HTTP::Tiny->new(keep_alive => 0, timeout => 60);
    my %h = %{$o{headers} || {}};
    $h{Authorization} = "Bearer $o{token}" if defined $o{token};
    my $body;
    if (exists $o{json}) {
        $body = $JSON->encode($o{json});
        $h{'Content-Type'} = 'application/json';
    }
    my $r = $ua->request($method, $t->{url} . $path,
        {headers => \%h, (defined $body ? (content => $body) : ())});
    my $j = eval { $JSON->decode($r->{content}) };
    return {status => $r->{status}, headers => $r->{headers}, body => $r->{content}, json => $j};
}

# parallel($n, sub { my $i = shift; ...; return {...} }): fork $n children that all start
# at once (they wait on a pipe the parent then closes) and return what each child's sub
# returned (a hash of plain data), in child order. Children leave with _exit so no END
# block (service guards, Test::More) runs in them.
sub parallel {
    my ($t, $n, $fn) = @_;
    my $dir = File::Temp::tempdir('souk-par-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    pipe(my $rd, my $wr) or die "pipe: $!";
    my @pids;
    for my $i (0 .. $n - 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $wr;
            sysread($rd, my $x, 1);    # EOF when the parent closes its end: go
            my $r = eval { $fn->($i) } // {error => "$@"};
            if (open my $fh, '>', "$dir/$i") {
                print $fh $JSON->encode($r);
                close $fh;
            }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $rd;
    select(undef, undef, undef, 0.3);    # let every child reach its read
    close $wr;
    waitpid $_, 0 for @pids;
    my @out;
    for my $i (0 .. $n - 1) {
        my $r = eval {
            open my $fh, '<', "$dir/$i" or die "child $i left no result\n";
            local $/;
            $JSON->decode(scalar <$fh>);
        } // {error => "$@"};
        push @out, $r;
        push @{$t->{bad}}, "child $i: " . ($r->{status} // 'none') . ' ' . ($r->{body} // $r->{error} // '')
            if !defined $r->{status} || $r->{status} >= 500 && !$r->{allow_5xx};
    }
    return \@out;
}

# A summary of a child_http() answer that survives the trip back to the parent.
sub brief {
    my ($res) = @_;
    my $j = ref $res->{json} eq 'HASH' ? $res->{json} : {};
    return {status => $res->{status}, id => $j->{id}, type => $j->{type},
        detail => $j->{detail}, body => $res->{status} >= 300 ? $res->{body} : undef,
        ctype => $res->{headers}{'content-type'}, replayed => $res->{headers}{'idempotent-replayed'}};
}

# sql($text): rows as arrayrefs (mariadb_sql on this file's database); sql1: first cell.
sub sql { mariadb_sql($_[0]{db}{db}, $_[1]) }
sub sql1 {
    my $rows = mariadb_sql($_[0]{db}{db}, $_[1]);
    return @$rows ? $rows->[0][0] : undef;
}

sub email { sprintf('user%d_%d@example.test', $$, ++$SEQ) }

# user(%o): register, set an address (unless address => 0), log in. Returns
# {id, email, password, name, token, user}.
sub user {
    my ($t, %o) = @_;
    my $email = $o{email} // $t->email;
    my $pw = $o{password} // 'correct horse battery';
    my $name = $o{name} // "Test User $SEQ";
    my $res = $t->api(POST => '/api/v1/accounts/register',
        json => {email => $email, password => $pw, name => $name});
    die "register $email: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    my $u = {id => $res->{json}{id}, email => lc $email, password => $pw, name => $name};
    $t->sql("UPDATE users SET role = 'admin' WHERE id = $u->{id}") if $o{admin};
    $t->login($u);
    unless (defined $o{address} && !$o{address}) {
        my $addr = ref $o{address} ? $o{address}
            : {line1 => '1 Market Street', city => 'Lisbon', postal_code => '1100-001',
               country => 'PT'};
        $res = $t->api(PUT => '/api/v1/accounts/me/address', token => $u->{token},
            json => $addr);
        die "address: $res->{status} $res->{body}\n" unless $res->{status} == 200;
        $u->{address} = $addr;
    }
    return $u;
}

sub admin { $_[0]->user(admin => 1, address => 0) }

sub login {
    my ($t, $u) = @_;
    my $res = $t->api(POST => '/api/v1/accounts/login',
        json => {email => $u->{email}, password => $u->{password}});
    die "login $u->{email}: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    $u->{token} = $res->{json}{token};
    $u->{user} = $res->{json}{user};
    return $u;
}

# category($slug, $name, $parent_slug): there is no category write endpoint.
sub category {
    my ($t, $slug, $name, $parent) = @_;
    my $p = defined $parent ? "(SELECT id FROM categories c WHERE c.slug = '$parent')" : 'NULL';
    $t->sql("INSERT INTO categories (slug, name, parent_id) SELECT '$slug', '$name', $p");
    return 0 + $t->sql1("SELECT id FROM categories WHERE slug = '$slug'");
}

# product($admin, %fields, stock => N): POST /products (and PUT stock); the product.
sub product {
    my ($t, $admin, %f) = @_;
    my $stock = delete $f{stock};
    $SEQ++;
    my %body = (sku => "SKU-$$-$SEQ", name => "Product $SEQ", description => '',
        brand => 'Acme', price => {amount => 1000, currency => 'EUR'}, %f);
    my $res = $t->api(POST => '/api/v1/products', token => $admin->{token}, json => \%body);
    die "product: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    my $p = $res->{json};
    if (defined $stock) {
        $t->stock($admin, $p->{id}, $stock);
        $p->{stock} = $stock;
    }
    return $p;
}

sub stock {
    my ($t, $admin, $id, $n) = @_;
    my $res = $t->api(PUT => "/api/v1/products/$id/stock", token => $admin->{token},
        json => {stock => $n});
    die "stock: $res->{status} $res->{body}\n" unless $res->{status} == 200;
}

sub cart_add {
    my ($t, $u, $pid, $qty) = @_;
    my $res = $t->api(POST => '/api/v1/cart/items', token => $u->{token},
        json => {product_id => $pid, quantity => $qty});
    die "cart add: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    return $res->{json};
}

# mint(%claims): jwt_mint with $SECRET (secret => overrides it), as a class or object method.
sub mint { my ($t, %c) = @_; jwt_mint(secret => $SECRET, %c) }

# Souk::Shop::b64url and ::b64url_decode, which test files call, are Souk::Test's (imported).

sub decode_json { $JSON->decode($_[1]) }
sub encode_json { $JSON->encode($_[1]) }

# raw($bytes): raw_http to the monolith, parsed into {status, headers, body, json}.
sub raw {
    my ($t, $bytes, $timeout) = @_;
    my $out = raw_http($t->{svc}->port, $bytes, $timeout);
    my ($head, $body) = split /\r\n\r\n/, $out, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3})};
    my %h;
    for (split /\r\n/, $head // '') {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    my $j = eval { $JSON->decode($body // '') };
    my $res = {status => $status // 0, headers => \%h, body => $body, json => $j};
    push @{$t->{bad}}, "raw request -> " . ($status // 'no answer') if ($status // 0) >= 500;
    return $res;
}

# finish($expected): every 5xx seen was allowed, and the monolith logged no error
# (other than lines matching the regexp $expected).
sub finish {
    my ($t, $expected) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    no_failures($t->{bad}, [$t->{svc}], name => 'monolith', expected => $expected, ready => 1);
}

1;
