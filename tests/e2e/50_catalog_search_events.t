# The backbone between two real services: catalog publishes product events through its outbox,
# search builds its index from them. The broker is stopped while catalog writes 1,000 products
# and started again: search ends with exactly those 1,000. The same event delivered twice has
# one effect; a poison event is dead-lettered after its retries and `soukctl dlq replay` applies
# it once the cause is fixed; a catalog killed -9 between commit and publish still publishes
# after its restart. This file stops its broker, so it runs its own.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 'tests/lib';

BEGIN { delete $ENV{SOUK_TEST_RABBIT_PORT} }    # a private broker: we take it down below
use Souk::Test;

infra('postgres', 'redis', 'rabbitmq');
my $cdb = pg_fresh('catalog');
my $sdb = pg_fresh('search');
my $redis = redis_start();
my $amqp = rabbit_vhost();
my %mq = (SOUK_AMQP_URL => $amqp, SOUK_MQ_MAX_ATTEMPTS => 3, SOUK_MQ_RETRY_DELAY_MS => 100);
my %cat_env = (%mq, SOUK_CATALOG_DB => $cdb->{dsn}, SOUK_REDIS_URL => $redis->url);
my $admin = jwt_mint(sub => '1', role => 'admin');

# search first, so its queue and bindings exist before catalog publishes anything
my $search = spawn_service('search', %mq, SOUK_SEARCH_DB => $sdb->{dsn});
my $catalog = spawn_service('catalog', %cat_env);

sub admin {
    my ($svc, $method, $path, $json) = @_;
    return http($method, $svc->url . $path,
        {headers => {Authorization => "Bearer $admin"}, (defined $json ? (json => $json) : ())});
}

sub indexed { pg_sql($sdb->{db}, 'SELECT count(*) FROM documents WHERE NOT deleted')->[0][0] }

sub metric { metric_value(@_) // -1 }

sub product {
    my ($n, %o) = @_;
    return {sku => "E2E-$n", name => "Trailrunner shoe $n", description => 'a light shoe',
        brand => 'Pathfinder', category_id => $o{category},
        price => {amount => 5000 + $n, currency => 'EUR'},
        attributes => {size => 40 + $n % 8, colour => $n % 2 ? 'red' : 'blue'}};
}

my $cat = admin($catalog, POST => '/api/v2/categories', {slug => 'shoes', name => 'Shoes'});
is($cat->{status}, 201, 'category created') or diag($cat->{body});
my $category = $cat->{json}{id};

# -- 1,000 products written while the broker is down
my ($rc, undef, $err) = rabbitmqctl('-q', 'stop_app');
is($rc, 0, 'broker stopped') or diag($err);
my (@ids, $failed);
for my $n (1 .. 1000) {
    my $r = admin($catalog, POST => '/api/v1/products', product($n, category => $category));
    if ($r->{status} == 201) { push @ids, $r->{json}{id} } else { $failed //= "$r->{status} $r->{body}" }
}
is(scalar @ids, 1000, 'catalog accepted 1,000 products with the broker down') or diag($failed);
is(pg_sql($cdb->{db}, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0], 1000,
    'and holds their 1,000 events in its outbox');
is(indexed(), 0, 'search has none of them yet');
($rc, undef, $err) = rabbitmqctl('-q', 'start_app');
is($rc, 0, 'broker started') or diag($err);
ok(wait_until('1000 documents in search', sub { indexed() >= 1000 }, 120),
    'search catches up after the broker is back');
Time::HiRes::sleep(0.5);
is(indexed(), 1000, 'exactly 1,000 documents');
my $rows = pg_sql($sdb->{db}, 'SELECT min(version), max(version), count(DISTINCT id) FROM documents');
is_deeply($rows->[0], [1, 1, 1000], 'each product once, at version 1');
is(pg_sql($sdb->{db}, 'SELECT count(*) FROM inbox')->[0][0], 1000, 'one inbox row per event');
my $found = http(GET => $search->url . '/api/v1/search?q=trailrunner&limit=1');
is($found->{json}{total}, 1000, 'and the search API finds all of them');

# -- the same event twice: one effect
my $dups = metric($search, 'souk_events_duplicates_total');
pg_sql($cdb->{db}, "UPDATE outbox SET sent_at = NULL WHERE aggregate_id IN ($ids[0], $ids[1], $ids[2])");
ok(wait_until('duplicates', sub { metric($search, 'souk_events_duplicates_total') >= $dups + 3 }),
    'three re-published events are skipped as duplicates');
is(pg_sql($sdb->{db}, 'SELECT count(*) FROM inbox')->[0][0], 1000, 'the inbox did not grow');

# -- an update is reflected
my $upd = admin($catalog, PUT => "/api/v1/products/$ids[5]/price", {amount => 99, currency => 'EUR'});
is($upd->{status}, 200, 'price changed in catalog') or diag($upd->{body});
ok(wait_until('new price in search', sub {
    pg_sql($sdb->{db}, "SELECT price_minor FROM documents WHERE id = $ids[5]")->[0][0] == 99 }),
    'search applies product.price_changed');

# -- a poison event: search cannot store this product until a bad constraint is dropped
my $next = pg_sql($cdb->{db}, "SELECT last_value + 1 FROM pg_sequences WHERE sequencename LIKE 'products%'")->[0][0];
pg_sql($sdb->{db}, "ALTER TABLE documents ADD CONSTRAINT e2e_poison CHECK (id <> $next)");
my $p = admin($catalog, POST => '/api/v1/products', product(5000, category => $category));
is($p->{status}, 201, 'catalog accepts the product') or diag($p->{body});
is($p->{json}{id}, $next, 'with the id the poison constraint names');
ok(wait_until('dead letter', sub { metric($search, 'souk_events_dead_lettered_total') >= 1 }, 30),
    'search dead-letters the event after its retries');
my ($code, $out) = soukctl({SOUK_AMQP_URL => $amqp}, qw(dlq list search));
is($code, 0, 'soukctl dlq list search');
my ($line) = grep {length} split /\n/, $out;
my ($eid, $type, $attempts) = split /\t/, $line // '';
is($type, 'product.created', 'the parked event is the product.created');
is($attempts, 3, 'after 3 attempts');
is(pg_sql($sdb->{db}, "SELECT count(*) FROM documents WHERE id = $next")->[0][0], 0, 'not indexed');
pg_sql($sdb->{db}, 'ALTER TABLE documents DROP CONSTRAINT e2e_poison');
($code, $out) = soukctl({SOUK_AMQP_URL => $amqp}, qw(dlq replay search), $eid);
is($code, 0, 'soukctl dlq replay') or diag($out);
ok(wait_until('replayed', sub {
    pg_sql($sdb->{db}, "SELECT count(*) FROM documents WHERE id = $next")->[0][0] == 1 }),
    'the replayed event is applied once the cause is fixed');

# -- kill -9 between commit and publish
$catalog->stop;
my $paused = spawn_service('catalog', %cat_env, SOUK_OUTBOX_PAUSED => 1);
my $k = admin($paused, POST => '/api/v1/products', product(6000, category => $category));
is($k->{status}, 201, 'a product committed while the relay is paused') or diag($k->{body});
kill 'KILL', $paused->pid;
waitpid $paused->pid, 0;
$paused->{done} = 1;    # killed on purpose
is(pg_sql($sdb->{db}, "SELECT count(*) FROM documents WHERE id = $k->{json}{id}")->[0][0], 0,
    'search never heard of it');
$catalog = spawn_service('catalog', %cat_env);
ok(wait_until('published after restart', sub {
    pg_sql($sdb->{db}, "SELECT count(*) FROM documents WHERE id = $k->{json}{id}")->[0][0] == 1 }),
    'after the restart the committed event is published and indexed');

done_testing;
