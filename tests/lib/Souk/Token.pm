package Souk::Token;
# HS256 tokens as souk issues and checks them, for tests (forged ones too). Exported by
# Souk::Test as well. Core Perl modules only.
use strict;
use warnings;
use Exporter 'import';
use Digest::SHA ();
use JSON::PP ();
use MIME::Base64 ();

our @EXPORT_OK = qw(jwt_mint jwt_sign b64url b64url_decode);

my $JSON = JSON::PP->new->utf8->canonical;

# The secret every souk process uses when SOUK_JWT_SECRET is unset (lib/auth.h AUTH_DEV_SECRET).
our $DEV_SECRET = 'souk-dev-secret-change-me';

# jwt_mint(%claims): an HS256 token like the ones souk issues (sub, role, iat, exp, iss), with
# overrides; a claim set to undef is left out. Options as jwt_sign's: secret, header, sig.
sub jwt_mint {
    my (%c) = @_;
    my %o = map { exists $c{$_} ? ($_ => delete $c{$_}) : () } qw(secret header sig);
    my $now = time;
    my %claims = (sub => '1', role => 'customer', iat => $now, exp => $now + 3600,
        iss => 'souk', %c);
    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;
    return jwt_sign(\%claims, %o);
}

# jwt_sign(\%claims, secret => (default the dev secret), header => {...} (default alg HS256),
# sig => 'literal signature'): exactly these claims as a token (forged ones included).
sub jwt_sign {
    my ($claims, %o) = @_;
    my $secret = exists $o{secret} ? $o{secret} : $DEV_SECRET;
    my $si = b64url($JSON->encode($o{header} // {alg => 'HS256', typ => 'JWT'})) . '.'
        . b64url($JSON->encode($claims));
    return "$si." . ($o{sig} // b64url(Digest::SHA::hmac_sha256($si, $secret)));
}

# base64url without padding (RFC 7515), both ways.
sub b64url {
    my $s = MIME::Base64::encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub b64url_decode {
    my $s = $_[0] =~ tr{-_}{+/}r;
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return MIME::Base64::decode_base64($s);
}

1;
