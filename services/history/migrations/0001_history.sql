-- 0001_history.sql - souk-history's read model (services/history/README.md).
-- One flat row per order kept from order.* events: the facts the merge needs and the v1 and
-- v2 JSON as rendered bytes, so a page is one index range scan returned as stored.

CREATE TABLE order_rows (
  id           bigint PRIMARY KEY,
  user_id      bigint NOT NULL DEFAULT 0,     -- 0 until an event named the owner
  status       text,                          -- NULL until an event set it
  reason       text,
  created      boolean NOT NULL DEFAULT false, -- order.created applied: lines, total, address
  terminal     boolean NOT NULL DEFAULT false,
  legacy       boolean NOT NULL DEFAULT false, -- backfilled from the monolith
  version      smallint GENERATED ALWAYS AS (created::int + terminal::int) STORED,
  v1           boolean NOT NULL DEFAULT false, -- listed by v1 (history.c hist_v1_visible)
  items        text,
  ship         text,
  total_minor  bigint NOT NULL DEFAULT 0,
  currency     text NOT NULL DEFAULT '',
  card_last4   text,
  payment      text,
  created_txt  text,                          -- as rendered (RFC 3339, seconds)
  updated_txt  text,
  created_at   timestamptz,                   -- the sort key
  v1_json      text,
  v2_json      text
);
-- "my orders" in v1 and v2: newest first, one range scan per page.
CREATE INDEX order_rows_v1 ON order_rows (user_id, created_at DESC, id DESC) WHERE v1;
CREATE INDEX order_rows_user ON order_rows (user_id, created_at DESC, id DESC) WHERE created;

-- One row: whether a rebuild is filling order_rows_build (the apply then writes both).
CREATE TABLE rebuild_state (
  one       boolean PRIMARY KEY DEFAULT true CHECK (one),
  building  boolean NOT NULL DEFAULT false,
  began_at  timestamptz
);
INSERT INTO rebuild_state DEFAULT VALUES;
