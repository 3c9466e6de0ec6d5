-- 0002_inbox_starts.sql - how many times a consumer started the handler of a redelivered event
-- (lib/mq_consume.c). The broker's x-delivery-count also counts returns no handler saw (a
-- connection lost or a consumer stopping with the message in its buffer), so a message could be
-- parked as "killed its consumer every time" after mere reconnects; the starts recorded here,
-- in autocommit before each redelivered handling, are what the poison check counts instead.
-- Rows are pruned with the inbox's retention.
CREATE TABLE IF NOT EXISTS inbox_starts (
  event_id uuid PRIMARY KEY,
  starts   integer NOT NULL DEFAULT 1,
  last_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS inbox_starts_last_at ON inbox_starts (last_at);
