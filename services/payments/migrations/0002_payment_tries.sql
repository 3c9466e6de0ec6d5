-- 0002_payment_tries.sql - how many times the provider was tried for an order's authorisation
-- that is still undecided (services/payments/README.md "Unavailable provider"). The handler
-- holds the payment's row locked in its message's transaction, which a crash rolls back, so
-- the count cannot live in that row: each try is counted here first, in autocommit on the
-- consumer thread's own connection, before the provider is called. A restarted process reads
-- it, so RETRY_LIMIT counts the tries of every process, and `attempts` reports them all. The
-- row goes when the payment leaves AUTHORIZING (in the transaction that saves the decision).
CREATE TABLE payment_tries (
  order_id bigint PRIMARY KEY,
  tries    integer NOT NULL DEFAULT 1 CHECK (tries > 0),
  last_at  timestamptz NOT NULL DEFAULT now()
);
