# soukctl backfill catalog: the monolith's products (rows + EAV attributes + stock + review
# aggregate) become catalog documents with the same ids and version 1, whose v1 members are
# exactly what the monolith's API returns; categories copied; safe to repeat.
# soukctl backfill users and reviews: accounts (with their Argon2id hashes) and addresses,
# reviews as documents with their ratings and replicas, same ids, no events; a demo login on
# souk-users and the review lists of souk-reviews then answer exactly as the monolith does.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Encode ();
use JSON::PP ();
use Test::More;
use Souk::Test;

my $mono = mariadb_fresh('backfill');
my $cat = pg_fresh('catalog');
my $users = pg_fresh('users');
my $revs = pg_fresh('reviews');
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CATALOG_DB => $cat->{dsn},
    SOUK_USERS_DB => $users->{dsn}, SOUK_REVIEWS_DB => $revs->{dsn});

my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 150 --users 12 --orders 30 --reviews 200
    --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;

sub mono1 { mariadb_sql($mono->{db}, $_[0])->[0][0] }
sub cat1  { pg_sql($cat->{db}, $_[0])->[0][0] }

my $nprod = mono1('SELECT COUNT(*) FROM products');
my $ncat = mono1('SELECT COUNT(*) FROM categories');
is($nprod, 150, '150 products in the monolith');

($rc, $out, $err) = soukctl(\%env, qw(backfill catalog --batch 40));
is($rc, 0, 'backfill exits 0') or diag $err;
like($out, qr/^backfilled $ncat categories, 150 products in [\d.]+ s$/m, 'and says what it did');
like($err, qr/^backfill: products\s+150\/150\s/m, 'progress on stderr ends at the total');

is(cat1('SELECT count(*) FROM products'), $nprod, 'as many products in catalog');
is(cat1('SELECT count(*) FROM products WHERE version = 1'), $nprod, 'every one at version 1');
is(cat1("SELECT count(*) FROM products WHERE (doc->>'id')::bigint <> id"), 0,
    'each document carries its row id');
is_deeply(pg_sql($cat->{db}, 'SELECT id, slug, name, parent_id FROM categories ORDER BY id'),
    mariadb_sql($mono->{db}, 'SELECT id, slug, name, parent_id FROM categories ORDER BY id'),
    'categories copied with their ids and parents');
is(cat1("SELECT count(*) FROM products WHERE doc->'images' <> '[]'::jsonb"), 0, 'no images yet');
is(cat1("SELECT count(*) FROM products p, jsonb_each(p.doc->'attributes') a
    WHERE jsonb_typeof(a.value) <> 'string'"), 0, 'attribute values stay strings (as in v1)');
is(cat1("SELECT count(*) FROM products p, jsonb_each(p.doc->'attributes') a"),
    mono1('SELECT COUNT(*) FROM product_attributes'), 'every EAV row became an attribute');
is(cat1('SELECT count(*) FROM outbox'), 0, 'no events written') if cat1(
    "SELECT to_regclass('public.outbox') IS NOT NULL") eq 't';
my $seq = cat1("SELECT pg_get_serial_sequence('products', 'id')");
ok(!defined $seq || cat1("SELECT last_value FROM $seq") >= mono1('SELECT MAX(id) FROM products'),
    'the id sequence is past the largest id');

# Every document against the monolith's own v1 answer for that product.
my $svc = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn});
my $json = JSON::PP->new->utf8;
my %docs = map { $_->[0] => $json->decode($_->[1]) }
    @{pg_sql($cat->{db}, 'SELECT id, doc FROM products ORDER BY id')};
my @bad;
for my $id (sort { $a <=> $b } keys %docs) {
    my $res = http(GET => $svc->url . "/api/v1/products/$id");
    my $want = $res->{json} or do { push @bad, "$id: monolith said $res->{status}"; next };
    my %got = %{$docs{$id}};
    delete $got{images};
    push @bad, "$id: " . $json->canonical->encode({doc => \%got, v1 => $want})
        unless Test::More::_deep_check(\%got, $want);
}
is_deeply(\@bad, [], "all $nprod documents hold exactly the monolith's v1 product")
    or diag join("\n", @bad[0 .. ($#bad < 2 ? $#bad : 2)]);
ok(scalar(grep { $_->{rating}{count} > 0 } values %docs), 'some products have ratings');
is_deeply(pg_sql($cat->{db}, 'SELECT id, rating_count, rating_sum FROM products
    WHERE rating_count > 0 ORDER BY id'), mariadb_sql($mono->{db}, 'SELECT product_id, COUNT(*),
    SUM(rating) FROM reviews GROUP BY product_id ORDER BY product_id'),
    'the exact rating aggregate (count, sum) per product, for the review.created consumer');
is(cat1("SELECT count(*) FROM products WHERE rating_doc(rating_count, rating_sum) <> doc->'rating'"),
    0, 'every document\'s rating is what the consumer computes from them');
ok(scalar(grep { $_->{stock} == 0 } values %docs) < $nprod, 'stock came along');

# --- safe to repeat; a product catalog changed since is left alone -----------------------------
my ($one, $two) = (sort { $a <=> $b } keys %docs)[0, 1];
pg_sql($cat->{db}, "UPDATE products SET version = 2, doc = jsonb_set(doc, '{name}', '\"Changed\"')
    WHERE id = $one;
    UPDATE products SET doc = jsonb_set(doc, '{name}', '\"Drifted\"') WHERE id = $two");
($rc, $out, $err) = soukctl(\%env, qw(backfill catalog));
is($rc, 0, 'a second backfill exits 0') or diag $err;
is(cat1('SELECT count(*) FROM products'), $nprod, '... and adds nothing');
is(cat1("SELECT doc->>'name' FROM products WHERE id = $one"), 'Changed',
    '... keeps a product the catalog has changed (version 2)');
is(Encode::decode('UTF-8', cat1("SELECT doc->>'name' FROM products WHERE id = $two")), $docs{$two}{name},
    '... and restores one still at version 1');

($rc, $out, $err) = soukctl(\%env, qw(backfill catalog --if-empty));
is($rc, 0, '--if-empty on a filled catalog exits 0') or diag $err;
is($out, "catalog already has products; nothing to do\n", '... and does nothing');


# --- users: accounts and addresses ------------------------------------------------------------
sub users1 { pg_sql($users->{db}, $_[0])->[0][0] }
sub revs1  { pg_sql($revs->{db}, $_[0])->[0][0] }
my $PG_MS = q{to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS')};
my $MY_MS = q{DATE_FORMAT(%s, '%%Y-%%m-%%dT%%H:%%i:%%s.%%f')};

my $nusers = mono1('SELECT COUNT(*) FROM users');
my $naddr = mono1('SELECT COUNT(*) FROM addresses');
($rc, $out, $err) = soukctl(\%env, qw(backfill users --batch 5));
is($rc, 0, 'backfill users exits 0') or diag $err;
like($out, qr/^backfilled $nusers users, $naddr addresses in [\d.]+ s$/m, '... and says what it did');
like($err, qr/^backfill: users\s+$nusers\/$nusers\s/m, 'progress on stderr ends at the total');
is(users1('SELECT count(*) FROM users'), $nusers, 'as many users');
is(users1('SELECT count(*) FROM addresses'), $naddr, 'as many addresses');
ok($naddr > 0 && $naddr < $nusers, 'some users have an address, some not');

# Milliseconds on both sides (MariaDB's %f has six digits, the last three always 0).
my $user_cols = 'id, email, password_hash, name, role';
my $want_users = mariadb_sql($mono->{db}, "SELECT $user_cols, LEFT(" . sprintf($MY_MS, 'created_at')
    . ', 23) FROM users ORDER BY id');
is_deeply(pg_sql($users->{db}, "SELECT $user_cols, " . sprintf($PG_MS, 'created_at')
    . ' FROM users ORDER BY id'), $want_users,
    'every account copied with its id, email, Argon2id hash, name, role and created_at (ms)');
like($want_users->[0][2], qr/^\$argon2id\$/, '... the hashes are libsodium Argon2id strings');
my $addr_cols = 'user_id, line1, line2, city, postal_code, country';
is_deeply(pg_sql($users->{db}, "SELECT $addr_cols, " . sprintf($PG_MS, 'updated_at')
    . ' FROM addresses ORDER BY user_id'),
    mariadb_sql($mono->{db}, "SELECT $addr_cols, LEFT(" . sprintf($MY_MS, 'updated_at')
    . ', 23) FROM addresses ORDER BY user_id'), 'every address copied');
is(users1('SELECT count(*) FROM addresses WHERE version <> 1'), 0, 'addresses start at version 1');
is(users1('SELECT count(*) FROM outbox'), 0, 'no user events written');
my $next_user = users1(q{SELECT nextval('users_id_seq')});
ok($next_user > mono1('SELECT MAX(id) FROM users') && $next_user % 2 == 0,
    "the users' next id ($next_user) is even and past the largest (32_identity.t)");

# A demo login on souk-users: the monolith's password works, /me is the monolith's.
my $amqp = rabbit_vhost();
my %svc_env = (SOUK_AMQP_URL => $amqp, SOUK_OUTBOX_PAUSED => 1);
my $redis = redis_start();    # souk-users' v2 sessions (its /ready needs it)
my $usvc = spawn_service('users', SOUK_USERS_DB => $users->{dsn}, %svc_env,
    SOUK_REDIS_URL => $redis->url);
for my $email (qw(demo@souk.test admin@souk.test)) {
    my %me;
    for my $s ([monolith => $svc], [users => $usvc]) {
        my $res = http(POST => $s->[1]->url . '/api/v1/accounts/login',
            {json => {email => $email, password => 'souk-demo'}});
        is($res->{status}, 200, "$email logs in on $s->[0] with souk-demo") or diag $res->{body};
        my $token = $res->{json} && $res->{json}{token} // '';
        $me{$s->[0]} = http(GET => $s->[1]->url . '/api/v1/accounts/me',
            {headers => {Authorization => "Bearer $token"}});
    }
    is($me{users}{status}, 200, "$email: /me on users is 200");
    is_deeply($me{users}{json}, $me{monolith}{json}, "$email: /me on users equals the monolith's")
        or diag "users: $me{users}{body}\nmonolith: $me{monolith}{body}";
    is(key_order($me{users}{body}), key_order($me{monolith}{body}), "$email: same member order");
}
my $bad = http(POST => $usvc->url . '/api/v1/accounts/login',
    {json => {email => 'demo@souk.test', password => 'not-the-password'}});
is($bad->{status}, 401, 'a wrong password is still refused on users');

# --- reviews: documents, ratings, replicas ------------------------------------------------------
my $nrev = mono1('SELECT COUNT(*) FROM reviews');
ok($nrev > 0, "$nrev reviews in the monolith");
($rc, $out, $err) = soukctl(\%env, qw(backfill reviews --batch 50));
is($rc, 0, 'backfill reviews exits 0') or diag $err;
like($out, qr/^backfilled $nrev reviews, $nprod products, $nusers user names in [\d.]+ s$/m,
    '... and says what it did');
is(revs1('SELECT count(*) FROM reviews'), $nrev, 'as many reviews');
# Title and body by digest: psql splits values holding tabs or newlines.
is_deeply(pg_sql($revs->{db}, "SELECT id, product_id, user_id, doc->>'rating', md5(doc->>'title'),"
    . " md5(doc->>'body'), " . sprintf($PG_MS, 'created_at') . ' FROM reviews ORDER BY id'),
    mariadb_sql($mono->{db}, 'SELECT id, product_id, user_id, rating, MD5(title), MD5(body), LEFT('
    . sprintf($MY_MS, 'created_at') . ', 23) FROM reviews ORDER BY id'),
    'every review copied: ids, rating, title, body, created_at (ms)');
is(revs1(q{SELECT string_agg(DISTINCT k, ',' ORDER BY k) FROM reviews, jsonb_object_keys(doc) k}),
    'body,rating,title', 'documents are {rating, title, body}');
is_deeply(pg_sql($revs->{db}, 'SELECT product_id, count, sum FROM ratings ORDER BY product_id'),
    mariadb_sql($mono->{db}, 'SELECT product_id, COUNT(*), SUM(rating) FROM reviews'
    . ' GROUP BY product_id ORDER BY product_id'), 'ratings (count, sum) per product');
is(revs1('SELECT count(*) FROM products WHERE version = 1 AND NOT deleted'), $nprod,
    'the product replica holds every product at version 1');
is_deeply(pg_sql($revs->{db}, 'SELECT id FROM products ORDER BY id'),
    mariadb_sql($mono->{db}, 'SELECT id FROM products ORDER BY id'), '... with their ids');
is_deeply(pg_sql($revs->{db}, 'SELECT id, name FROM users_replica ORDER BY id'),
    mariadb_sql($mono->{db}, 'SELECT id, name FROM users ORDER BY id'),
    'the user-name replica holds every user');
is(revs1('SELECT count(*) FROM outbox'), 0, 'no review events written');
my $next_review = revs1(q{SELECT nextval('reviews_id_seq')});
ok($next_review > mono1('SELECT MAX(id) FROM reviews') && $next_review % 2 == 0,
    "the reviews' next id ($next_review) is even and past the largest (32_identity.t)");

# The v1 list on souk-reviews against the monolith's: the most reviewed products, one with a
# single review, one without, a second page, and a product that does not exist.
my $rsvc = spawn_service('reviews', SOUK_REVIEWS_DB => $revs->{dsn}, %svc_env);
my $by_count = mariadb_sql($mono->{db}, 'SELECT p.id, COUNT(r.id) AS n FROM products p'
    . ' LEFT JOIN reviews r ON r.product_id = p.id GROUP BY p.id ORDER BY n DESC, p.id');
my ($one_review) = grep { $_->[1] == 1 } @$by_count;
my ($no_review) = grep { $_->[1] == 0 } @$by_count;
ok($one_review && $no_review, 'products with one review and without any exist');
my %pick = map { $_->[0] => 1 } grep {defined} @$by_count[0 .. 2], $one_review, $no_review;
my @paths = map { "/api/v1/products/$_/reviews" } sort { $a <=> $b } keys %pick;
push @paths, "/api/v1/products/$by_count->[0][0]/reviews?page=2&limit=2",
    '/api/v1/products/' . ($nprod + 1000) . '/reviews';
for my $path (@paths) {
    my $want = http(GET => $svc->url . $path);
    my $got = http(GET => $rsvc->url . $path);
    is($got->{status}, $want->{status}, "GET $path: status $want->{status} on both");
    if ($want->{status} == 200) {
        is_deeply($got->{json}, $want->{json}, "GET $path: the same values")
            or diag "reviews: $got->{body}\nmonolith: $want->{body}";
        is(key_order($got->{body}), key_order($want->{body}), "GET $path: the same members in order");
        is_deeply(json_shape($got->{json}), json_shape($want->{json}), "GET $path: the same types");
    }
}
ok(http(GET => $svc->url . "/api/v1/products/$by_count->[0][0]/reviews")->{json}{count} > 2,
    'the most reviewed product has more than one page of two');

# --- users and reviews: safe to repeat ---------------------------------------------------------
pg_sql($users->{db}, q{UPDATE addresses SET line1 = 'Moved 1', version = 2
    WHERE user_id = (SELECT min(user_id) FROM addresses)});
for my $svcname (qw(users reviews)) {
    ($rc, $out, $err) = soukctl(\%env, 'backfill', $svcname, '--batch', 7);
    is($rc, 0, "a second backfill $svcname exits 0") or diag $err;
}
is(users1('SELECT count(*) FROM users'), $nusers, '... users: no duplicates');
is(users1('SELECT count(*) FROM addresses'), $naddr, '... addresses: no duplicates');
is(users1("SELECT line1 || ' ' || version FROM addresses ORDER BY user_id LIMIT 1"), 'Moved 1 2',
    '... an address users has changed since stays');
is(revs1('SELECT count(*) FROM reviews'), $nrev, '... reviews: no duplicates');
is(revs1('SELECT sum(count) FROM ratings'), $nrev, '... ratings still count every review once');
is(users1('SELECT count(*) FROM outbox') + revs1('SELECT count(*) FROM outbox'), 0,
    '... still no events');
for my $svcname (qw(users reviews)) {
    ($rc, $out, $err) = soukctl(\%env, 'backfill', $svcname, '--if-empty');
    is($rc, 0, "--if-empty on a filled $svcname exits 0") or diag $err;
    is($out, "$svcname already has $svcname; nothing to do\n", '... and does nothing');
}

($rc, $out, $err) = soukctl(\%env, qw(backfill search));
is($rc, 2, 'search cannot be backfilled (usage error; it is rebuilt from catalog)');

done_testing;
