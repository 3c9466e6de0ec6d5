-- 0001_cart.sql - the cart service's database (services/cart/README.md).
-- Carts live in Redis; PostgreSQL holds only the event bookkeeping: the inbox of
-- product events already applied (lib/mq.h). The cart publishes nothing, so it has
-- no outbox.
CREATE TABLE inbox (
  event_id     uuid PRIMARY KEY,
  type         text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);
