-- 0001_inventory.sql - the inventory service's database (services/inventory/README.md).
-- Stock per product, reservations (holds) per order with their lines, and the audit
-- views the order checker reads (SAGA.md). The backbone's outbox and inbox come from
-- lib/migrations.

-- One row per product inventory knows: from `soukctl backfill inventory` (catalog_version
-- 0) or from catalog's product events (written only by a newer catalog version; a delete
-- stays as a tombstone, and its stock keeps counting in the audit).
-- received = net units ever put in; on_hand = units physically here (reserved ones
-- included); reserved = units held by live holds; sold = units in committed sales.
-- version grows by one with every change of the four (inventory.stock_changed.version).
CREATE TABLE stock (
  product_id      bigint PRIMARY KEY CHECK (product_id >= 1),
  catalog_version bigint  NOT NULL DEFAULT 0,
  deleted         boolean NOT NULL DEFAULT false,
  received        bigint  NOT NULL DEFAULT 0,
  on_hand         bigint  NOT NULL DEFAULT 0,
  reserved        bigint  NOT NULL DEFAULT 0,
  sold            bigint  NOT NULL DEFAULT 0,
  version         bigint  NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  -- The last line behind the row locks: never negative, never oversold, nothing lost.
  CONSTRAINT stock_never_negative CHECK (on_hand >= 0 AND reserved >= 0 AND sold >= 0),
  CONSTRAINT stock_not_oversold CHECK (reserved <= on_hand),
  CONSTRAINT stock_conserved CHECK (received = on_hand + sold)
);

-- One row per order inventory saw. state: HELD | SOLD | RELEASED | REJECTED
-- (services/inventory/inventory.c has the transition table). A RELEASED row without
-- lines is a tombstone: the order was cancelled before its order.created arrived.
CREATE TABLE reservations (
  order_id   bigint PRIMARY KEY CHECK (order_id >= 1),
  user_id    bigint,
  state      text NOT NULL CHECK (state IN ('HELD', 'SOLD', 'RELEASED', 'REJECTED')),
  reason     text CHECK (reason IN ('payment-failed', 'order-cancelled', 'hold-expired')),
  hold_until timestamptz CHECK (state <> 'HELD' OR hold_until IS NOT NULL),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The sweeper: live holds by expiry.
CREATE INDEX reservations_held ON reservations (hold_until) WHERE state = 'HELD';

-- The order's lines, one per product (repeated products merged).
CREATE TABLE reservation_lines (
  order_id   bigint  NOT NULL REFERENCES reservations (order_id),
  product_id bigint  NOT NULL,
  quantity   integer NOT NULL CHECK (quantity >= 1),
  PRIMARY KEY (order_id, product_id)
);
CREATE INDEX reservation_lines_product ON reservation_lines (product_id);

-- The order checker's views (`soukctl check orders`), exactly these columns.
CREATE VIEW audit_stock AS
  SELECT product_id, received, on_hand, reserved, sold FROM stock;
CREATE VIEW audit_holds AS
  SELECT l.order_id, l.product_id, l.quantity, r.state
    FROM reservation_lines l JOIN reservations r ON r.order_id = l.order_id;
