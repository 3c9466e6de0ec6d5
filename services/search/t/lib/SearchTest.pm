package SearchTest;
# Shared helpers for the search service's black-box tests: a souk-catalog (the only source of
# product events) and a souk-search on one fresh vhost, products written through the
# catalog's admin API, and waiting until search has caught up. Core Perl modules only.
#
#   my $t = SearchTest->start;
#   my $p = $t->product(name => 'Zenbook Laptop 14', category_id => $cat);
#   $t->wait_for('/api/v1/search?q=zenbook', sub { $_[0]{total} == 1 }, 'search has it');
use strict;
use warnings;
use JSON::PP ();
use Test::More ();
use Time::HiRes ();
use Souk::Test;
use CatalogTest qw(mint);

my $SEQ = 0;

# start(%search_env): catalog (relay running) and search sharing a vhost. Search is ready
# (its queue bound) before anything is written, so no event is published into the void.
sub start {
    my ($class, %env) = @_;
    my $c = CatalogTest->start(SOUK_OUTBOX_PAUSED => 0);
    my $svc = fresh_service('search', SOUK_AMQP_URL => $c->{amqp}, %env);
    return bless {c => $c, db => $svc->{db}, svc => $svc, url => $svc->url, bad => []}, $class;
}

sub url { $_[0]{url} }
sub svc { $_[0]{svc} }
sub catalog { $_[0]{c} }

# get($path): GET against search; any 5xx is remembered for finish().
sub get { api_request($_[0]{url}, $_[0]{bad}, GET => $_[1]) }

# sql($text): rows of the search database, as souk_admin.
sub sql { pg_sql($_[0]{db}{db}, $_[1]) }

# category($slug, $name, $parent_id): through the catalog; the new id.
sub category { my $t = shift; $t->{c}->category(@_) }

# product(%fields): POST /api/v1/products on the catalog; the created product (v1).
sub product {
    my ($t, %f) = @_;
    $SEQ++;
    my %body = (sku => "SKU-$$-$SEQ", name => "Product $SEQ", description => '', brand => 'Acme',
        price => {amount => 1000, currency => 'EUR'}, %f);
    my $res = $t->{c}->admin_api(POST => '/api/v1/products', json => \%body);
    die "product: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    return $res->{json};
}

# update($id, %fields): PUT /api/v1/products/{id} with the whole v1 body.
sub update {
    my ($t, $id, %f) = @_;
    my $res = $t->{c}->admin_api(PUT => "/api/v1/products/$id", json => \%f);
    die "update $id: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    return $res->{json};
}

sub price {
    my ($t, $id, $amount) = @_;
    my $res = $t->{c}->admin_api(PUT => "/api/v1/products/$id/price",
        json => {amount => $amount, currency => 'EUR'});
    die "price $id: $res->{status} $res->{body}\n" unless $res->{status} == 200;
}

sub delete {
    my ($t, $id) = @_;
    my $res = $t->{c}->admin_api(DELETE => "/api/v1/products/$id");
    die "delete $id: $res->{status} $res->{body}\n" unless $res->{status} =~ /^20[04]$/;
}

# wait_for($path, $cond, $name, $timeout): poll GET $path until $cond->($json) is true (one
# test); events travel catalog outbox -> relay -> broker -> search consumer asynchronously.
sub wait_for {
    my ($t, $path, $cond, $name, $timeout) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $deadline = Time::HiRes::time() + ($timeout // 20);
    my $res;
    while (1) {
        $res = $t->get($path);
        my $ok = $res->{status} == 200 && $res->{json} && $cond->($res->{json});
        return Test::More::pass($name) if $ok;
        last if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
    Test::More::fail($name);
    Test::More::diag("last answer to $path: $res->{status} " . ($res->{body} // ''));
    return 0;
}

# finish(): no 5xx from search, and neither service logged an error.
sub finish {
    my ($t) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    no_failures($t->{bad}, [$t->{svc}], name => 'search');
    $t->{c}->finish;
}

1;
