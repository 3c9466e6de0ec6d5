-- 0004_order_log_order_id.sql - order_log by order: `soukctl backfill orders` asks, per order,
-- whether the log has its events already (to log only the imported ones) and whether its
-- order.created is marked backfilled (history's backfill marks exactly those legacy); without
-- this index each page of that backfill would scan the whole log.
CREATE INDEX order_log_order_id ON order_log (order_id);
