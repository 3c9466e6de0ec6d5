package Souk::Probe;
# The database souk-mqprobe (lib/t/mqprobe.c) runs on, for the backbone's tests: a fresh
# PostgreSQL database with lib's own migrations (outbox, inbox, inbox_starts) and the probe's
# tables. probe_db($name): its name (t_<name>_<pid>).
use strict;
use warnings;
use Exporter 'import';
use Souk::Test qw(pg_sql pg_admin_dsn soukctl);

our @EXPORT = qw(probe_db);

sub probe_db {
    my ($name) = @_;
    my $db = sprintf('t_%s_%d', $name, $$);
    pg_sql(undef, "CREATE DATABASE $db");
    my ($rc, $out, $err) = soukctl({SOUK_BACKBONE_DB => pg_admin_dsn($db)}, qw(schema up backbone));
    die "soukctl schema up backbone failed ($rc):\n$out$err" if $rc;
    pg_sql($db, <<'SQL');
CREATE TABLE emitted (n bigint NOT NULL);
CREATE TABLE effects (event_id uuid NOT NULL, n bigint NOT NULL);  -- no unique key on purpose
CREATE TABLE poison (n bigint PRIMARY KEY);
SQL
    return $db;
}

1;
