-- soukctl migrate's state (docs/migration.md): one row per domain being moved from the
-- monolith to its service, and the log of every step run, by whom and when.

-- step: the last step run, and how it went (running, done, failed); done_step: the last one
-- that finished, where the playbook stands (a failed step leaves it where it was).
CREATE TABLE migration_state (
    domain          text PRIMARY KEY,
    step            text NOT NULL,
    done_step       text NOT NULL DEFAULT 'none',
    status          text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    canary_percent  integer,
    detail          text NOT NULL DEFAULT '',
    updated_by      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    start_gtid      text,        -- the monolith's binlog position just before the backfill
    sync_listen     text,        -- souk-sync's /metrics address while it runs
    reverse_listen  text,        -- the reverse sync's, from cutover on
    verify_at       timestamptz, -- the last verify: when, whether both sides agreed, and what
    verify_ok       boolean,
    verify_detail   text,
    hold_ms         bigint,      -- how long the last cutover held the domain's writes
    marker_token    text         -- the last cutover marker written to the monolith
);

CREATE TABLE migration_log (
    id          bigserial PRIMARY KEY,
    domain      text NOT NULL,
    step        text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('started', 'done', 'failed')),
    detail      text NOT NULL DEFAULT '',
    who         text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    duration_ms bigint
);

CREATE INDEX migration_log_domain ON migration_log (domain, id);
