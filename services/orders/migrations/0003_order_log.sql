-- 0003_order_log.sql - the retained order events: what souk-history's rebuild replays.
-- The outbox keeps sent rows only for a while (lib/mq_relay.c prunes them), so every order.*
-- row written to the outbox is also appended here, by a trigger in the same transaction as the
-- outbox insert: nothing orders commits can miss the log, and no code path has to remember
-- it. The log is append-only and never published; `soukctl backfill orders` appends the
-- imported orders' events here directly (never to the outbox, so nothing is re-published).
-- The card token of order.created is left out: a retained log has no use for it.
CREATE TABLE order_log (
  seq        bigserial PRIMARY KEY,
  event_id   uuid NOT NULL UNIQUE,
  type       text NOT NULL,
  order_id   bigint NOT NULL,
  envelope   jsonb NOT NULL,
  logged_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION order_log_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO order_log (event_id, type, order_id, envelope)
  VALUES (NEW.id, NEW.type, NEW.aggregate_id, NEW.envelope::jsonb #- '{payload,card,token}')
  ON CONFLICT (event_id) DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_order_log AFTER INSERT ON outbox
  FOR EACH ROW WHEN (NEW.type LIKE 'order.%') EXECUTE FUNCTION order_log_keep();
