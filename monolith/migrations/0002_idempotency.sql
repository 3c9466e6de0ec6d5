-- 0002_idempotency.sql - Idempotency-Key is compared byte for byte: under the
-- default case-insensitive collation "Order-ABC" and "order-abc" were one key,
-- so a second, different purchase was answered with the first order.
-- request_hash is now an HMAC bound to the user and a server key; the plain
-- SHA-256 fingerprints written before are dropped (a retry of such an old
-- key answers 422 instead of replaying, which is the safe side).
ALTER TABLE orders MODIFY idempotency_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL;
UPDATE orders SET request_hash = NULL WHERE request_hash IS NOT NULL;
