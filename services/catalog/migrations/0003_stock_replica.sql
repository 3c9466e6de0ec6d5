-- 0003: the stock replica. The catalog consumes inventory's inventory.stock_changed events
-- (services/catalog/README.md) and keeps the product's sellable units as DOC.stock; each
-- product's stock events carry inventory's own per-product version, kept here so that
-- only a newer one is applied (duplicates and reordering change nothing). 0: none applied
-- yet (a new product, or the stock a backfill copied from the monolith).
ALTER TABLE products ADD COLUMN stock_version bigint NOT NULL DEFAULT 0;
