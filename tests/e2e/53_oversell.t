# Oversell (issue 11): 200 buyers, each with one unit of the same product in their cart, check
# out at the same instant through the gateway with the orders route in mode new; the product
# has 50 units. Exactly 50 get 201 CONFIRMED, the other 150 a clean 409 out-of-stock naming the
# product; stock ends at 0 on hand with 50 sold and was never negative or over-reserved while
# it happened (sampled throughout); `soukctl check orders` finds nothing wrong. Bounded: the
# burst must be answered within 90 s.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use File::Temp ();
use IO::Select ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Souk::Test;
use Souk::Saga qw(CARD_OK);

my ($BUYERS, $UNITS) = (200, 50);
my $shop = Souk::Saga->start(sync_wait_ms => 30000);
is($shop->gateway->route_named('orders')->{mode}, 'new', 'the orders route is in mode new');

my $p = $shop->product(stock => $UNITS, price => 2500);
is_deeply($shop->stock($p->{id}), {received => $UNITS, on_hand => $UNITS, reserved => 0, sold => 0},
    "product $p->{id} has $UNITS units");
my $t0 = Time::HiRes::time();
my $buyers = $shop->buyers($BUYERS, cart => sub { [$p->{id}, 1] });
note(sprintf('%d buyers with a cart in %.1f s', $BUYERS, Time::HiRes::time() - $t0));

# A sampler watches inventory's stock while the buyers race: the lowest on_hand, the lowest
# on_hand - reserved (what could still be sold) and the highest reserved it ever saw.
pipe(my $stop_r, my $stop_w) or die "pipe: $!";
my $sample_file = File::Temp->new;
my $sampler = fork // die "fork: $!";
if (!$sampler) {
    close $stop_w;
    my ($min_on, $min_free, $max_res, $n) = (1e18, 1e18, -1, 0);
    my $sel = IO::Select->new($stop_r);
    while (!$sel->can_read(0.02)) {
        my $r = eval { $shop->stock($p->{id}) } or next;
        $n++;
        $min_on = $r->{on_hand} if $r->{on_hand} < $min_on;
        $min_free = $r->{on_hand} - $r->{reserved} if $r->{on_hand} - $r->{reserved} < $min_free;
        $max_res = $r->{reserved} if $r->{reserved} > $max_res;
    }
    open my $fh, '>', $sample_file->filename or POSIX::_exit(1);
    print $fh "$n $min_on $min_free $max_res\n";
    close $fh;
    POSIX::_exit(0);
}
close $stop_r;

my $url = $shop->url . '/api/v1/orders';
$t0 = Time::HiRes::time();
my $res = $shop->parallel($BUYERS, $buyers, sub {
    my ($ua, $u) = @_;
    my $r = $ua->request(POST => $url, {headers => {Authorization => "Bearer $u->{token}",
        'Idempotency-Key' => "oversell-$u->{id}", 'Content-Type' => 'application/json'},
        content => JSON::PP->new->encode({card_number => CARD_OK})});
    my $j = eval { JSON::PP->new->decode($r->{content}) } // {};
    return {status => $r->{status}, ctype => $r->{headers}{'content-type'} // '',
        type => $j->{type}, detail => $j->{detail}, order_status => $j->{status},
        body => substr($r->{content} // '', 0, 300)};
}, timeout => 90);
my $took = Time::HiRes::time() - $t0;
close $stop_w;
waitpid $sampler, 0;

my @got = grep {defined} @$res;
is(scalar @got, $BUYERS, "every buyer got an answer within 90 s (took ${\ sprintf '%.1f', $took} s)");
my %by;
$by{$_->{status}}++ for @got;
diag('answers by status: ' . join(', ', map {"$_: $by{$_}"} sort keys %by));
my @confirmed = grep { $_->{status} == 201 && ($_->{order_status} // '') eq 'CONFIRMED' } @got;
is(scalar @confirmed, $UNITS, "exactly $UNITS checkouts are 201 CONFIRMED");
my @oos = grep {
    $_->{status} == 409 && $_->{ctype} =~ m{^application/problem\+json}
        && ($_->{type} // '') =~ /out-of-stock$/ && ($_->{detail} // '') =~ /\b$p->{id}\b/
} @got;
is(scalar @oos, $BUYERS - $UNITS, 'the other ' . ($BUYERS - $UNITS)
    . ' are clean 409 out-of-stock problems naming the product');
my @other = grep { !($_->{status} == 201 || $_->{status} == 409) } @got;
my %first;
$first{$_->{status}} //= "$_->{status} $_->{body}" for @other;
is_deeply([sort values %first], [], 'no other answer (no 5xx, no 202)');

# the stock after, and what the sampler saw while it happened
ok(wait_until('reserved back to 0', sub { ($shop->stock($p->{id})->{reserved} // -1) == 0 }, 30),
    'nothing stays reserved');
is_deeply($shop->stock($p->{id}), {received => $UNITS, on_hand => 0, reserved => 0, sold => $UNITS},
    "stock 0 on hand, $UNITS sold");
my ($n, $min_on, $min_free, $max_res) = split ' ', Souk::Test::_slurp($sample_file->filename);
ok(($n // 0) > 5, "the stock was sampled during the race (${\ ($n // 0)} samples)");
ok(defined $min_on && $min_on >= 0, "on hand was never negative (lowest seen: ${\ ($min_on // '?')})");
ok(defined $min_free && $min_free >= 0,
    "never more reserved than on hand (lowest on_hand - reserved: ${\ ($min_free // '?')})");
ok(defined $max_res && $max_res <= $UNITS, "at most $UNITS ever reserved (${\ ($max_res // '?')})");

is_deeply($shop->counts, {CONFIRMED => $UNITS, REJECTED => $BUYERS - $UNITS},
    "orders: $UNITS CONFIRMED, " . ($BUYERS - $UNITS) . ' REJECTED');
my ($rc, $out, $err) = $shop->check('--wait', 30);
is($rc, 0, 'soukctl check orders: no violation') or diag "$out$err";
diag($out);
like($out, qr/^provider: \d+ keys, $UNITS authorizations, $UNITS captures, 0 refunds, 0 voids$/m,
    "the provider authorized and captured $UNITS times, no more");

done_testing;
