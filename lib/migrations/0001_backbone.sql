-- 0001_backbone.sql - the event backbone's tables (lib/mq.h, contracts/events.md), owned by
-- lib/ and applied by `soukctl schema up` to every service database that publishes or
-- consumes, before the service's own migrations; recorded as backbone/0001_backbone.sql.
-- IF NOT EXISTS because databases migrated before this track existed already have these
-- tables, identical, from their service's 0001 file (tools/soukctl/README.md).

-- outbox: events written in the same transaction as the change they announce, published in
-- seq order by the relay (lib/mq_relay.c), which sets sent_at.
CREATE TABLE IF NOT EXISTS outbox (
  seq          bigserial PRIMARY KEY,
  id           uuid NOT NULL UNIQUE,
  type         text NOT NULL,
  aggregate_id bigint NOT NULL,
  envelope     text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  sent_at      timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- inbox: the ids of the events a consumer has applied, inserted in the transaction of the
-- effect (lib/mq_consume.c), so a redelivery is a no-op.
CREATE TABLE IF NOT EXISTS inbox (
  event_id     uuid PRIMARY KEY,
  type         text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);
