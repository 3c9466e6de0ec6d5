-- 0004_cart_version.sql - reverse sync of the cart (migrate/map/cart.c): the newest
-- cart.changed version written back into carts/cart_items per user, so an older or
-- repeated event changes nothing. Only reverse sync writes it (with skip_replication);
-- the forward capture does not read it.
CREATE TABLE souk_cart_version (
    user_id BIGINT NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
