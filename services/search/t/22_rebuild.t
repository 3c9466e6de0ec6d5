# `soukctl search rebuild` under live traffic: while a loop of searches runs, the index is
# rebuilt from the catalog's database and swapped in. No search in between fails or comes
# back empty, the answers are the same before and after, an update made during the rebuild
# is kept (merged at the swap), tombstones stay, and the service's prepared statements keep
# working on the renamed tables.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib", "$FindBin::Bin/../../catalog/t/lib";
use Test::More;
use File::Temp ();
use HTTP::Tiny ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Souk::Test;
use SearchTest;

my $t = SearchTest->start;
# matches (migration 0003) must hold exactly the live documents, with their columns.
my $matches_drift = 'SELECT count(*) FROM documents d FULL JOIN matches m ON m.id = d.id
    WHERE (m.id IS NOT NULL) IS DISTINCT FROM (d.id IS NOT NULL AND NOT d.deleted)
       OR (m.id IS NOT NULL AND (m.price_minor, m.created_at, m.brand, m.name, m.category_path,
           m.attrs, m.tsv) IS DISTINCT FROM (d.price_minor, d.created_at, d.brand, d.name,
           d.category_path, d.attrs, d.tsv))';
my %env = (SOUK_CATALOG_DB => $t->catalog->{db}{dsn}, SOUK_SEARCH_DB => $t->{db}{dsn});

my ($rc, $out, $err) = soukctl(\%env, qw(search rebuild --help));
is($rc, 0, 'search rebuild --help: exit 0');
like($out, qr/usage: soukctl search rebuild/, 'search rebuild --help: usage');
($rc, $out, $err) = soukctl(\%env, qw(search rebuild --batch 0));
is($rc, 2, 'a bad --batch is a usage error');
($rc, $out, $err) = soukctl(\%env, qw(search frobnicate));
is($rc, 2, 'an unknown search subcommand is a usage error');

# --- a catalog -------------------------------------------------------------------------
my $cat = $t->category('gear', 'Gear');
my (@ids, %name, %sku);
my @colours = qw(red green blue);
for my $i (1 .. 40) {
    my $n = ($i % 2 ? 'Widget' : 'Gadget') . " Model $i";
    my $p = $t->product(name => $n, category_id => $cat, brand => $i % 3 ? 'Acme' : 'Globex',
        description => "Number $i of the series.", price => {amount => 1000 + 137 * $i, currency => 'EUR'},
        attributes => {colour => $colours[$i % 3], size => $i % 4});
    push @ids, $p->{id};
    $name{$p->{id}} = $n;
    $sku{$p->{id}} = $p->{sku};
}
$t->delete($ids[$_]) for 30 .. 32;    # tombstones the rebuild must keep
$t->wait_for('/api/v1/search?q=model', sub { $_[0]{total} == 37 }, 'search has the catalog');

my @queries = ('/api/v1/search?q=widget', '/api/v1/search?q=gadget%20model&sort=price_desc&limit=7&page=2',
    '/api/v2/search?q=model&limit=50', '/api/v2/search?q=widget&attr.colour=red&sort=newest',
    '/api/v2/search?q=model&brand=Globex&min_price=2000', '/api/v2/search?q=widgte',
    '/api/v2/search/suggest?q=gad', '/api/v2/search/suggest?q=widget%20model%201');
my %before = map { ($_ => $t->get($_)->{body}) } @queries;

# --- searches in a loop, in a child --------------------------------------------------------
my $dir = File::Temp::tempdir('souk-rebuild-XXXXXX', TMPDIR => 1, CLEANUP => 1);
# Whatever ends this script (a die while the rebuild is stopped too), neither child outlives
# it: the rebuild is resumed and terminated, the search loop told to stop, both reaped.
my ($pid, $rpid);
END {
    local $?;
    if ($rpid) { kill 'CONT', $rpid; kill 'TERM', $rpid; waitpid $rpid, 0 }
    if ($pid) { open my $stop, '>', "$dir/stop"; kill 'TERM', $pid; waitpid $pid, 0 }
}
$pid = fork // die "fork: $!";
if (!$pid) {
    my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
    my $json = JSON::PP->new;
    open my $log, '>', "$dir/log" or POSIX::_exit(1);
    $log->autoflush(1);
    my $i = 0;
    until (-e "$dir/stop") {
        my $path = ('/api/v1/search?q=widget', '/api/v2/search?q=model&limit=5',
            '/api/v2/search/suggest?q=gadg')[$i++ % 3];
        my $r = $ua->get($t->url . $path);
        my $j = eval { $json->decode($r->{content}) } || {};
        my $n = exists $j->{suggestions} ? scalar @{$j->{suggestions}} : ($j->{total} // -1);
        my $items = exists $j->{items} ? scalar @{$j->{items}} : $n;
        printf $log "%d %d %d %s\n", $r->{status}, $n, $items, $path;
    }
    POSIX::_exit(0);
}

# --- rebuild, with an update in the middle --------------------------------------------------
my $early = $ids[0];    # read in the first batch, so the rebuild copies its old version
my $late = $ids[-1];    # read in the last batch, after its update
$rpid = fork // die "fork: $!";
if (!$rpid) {
    @ENV{keys %env} = values %env;
    open STDOUT, '>', "$dir/rebuild.out";
    open STDERR, '>', "$dir/rebuild.err";
    exec(Souk::Test::_bin('soukctl'), qw(search rebuild --batch 4 --pause-ms 250))
        or POSIX::_exit(127);
}
# Update once the first batch is in documents_new (its progress line is out), so the rebuild
# holds the old version of $early and the new one must come from the merge.
my $deadline = Time::HiRes::time() + 20;
Time::HiRes::sleep(0.02) until Souk::Test::_slurp("$dir/rebuild.err") =~ /loaded/
    || Time::HiRes::time() > $deadline;
# The rebuild is paused (SIGSTOP, between two batches: no transaction of it is open, only its
# session's advisory lock) until the search consumer has applied both updates to the live
# tables. The update reaches search as an event (catalog's relay, RabbitMQ, the consumer):
# left to race the ~2.5 s the batches take, a loaded machine could apply it only after the
# swap, and then nothing was "applied meanwhile" to merge.
kill 'STOP', $rpid;
# Stopped mid-way for real: not exited, and its output shows neither the last batch nor the
# swap (else the updates below would not overlap the rebuild and nothing would be merged).
is(waitpid($rpid, POSIX::WNOHANG()), 0, 'the rebuild is still running when paused');
unlike(Souk::Test::_slurp("$dir/rebuild.err") . Souk::Test::_slurp("$dir/rebuild.out"),
    qr{loaded 40/40|indexed|rebuilt}, '...before its last batch and the swap');
$t->update($early, name => $name{$early}, sku => $sku{$early}, category_id => $cat,
    description => 'Now with zebrafish inside.', brand => 'Acme', price => {amount => 1137, currency => 'EUR'},
    attributes => {colour => $colours[1], size => 1});
$t->update($late, name => $name{$late}, sku => $sku{$late}, category_id => $cat,
    description => 'Now with narwhal inside.', brand => 'Acme', price => {amount => 6480, currency => 'EUR'},
    attributes => {colour => $colours[1], size => 0});
ok(wait_until('search applied both updates on the live tables', sub {
    ($t->get('/api/v1/search?q=zebrafish')->{json}{total} // 0) == 1
        && ($t->get('/api/v1/search?q=narwhal')->{json}{total} // 0) == 1;
}, 30), 'both updates are applied while the rebuild is under way');
kill 'CONT', $rpid;
waitpid $rpid, 0;
my $rebuild_rc = $? >> 8;
$rpid = undef;
Time::HiRes::sleep(0.3);    # a few more searches on the new tables
open my $fh, '>', "$dir/stop";
close $fh;
waitpid $pid, 0;
$pid = undef;

my $rout = Souk::Test::_slurp("$dir/rebuild.out");
my $rerr = Souk::Test::_slurp("$dir/rebuild.err");
is($rebuild_rc, 0, 'soukctl search rebuild: exit 0') or diag("$rout$rerr");
like($rout, qr/^rebuilt 40 products, merged [1-9]\d* applied meanwhile/m,
    'the update made during the rebuild was merged at the swap') or diag($rout);
like($rerr, qr/search rebuild: loaded 40\/40 products/, 'progress on stderr');

my @lines = split /\n/, Souk::Test::_slurp("$dir/log");
my @bad = grep { !/^200 [1-9]\d* [1-9]\d* / } @lines;
cmp_ok(scalar @lines, '>', 20, scalar(@lines) . ' searches ran during the rebuild');
is_deeply(\@bad, [], 'no search failed or came back empty, before, during or after the swap')
    or diag(join "\n", @bad[0 .. ($#bad > 10 ? 10 : $#bad)]);

# --- after ------------------------------------------------------------------------------
$t->wait_for('/api/v1/search?q=zebrafish', sub { $_[0]{total} == 1 && $_[0]{items}[0]{id} == $early },
    'the update made during the rebuild is not lost (read before it, merged at the swap)');
$t->wait_for('/api/v1/search?q=narwhal', sub { $_[0]{total} == 1 && $_[0]{items}[0]{id} == $late },
    'the update read by the rebuild itself is there');
for my $q (@queries) {
    is($t->get($q)->{body}, $before{$q}, "same answer after the rebuild: $q");
}
is($t->get('/api/v1/search?q=model')->{json}{total}, 37, 'deleted products stay deleted');
my $rows = $t->sql("SELECT count(*) FILTER (WHERE deleted), count(*) FROM documents");
is_deeply($rows, [[3, 40]], 'tombstones are rebuilt as tombstones');
$rows = $t->sql("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class
    WHERE relname ~ '^(documents|lexicon|matches)' AND relkind IN ('r', 'i')");
is($rows->[0][0], 'documents,documents_name_tsv,documents_pkey,documents_seq,lexicon,lexicon_pkey,'
    . 'lexicon_trgm,matches,matches_attrs,matches_category,matches_pkey,matches_tsv',
    'the new tables and indexes carry the old names; nothing _new is left');
is($t->sql($matches_drift)->[0][0], 0,
    'matches: one row per live product, the merged updates included');
$rows = $t->sql("SELECT count(*) FROM (SELECT w, count(*) AS n FROM documents, unnest(words) w
    GROUP BY w) x FULL JOIN lexicon l ON l.word = x.w WHERE l.ndoc IS DISTINCT FROM x.n");
is($rows->[0][0], 0, 'the lexicon counts exactly the words of the documents');

# The consumer keeps applying events to the swapped-in table.
$t->update($ids[1], name => 'Widget Renamed After', sku => "after-$$", category_id => $cat,
    description => '', brand => 'Acme', price => {amount => 1274, currency => 'EUR'}, attributes => {});
$t->wait_for('/api/v1/search?q=renamed', sub { $_[0]{total} == 1 }, 'events after the swap are applied');
is(http(GET => $t->url . '/ready')->{status}, 200, 'search is ready after the rebuild');

my %mid = map { ($_ => $t->get($_)->{body}) } @queries;
($rc, $out, $err) = soukctl(\%env, qw(search rebuild));
is($rc, 0, 'a second rebuild at rest') or diag("$out$err");
like($out, qr/^rebuilt 40 products, merged 0 applied/m, 'nothing to merge at rest');
for my $q (@queries) {
    is($t->get($q)->{body}, $mid{$q}, "same answer after a second rebuild: $q");
}
is($t->get('/api/v1/search?q=renamed')->{json}{total}, 1, 'and still up to date');

# --- the category tree: the rebuild computes the path the catalog's events carry ----------
my $sub = $t->category('gear-bags', 'Gear bags', $cat);
my $leaf = $t->category('gear-bags-small', 'Small gear bags', $sub);
my $bag = $t->product(name => 'Pocket Pouch', category_id => $leaf);
$t->wait_for('/api/v1/search?q=pouch', sub { $_[0]{total} == 1 }, 'a product two levels down');
my $path = sub {
    $t->sql("SELECT array_to_string(category_path, '/') FROM documents WHERE id = $bag->{id}")->[0][0];
};
is($path->(), 'gear/gear-bags/gear-bags-small', 'its event carried the whole path');
$t->sql("UPDATE documents SET category_path = NULL WHERE id = $bag->{id}");    # forget it
($rc, $out, $err) = soukctl(\%env, qw(search rebuild));
is($rc, 0, 'a rebuild with a category tree') or diag("$out$err");
is($path->(), 'gear/gear-bags/gear-bags-small', 'the rebuild computes the same path from the catalog');
sub pouches { $t->get("/api/v1/search?q=pouch&category=$_[0]")->{json}{total} }
is(pouches('gear-bags-small'), 1, 'category: its own');
is(pouches('gear-bags'), 1, 'category: its parent\'s');
is(pouches('gear'), 0, 'category: not its grandparent\'s (one level, as the monolith)');
is($t->get('/api/v1/search?q=model&category=gear')->{json}{total},
    $t->get('/api/v1/search?q=model')->{json}{total}, 'category: the others still in gear');

$t->finish;
done_testing;
