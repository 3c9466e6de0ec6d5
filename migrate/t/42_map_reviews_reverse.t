# 42_map_reviews_reverse.t - reverse sync of reviews (migrate/map/reviews.c): after cutover a
# review written on souk-reviews reaches the monolith's reviews table with the same id (even:
# the service's), so the monolith's own pages (product rating, review list) include it.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;

my $mono = mariadb_fresh('maprev');
my $revs = pg_fresh('reviews');
my $inbox = pg_fresh('users');    # a database with the backbone's tables: reverse's inbox
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_REVIEWS_DB => $revs->{dsn});
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 10 --users 6 --orders 2 --reviews 5
    --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
($rc, $out, $err) = soukctl(\%env, qw(backfill reviews));
is($rc, 0, 'backfill reviews') or diag $err;
sub mono { mariadb_sql($mono->{db}, $_[0]) }

my $amqp = rabbit_vhost();
my $rsvc = spawn_service('reviews', SOUK_REVIEWS_DB => $revs->{dsn}, SOUK_AMQP_URL => $amqp);
my $rev = spawn_service('sync', SOUK_SYNC_DOMAIN => 'reviews', SOUK_SYNC_REVERSE => 1,
    SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_REVIEWS_DB => $revs->{dsn},
    SOUK_REVERSE_DB => $inbox->{dsn}, SOUK_AMQP_URL => $amqp);

# A product nobody has reviewed, and a customer of the monolith.
my ($pid) = @{mono('SELECT p.id FROM products p WHERE NOT EXISTS (SELECT 1 FROM reviews r
    WHERE r.product_id = p.id) ORDER BY p.id LIMIT 1')->[0]};
my ($uid) = @{mono(q{SELECT id FROM users WHERE role = 'customer' ORDER BY id LIMIT 1})->[0]};
my $res = http(POST => $rsvc->url . "/api/v1/products/$pid/reviews", {json => {rating => 4,
    title => 'Good', body => 'Works well.'}, headers => {Authorization => 'Bearer '
    . jwt_mint(sub => "$uid")}});
is($res->{status}, 201, 'souk-reviews takes a review') or diag $res->{body};
my $id = $res->{json}{id} // 0;
ok($id % 2 == 0, "with an even id ($id)");
ok(wait_until('written back', sub { @{mono("SELECT 1 FROM reviews WHERE id = $id")} }, 20),
    'the review reached the monolith') or diag $rev->stderr_text;
is_deeply(mono("SELECT product_id, user_id, rating, title, body FROM reviews WHERE id = $id"),
    [[$pid, $uid, 4, 'Good', 'Works well.']], '... with its product, author, rating and text');
my $msvc = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn});
my $page = http(GET => $msvc->url . "/api/v1/products/$pid")->{json};
is_deeply($page->{rating}, {average => 4, count => 1}, 'the monolith\'s product page counts it');

is(mono("SELECT COUNT(*) FROM reviews WHERE product_id = $pid")->[0][0], 1, 'one review row');
done_testing();
