#!/usr/bin/env perl
# bench/saga.pl - the load of bench/saga.sh: checkouts against the monolith and the saga,
# (a) spread over many products and (b) all on one hot product. Core Perl modules only.
#
#   bench/saga.pl --side monolith=URL --side saga=URL ...   (environment below)
#
# For each side: a category, one hot product and SPREAD products (stock far above the load),
# 2 x ORDERS buyers registered through the v1 API, each with a shipping address and one unit
# in the cart (the first ORDERS of the hot product, the others of a random spread product),
# tokens minted with the shared secret. Then, per scenario, the sides in turn (the order
# alternates), CONNS workers check out their buyers' carts (POST /api/v1/orders, approved
# card), each request timed from the POST until the order is CONFIRMED (a 202 is polled with
# GET /api/v1/orders/{id} until it is). Prints one line per scenario and side:
#   saga_<scenario>_<side> <confirmed/s> <p50 ms> <p99 ms> <not confirmed>
#
# Environment: BENCH_SECRET (JWT secret of both sides), BENCH_SAGA_ORDERS (300 per scenario),
# BENCH_SAGA_SPREAD (100 products), BENCH_CONNS (32), and for each side where its parts
# answer: MONOLITH_MYSQL (mariadb client arguments for the category row, the monolith has no
# category write), SAGA_USERS, SAGA_CATALOG, SAGA_INVENTORY, SAGA_CART (base URLs; products,
# stock and accounts go there, checkouts to the side's URL), SAGA_ORDERS_DB (psql URL, to wait
# until orders' replicas know every buyer and product).
use strict;
use warnings;
use Digest::SHA ();
use File::Temp ();
use HTTP::Tiny ();
use JSON::PP ();
use MIME::Base64 ();
use POSIX ();
use Time::HiRes ();

my $JSON = JSON::PP->new->utf8->canonical;
my $SECRET = $ENV{BENCH_SECRET} // 'bench-secret';
my $ORDERS = $ENV{BENCH_SAGA_ORDERS} || 300;
my $SPREAD = $ENV{BENCH_SAGA_SPREAD} || 100;
my $CONNS = $ENV{BENCH_CONNS} || 32;
my $CARD = '4242424242424242';
my %side;
while (@ARGV) {
    my $a = shift;
    die "usage: saga.pl --side NAME=URL ...\n" unless $a eq '--side' && ($ARGV[0] // '') =~ /^(\w+)=(.+)$/;
    shift;
    $side{$1} = $2;
}
die "usage: saga.pl --side monolith=URL --side saga=URL\n" unless %side;

sub b64url { (MIME::Base64::encode_base64($_[0], '') =~ tr{+/}{-_}r) =~ s/=+$//r }
sub token {
    my ($sub, $role) = @_;
    my $si = b64url($JSON->encode({alg => 'HS256', typ => 'JWT'})) . '.' . b64url($JSON->encode(
        {sub => "$sub", role => $role, iat => time, exp => time + 7200, iss => 'souk'}));
    return "$si." . b64url(Digest::SHA::hmac_sha256($si, $SECRET));
}

my $UA = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
# A setup call; a 503 (the monolith's "busy, retry" under load) is retried a few times.
sub call {
    my ($ua, $method, $url, $body, $token, @want) = @_;
    my $r;
    for my $try (1 .. 5) {
        $r = $ua->request($method, $url, {
            headers => {'Content-Type' => 'application/json',
                ($token ? (Authorization => "Bearer $token") : ())},
            (defined $body ? (content => $JSON->encode($body)) : ())});
        last unless $r->{status} == 503;
        Time::HiRes::sleep(0.2 * $try);
    }
    die "$method $url: $r->{status} $r->{content}\n" if @want && !grep { $r->{status} == $_ } @want;
    $r->{json} = eval { $JSON->decode($r->{content}) };
    return $r;
}

# parallel($n, \@items, sub { ($ua, $item) }): the items over $n forked workers; the results.
sub parallel {
    my ($n, $items, $fn) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    pipe(my $rd, my $wr) or die "pipe: $!";
    my @pids;
    for my $w (0 .. $n - 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $wr;
            my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
            sysread $rd, my $x, 1;
            open my $out, '>', "$dir/$w" or POSIX::_exit(1);
            for (my $i = $w; $i < @$items; $i += $n) {
                my $r = eval { $fn->($ua, $items->[$i]) } // {error => "$@"};
                print $out $JSON->encode([$i, $r]), "\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $rd;
    my $t0 = Time::HiRes::time();
    close $wr;
    waitpid $_, 0 for @pids;
    my $wall = Time::HiRes::time() - $t0;
    my @res;
    for my $w (0 .. $n - 1) {
        open my $in, '<', "$dir/$w" or next;
        while (<$in>) { my ($i, $r) = @{$JSON->decode($_)}; $res[$i] = $r }
    }
    return (\@res, $wall);
}

sub psql1 {
    my ($url, $sql) = @_;
    my $v = qx{psql -XAtq -d '$url' -c "$sql"};
    chomp $v;
    return $v;
}

# --- fixtures ---------------------------------------------------------------------------

sub category {
    my ($name) = @_;
    if ($name eq 'monolith') {
        my $my = $ENV{MONOLITH_MYSQL} // die "MONOLITH_MYSQL is not set\n";
        system("mariadb $my -e \"INSERT IGNORE INTO categories (slug, name) VALUES ('bench-saga', 'Bench saga')\"") == 0
            or die "category: mariadb failed\n";
        return 0 + qx{mariadb $my -N -e "SELECT id FROM categories WHERE slug = 'bench-saga'"};
    }
    my $r = call($UA, POST => "$ENV{SAGA_CATALOG}/api/v2/categories",
        {slug => "bench-saga-$$", name => 'Bench saga'}, token(1, 'admin'), 201);
    return $r->{json}{id};
}

sub products {
    my ($name, $base) = @_;
    my $cat = category($name);
    my $admin = token(1, 'admin');
    my $write = $name eq 'monolith' ? $base : $ENV{SAGA_CATALOG};
    my $stock = $name eq 'monolith' ? $base : $ENV{SAGA_INVENTORY};
    my @ids;
    for my $n (0 .. $SPREAD) {    # 0 is the hot one
        my $r = call($UA, POST => "$write/api/v1/products", {sku => "BENCH-SAGA-$$-$n",
            name => "Bench saga product $n", description => 'bench', brand => 'Souk',
            category_id => $cat, price => {amount => 1000 + $n, currency => 'EUR'},
            attributes => {}}, $admin, 201);
        push @ids, $r->{json}{id};
    }
    for my $id (@ids) {    # inventory learns products from catalog's events: 404 meanwhile
        my $deadline = time + 60;
        while (1) {
            my $r = call($UA, PUT => "$stock/api/v1/products/$id/stock", {stock => 1000000}, $admin);
            last if $r->{status} == 200;
            die "stock of $id: $r->{status} $r->{content}\n" if $r->{status} != 404 || time > $deadline;
            Time::HiRes::sleep(0.1);
        }
    }
    return \@ids;
}

sub buyers {
    my ($name, $base, $ids) = @_;
    my $acc = $name eq 'monolith' ? $base : $ENV{SAGA_USERS};
    my $cart = $name eq 'monolith' ? $base : $ENV{SAGA_CART};
    my @items = map { [$_, $_ < $ORDERS ? $ids->[0] : $ids->[1 + int rand $SPREAD]] } 0 .. 2 * $ORDERS - 1;
    my ($res) = parallel(4, \@items, sub {
        my ($ua, $it) = @_;
        my ($i, $product) = @$it;
        my $r = call($ua, POST => "$acc/api/v1/accounts/register", {email => "bench$i.$$.$name\@saga.bench",
            password => 'correct horse battery', name => "Bench $i"}, undef, 201);
        my $tok = token($r->{json}{id}, 'customer');
        call($ua, PUT => "$acc/api/v1/accounts/me/address", {line1 => "$i Bench Road", line2 => '',
            city => 'Porto', postal_code => '4000-001', country => 'PT'}, $tok, 200);
        call($ua, POST => "$cart/api/v1/cart/items", {product_id => $product, quantity => 1}, $tok, 200, 201);
        return {id => $r->{json}{id}, token => $tok};
    });
    my @bad = grep { !$_ || $_->{error} } @$res;
    die "$name buyers: " . scalar(@bad) . " failed: " . ($bad[0] ? $bad[0]{error} : '?') . "\n" if @bad;
    return $res;
}

# Orders learns products and addresses from events: wait until it knows all of them.
sub settle {
    my ($buyers, $ids) = @_;
    my $db = $ENV{SAGA_ORDERS_DB} or return;
    my $deadline = time + 120;
    my ($nb, $np) = (scalar @$buyers, scalar @$ids);
    until (psql1($db, 'SELECT count(*) FROM customers_replica WHERE line1 IS NOT NULL') >= $nb
        && psql1($db, 'SELECT count(*) FROM products_replica') >= $np) {
        die "orders' replicas did not catch up in 120 s\n" if time > $deadline;
        sleep 1;
    }
    sleep 1;    # the cart's price snapshots too
}

# --- the load ---------------------------------------------------------------------------

sub checkout {
    my ($ua, $base, $b) = @_;
    my $t0 = Time::HiRes::time();
    my $r = $ua->request(POST => "$base/api/v1/orders", {headers => {
        Authorization => "Bearer $b->{token}", 'Content-Type' => 'application/json',
        'Idempotency-Key' => "bench-$b->{id}"}, content => $JSON->encode({card_number => $CARD})});
    my $j = eval { $JSON->decode($r->{content}) } // {};
    while ($r->{status} == 202 && ($j->{status} // '') eq 'PENDING' && Time::HiRes::time() - $t0 < 60) {
        Time::HiRes::sleep(0.01);
        my $g = $ua->request(GET => "$base/api/v1/orders/$j->{id}",
            {headers => {Authorization => "Bearer $b->{token}"}});
        $j = eval { $JSON->decode($g->{content}) } // {};
        $r->{status} = $g->{status} == 200 ? 202 : $g->{status};
    }
    return {ms => 1000 * (Time::HiRes::time() - $t0), ok => ($j->{status} // '') eq 'CONFIRMED' ? 1 : 0,
        why => ($j->{status} // '') eq 'CONFIRMED' ? '' : "$r->{status} " . substr($r->{content} // '', 0, 200)};
}

sub pct {
    my ($p, @v) = @_;
    return 0 unless @v;
    return $v[POSIX::ceil($p / 100 * @v) - 1];
}

my (%fix, %result);
for my $name (sort keys %side) {
    my $t0 = time;
    my $ids = products($name, $side{$name});
    my $buyers = buyers($name, $side{$name}, $ids);
    settle($buyers, $ids) if $name ne 'monolith';
    $fix{$name} = $buyers;
    printf STDERR "bench/saga.pl: %s: %d products, %d buyers with carts (%d s)\n", $name,
        scalar @$ids, scalar @$buyers, time - $t0;
}
my @names = sort keys %side;
for my $sc (['hot', 0], ['spread', $ORDERS]) {
    my ($scenario, $from) = @$sc;
    @names = reverse @names;    # who goes first alternates
    for my $name (@names) {
        my @mine = @{$fix{$name}}[$from .. $from + $ORDERS - 1];
        my ($res, $wall) = parallel($CONNS, \@mine, sub { checkout($_[0], $side{$name}, $_[1]) });
        my @ok = sort { $a <=> $b } map { $_->{ms} } grep { $_ && $_->{ok} } @$res;
        my @bad = grep { !$_ || !$_->{ok} } @$res;
        printf STDERR "bench/saga.pl: %s %s: %d confirmed in %.1f s%s\n", $scenario, $name,
            scalar @ok, $wall, @bad ? ' (first failure: ' . ($bad[0] ? $bad[0]{why} // $bad[0]{error} : 'none') . ')' : '';
        printf "saga_%s_%s %.1f %.1f %.1f %d\n", $scenario, $name, @ok / $wall, pct(50, @ok),
            pct(99, @ok), scalar @bad;
    }
}
