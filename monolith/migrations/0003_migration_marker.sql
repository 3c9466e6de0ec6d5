-- 0003_migration_marker.sql - the cutover marker of live migration (migrate/README.md).
-- `soukctl migrate DOMAIN cutover` inserts a row here once the gateway holds the
-- domain's writes; the domain's souk-sync captures this table, and records the token
-- in its sync_position in the same transaction as everything before it, so "marker
-- applied" means "every write before the fence is in the service".
CREATE TABLE souk_migration_marker (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    domain     VARCHAR(32) NOT NULL,
    token      CHAR(36)    NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY souk_migration_marker_domain (domain, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
