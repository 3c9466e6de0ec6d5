-- 0001_reporting.sql - the reporting service's database (services/reporting/README.md).
-- Sales are kept incrementally: one fact row per order (its lines beside it) and small
-- per-day tallies, changed in the consumer's transaction only when an order starts or stops
-- counting; the heavier rollups are materialized views over the facts, refreshed
-- CONCURRENTLY by the service's refresh job, each refresh recorded in refreshes.

-- The catalog's products as far as reporting cares: their category. Kept from product.*
-- events, written only by a newer version; a delete stays as a tombstone.
CREATE TABLE products_replica (
  id       bigint PRIMARY KEY,
  version  bigint NOT NULL CHECK (version >= 1),
  category text NOT NULL DEFAULT '',
  deleted  boolean NOT NULL DEFAULT false
);

-- One row per order heard of. state only moves up the lattice PENDING < CONFIRMED <
-- CANCELLED | REJECTED (services/reporting/reporting.c), so duplicates and reordering
-- converge. placed: order.created was seen, so day (placed-at, UTC), country (ship_to) and
-- the lines are known. counted = state CONFIRMED and placed: the order is in the tallies.
CREATE TABLE facts (
  order_id   bigint PRIMARY KEY,
  state      text NOT NULL CHECK (state IN ('PENDING', 'CONFIRMED', 'CANCELLED', 'REJECTED')),
  placed     boolean NOT NULL DEFAULT false,
  day        date,
  country    text NOT NULL DEFAULT '',
  items      bigint NOT NULL DEFAULT 0,
  revenue    bigint NOT NULL DEFAULT 0,
  counted    boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (NOT counted OR (placed AND state = 'CONFIRMED')),
  CHECK (NOT placed OR day IS NOT NULL)
);
CREATE INDEX facts_counted_day ON facts (day) WHERE counted;

-- An order's priced lines as order.created carried them; category is the product's at the
-- time the order was placed (from products_replica), so later recategorisations do not
-- rewrite history and a recomputation over the facts gives the same figures.
CREATE TABLE fact_lines (
  order_id   bigint NOT NULL REFERENCES facts (order_id),
  line_no    integer NOT NULL,
  product_id bigint NOT NULL,
  quantity   bigint NOT NULL CHECK (quantity > 0),
  unit_minor bigint NOT NULL CHECK (unit_minor >= 0),
  category   text NOT NULL DEFAULT '',
  PRIMARY KEY (order_id, line_no)
);

-- The incremental tallies: counted orders by placed-at day (UTC), and by day x country and
-- day x category (orders = counted orders with a line in the category). A range of days is
-- summed per month at read time: at most a few hundred rows.
CREATE TABLE sales_day (
  day     date PRIMARY KEY,
  orders  bigint NOT NULL DEFAULT 0,
  items   bigint NOT NULL DEFAULT 0,
  revenue bigint NOT NULL DEFAULT 0
);
CREATE TABLE sales_day_country (
  day     date NOT NULL,
  country text NOT NULL,
  orders  bigint NOT NULL DEFAULT 0,
  items   bigint NOT NULL DEFAULT 0,
  revenue bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, country)
);
CREATE TABLE sales_day_category (
  day      date NOT NULL,
  category text NOT NULL,
  orders   bigint NOT NULL DEFAULT 0,
  items    bigint NOT NULL DEFAULT 0,
  revenue  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, category)
);

-- How fresh the tallies are: the occurred_at of the newest order event applied (one row), and
-- how many changes were applied so far (the refresh job skips a view nothing changed under).
CREATE TABLE feed (
  id            integer PRIMARY KEY CHECK (id = 1),
  last_event_at timestamptz NOT NULL DEFAULT now(),
  changes       bigint NOT NULL DEFAULT 0
);
INSERT INTO feed (id, last_event_at) VALUES (1, now());

-- The heavier rollups, recomputed from the facts (not from the tallies) on each refresh.
CREATE MATERIALIZED VIEW sales_month_category_country AS
  SELECT to_char(f.day, 'YYYY-MM') AS month, l.category, f.country,
         count(DISTINCT f.order_id)::bigint AS orders, sum(l.quantity)::bigint AS items,
         sum(l.quantity * l.unit_minor)::bigint AS revenue
    FROM facts f JOIN fact_lines l ON l.order_id = f.order_id
   WHERE f.counted
   GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX sales_mcc_key ON sales_month_category_country (month, category, country);

CREATE MATERIALIZED VIEW top_products_month AS
  SELECT month, product_id, items, revenue, rank FROM (
    SELECT to_char(f.day, 'YYYY-MM') AS month, l.product_id,
           sum(l.quantity)::bigint AS items, sum(l.quantity * l.unit_minor)::bigint AS revenue,
           row_number() OVER (PARTITION BY to_char(f.day, 'YYYY-MM')
                              ORDER BY sum(l.quantity * l.unit_minor) DESC, l.product_id)::integer
             AS rank
      FROM facts f JOIN fact_lines l ON l.order_id = f.order_id
     WHERE f.counted
     GROUP BY 1, 2) t
   WHERE rank <= 20;
CREATE UNIQUE INDEX top_products_month_key ON top_products_month (month, rank);

-- Each view's last successful refresh: when it started (what it reflects), how long it took,
-- and feed.changes when it started; as_of of a report served from the view.
CREATE TABLE refreshes (
  view_name    text PRIMARY KEY,
  refreshed_at timestamptz NOT NULL,
  took_ms      bigint NOT NULL,
  changes      bigint NOT NULL DEFAULT 0
);
INSERT INTO refreshes (view_name, refreshed_at, took_ms) VALUES
  ('sales_month_category_country', now(), 0), ('top_products_month', now(), 0);
