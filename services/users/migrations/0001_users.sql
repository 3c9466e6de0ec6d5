-- soukctl: supersedes c82bad5b71e5d46d491d351814b474baad255162e70e03ee498d19f47af69e55
-- (the revision that created outbox and inbox here; they are lib/migrations/0001_backbone.sql
-- now, applied IF NOT EXISTS before this file, so a database that ran it is the same.)
-- 0001_users.sql - the users service's database (services/users/README.md):
-- accounts, their one shipping address and login throttling shared by every
-- replica (the event backbone's outbox/inbox are lib/migrations').

-- Ids stay the same across the migration from the monolith: the backfill
-- inserts explicit ids and then moves the sequence past the largest one
-- (setval), which a plain bigserial allows.
CREATE TABLE users (
  id            bigserial PRIMARY KEY,
  email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  password_hash text NOT NULL CHECK (length(password_hash) <= 128),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role          text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- The API stores emails ASCII-lower-cased (as the monolith); the index makes
-- uniqueness case-insensitive whatever a backfill or an operator writes.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

-- One shipping address per user (the legacy shop never had an address book).
-- version grows by one on every write; user.address_changed carries it so
-- replicas keep the newest.
CREATE TABLE addresses (
  user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  line1       text NOT NULL CHECK (length(line1) BETWEEN 1 AND 200),
  line2       text NOT NULL DEFAULT '' CHECK (length(line2) <= 200),
  city        text NOT NULL CHECK (length(city) BETWEEN 1 AND 100),
  postal_code text NOT NULL CHECK (length(postal_code) BETWEEN 1 AND 20),
  country     char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  version     bigint NOT NULL DEFAULT 1,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Failed logins in a fixed window that opens at the first failure, keyed
-- "a:<digest of the email>" or "ip:<client address>". In PostgreSQL so that
-- every replica sees the same counts; rows of long-ended windows are swept.
CREATE TABLE login_throttle (
  key          text PRIMARY KEY,
  failures     integer NOT NULL,
  window_start timestamptz NOT NULL
);
CREATE INDEX login_throttle_window ON login_throttle (window_start);

