# soukctl backfill catalog: the monolith's products (rows + EAV attributes + stock + review
# aggregate) become catalog documents with the same ids and version 1, whose v1 members are
# exactly what the monolith's API returns; categories copied; safe to repeat.
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
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CATALOG_DB => $cat->{dsn});

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
like($out, qr/^backfilled 150 products, $ncat categories in [\d.]+ s$/m, 'and says what it did');
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

($rc, $out, $err) = soukctl(\%env, qw(backfill search));
is($rc, 2, 'only catalog can be backfilled (usage error)');

done_testing;
