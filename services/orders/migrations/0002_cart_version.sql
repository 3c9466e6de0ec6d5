-- 0002_cart_version.sql - one state of a cart is at most one live order.
-- The cart service empties the cart on order.confirmed, after the checkout committed, so a
-- repeat of the checkout (a double click, a retry after the 201, two tabs) could read the same
-- cart again. souk-cart names each state of a cart (its ETag, new on every write); the
-- checkout records it, and this index refuses a second PENDING or CONFIRMED order of one
-- state: the repeat answers 409 cart-empty, as on the monolith, where the checkout emptied the
-- cart in its own transaction. A REJECTED or CANCELLED order leaves the index, so a retry of a
-- failed checkout goes through (the monolith's rolled-back checkout left the cart as it was).
-- NULL (backfilled orders, a cart service without ETags) is never a conflict.
ALTER TABLE orders ADD COLUMN cart_version text;
CREATE UNIQUE INDEX orders_cart_live ON orders (user_id, cart_version)
  WHERE status IN ('PENDING', 'CONFIRMED');
