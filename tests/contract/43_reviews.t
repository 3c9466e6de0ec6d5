# v1 contract: product reviews (list with the average and count, one review per user).
# Runs unchanged against the monolith and against souk-reviews behind the gateway, whose
# product and author replicas fill from events (the fixtures wait for them).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use Test::More;
use Souk::Test;
use Souk::Contract;

my $t = contract_target();
my @u = map { $t->user(name => "Reviewer $_", reviewer => 1) } 1 .. 4;
my $radio = $t->product(name => 'Pocket Radio');
my $kettle = $t->product(name => 'Steel Kettle');
my $ruler = $t->product(name => 'Steel Ruler');
$t->settle;

sub list { $t->api(GET => "/api/v1/products/$_[0]/reviews" . ($_[1] // '')) }
sub review {
    my ($u, $pid, $json) = @_;
    return $t->api(POST => "/api/v1/products/$pid/reviews", token => $u->{token}, json => $json);
}

# --- empty --------------------------------------------------------------------
my $res = list($radio->{id});
answers($res, 200, 'review_page', 'list: 200 for a product without reviews');
in_order($res, 'review_page', 'list: member order');
is_deeply($res->{json}, {items => [], page => 1, limit => 20, total => 0, average_rating => 0,
    count => 0}, 'list: empty, average 0, count 0');

# --- create -------------------------------------------------------------------
$res = review($u[0], $radio->{id}, {rating => 4, title => 'Good', body => 'Clear sound.'});
answers($res, 201, 'review', 'create: 201 Review');
in_order($res, 'review', 'create: member order');
my $r1 = $res->{json};
is_deeply({map { ($_ => $r1->{$_}) } qw(product_id user_id author rating title body)},
    {product_id => $radio->{id}, user_id => $u[0]{id}, author => 'Reviewer 1', rating => 4,
     title => 'Good', body => 'Clear sound.'}, 'create: the review, user and author from the token');

is_problem(review($u[0], $radio->{id}, {rating => 1, body => 'Changed my mind.'}), 409,
    'already-reviewed', 'create: a second review by the same user is 409 already-reviewed');

$res = review($u[1], $radio->{id}, {rating => 5, body => 'Love it.'});
answers($res, 201, 'review', 'create: without a title');
is($res->{json}{title}, '', 'create: title "" when absent');
my $r2 = $res->{json};
my $r3 = review($u[2], $radio->{id}, {rating => 4, title => '', body => 'Fine.'})->{json};

# --- list: order, pages, arithmetic -------------------------------------------
$res = list($radio->{id});
answers($res, 200, 'review_page', 'list: 200 with reviews');
in_order($res, 'review_page', 'list: member order (items are Reviews)');
is_deeply([map { $_->{id} } @{$res->{json}{items}}], [$r3->{id}, $r2->{id}, $r1->{id}],
    'list: newest first');
is_deeply($res->{json}{items}[2], $r1, 'list: an item is the review as created');
is_deeply([@{$res->{json}}{qw(total count average_rating)}], [3, 3, 4.33],
    'list: total = count = 3, average (4 + 5 + 4) / 3 = 4.33');

my @pages = map { list($radio->{id}, "?limit=2&page=$_") } 1 .. 3;
is_deeply([map { scalar @{$_->{json}{items}} } @pages], [2, 1, 0], 'pages: 2 + 1, then empty');
is_deeply([map { [@{$_->{json}}{qw(page limit total count average_rating)}] } @pages],
    [[1, 2, 3, 3, 4.33], [2, 2, 3, 3, 4.33], [3, 2, 3, 3, 4.33]],
    'pages: total, count and average describe every review, not the page');
is_deeply([map { $_->{id} } map { @{$_->{json}{items}} } @pages], [$r3->{id}, $r2->{id}, $r1->{id}],
    'pages: together, all reviews in order');

# rounding: 5 + 5 + 4 = 4.666.. -> 4.67; 1 + 2 = 1.5
review($u[$_], $kettle->{id}, {rating => (5, 5, 4)[$_], body => 'x'}) for 0 .. 2;
is(list($kettle->{id})->{json}{average_rating}, 4.67, 'average: 14 / 3 rounds to 4.67');
review($u[$_], $ruler->{id}, {rating => $_ + 1, body => 'y'}) for 0 .. 1;
is(list($ruler->{id})->{json}{average_rating}, 1.5, 'average: 3 / 2 is 1.5');
review($u[3], $ruler->{id}, {rating => 1, body => 'z'});
is_deeply([@{list($ruler->{id})->{json}}{qw(average_rating count)}], [1.33, 3], 'average: 4 / 3 is 1.33');
is(scalar @{list($radio->{id})->{json}{items}}, 3, 'lists are per product');

$t->settle;    # the services: the catalog's rating replica has caught up with the reviews
is_deeply($t->api(GET => "/api/v1/products/$radio->{id}")->{json}{rating},
    {average => 4.33, count => 3}, 'product page: rating is the reviews\' average and count');
is_deeply($t->api(GET => "/api/v1/products/$kettle->{id}")->{json}{rating},
    {average => 4.67, count => 3}, 'product page: 14 / 3 rounds to 4.67 there too');
is_deeply($t->api(GET => "/api/v1/products/$ruler->{id}")->{json}{rating},
    {average => 1.33, count => 3}, 'product page: 4 / 3 is 1.33');

# --- refusals -----------------------------------------------------------------
is_problem($t->api(POST => "/api/v1/products/$kettle->{id}/reviews",
    json => {rating => 5, body => 'x'}), 401, 'unauthorized', 'create: no token is 401');
is_problem($t->api(POST => "/api/v1/products/$kettle->{id}/reviews", token => 'garbage',
    json => {rating => 5, body => 'x'}), 401, 'unauthorized', 'create: a bad token is 401');
is_problem(review($u[3], 999999999, {rating => 5, body => 'x'}), 404, 'not-found',
    'create: an unknown product is 404');
is_problem(list(999999999), 404, 'not-found', 'list: an unknown product is 404');
for my $id (qw(abc 0 -1 99999999999999999999)) {
    is_problem(list($id), 404, 'not-found', "list: product id '$id' is 404");
    is_problem(review($u[3], $id, {rating => 5, body => 'x'}), 404, 'not-found',
        "create: product id '$id' is 404");
}
for my $case (
    [{rating => 0, body => 'x'}, 'rating 0'],
    [{rating => 6, body => 'x'}, 'rating 6'],
    [{rating => 4.5, body => 'x'}, 'a fractional rating'],
    [{rating => '5', body => 'x'}, 'a string rating'],
    [{body => 'x'}, 'rating missing'],
    [{rating => 5}, 'body missing'],
    [{rating => 5, body => ''}, 'an empty body'],
    [{rating => 5, body => 'x' x 5001}, 'a 5001-byte body'],
    [{rating => 5, body => 'x', title => 'x' x 201}, 'a 201-byte title'],
    [{rating => 5, body => 'x', stars => 5}, 'an unknown member'],
    [{rating => 5, body => 'x', user_id => $u[0]{id}}, 'a user_id'],
) {
    is_problem(review($u[3], $kettle->{id}, $case->[0]), 400, 'invalid-request',
        "create: $case->[1] is 400");
}
is_problem($t->api(POST => "/api/v1/products/$kettle->{id}/reviews", token => $u[3]{token},
    body => '{"rating":5,', headers => {'Content-Type' => 'application/json'}), 400,
    'malformed-json', 'create: truncated JSON is 400 malformed-json');
is_problem($t->api(POST => "/api/v1/products/$kettle->{id}/reviews", token => $u[3]{token},
    body => 'rating=5', headers => {'Content-Type' => 'application/x-www-form-urlencoded'}), 415,
    'unsupported-media-type', 'create: a form body is 415');
is_problem($t->api(POST => "/api/v1/products/$kettle->{id}/reviews", token => $u[3]{token},
    json => {rating => 5, body => 'x' x 17000}), 413, 'payload-too-large',
    'create: a body over 16 KiB is 413');
for my $q (qw(limit=0 limit=101 page=0 limit=x)) {
    is_problem(list($radio->{id}, "?$q"), 400, 'invalid-request', "list: $q is 400");
}
is(list($kettle->{id})->{json}{count}, 3, 'refused reviews left no trace');

$t->finish;
done_testing;
