-- 0002_category_path.sql - the category tree in the projection (services/search/README.md).
-- The catalog's product events carry "category_path": the slugs from the top-level
-- category down to the product's own, root first. documents keeps it, and the
-- `category` filter matches a product's own category or its parent: the monolith's
-- `c.slug = ? OR c.parent_id = (SELECT id FROM categories WHERE slug = ?)`, one level of
-- children, through a GIN index. Every function that builds rows takes the path.

-- Rows applied before this migration know only their own slug; `soukctl search rebuild`
-- gives them their full path (the catalog computes it there, in SQL).
ALTER TABLE documents ADD COLUMN category_path text[];
UPDATE documents SET category_path = ARRAY[category_slug] WHERE category_slug IS NOT NULL;

-- The slugs `category=` matches a product under: its own and its parent's (the last two
-- of the path). The index and search_run spell it alike.
CREATE FUNCTION search_category_keys(p_path text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_path[cardinality(p_path) - 1:]
$$;

DROP INDEX documents_category;
CREATE INDEX documents_category ON documents USING gin (search_category_keys(category_path));

-- As in 0001, with category_path last (the order of the live table after the ALTER
-- above, which search_rebuild_swap's `SELECT c.*` relies on).
CREATE OR REPLACE FUNCTION search_tables(p_suffix text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d text := 'documents' || p_suffix;
  l text := 'lexicon' || p_suffix;
BEGIN
  EXECUTE format($sql$CREATE TABLE %I (
      id            bigint NOT NULL,
      version       bigint NOT NULL,
      deleted       boolean NOT NULL DEFAULT false,  -- a tombstone keeps its version
      seq           bigint NOT NULL DEFAULT 0,
      doc           jsonb,                           -- the catalog document; NULL when deleted
      name          text,
      brand         text,
      category_id   bigint,
      category_slug text,
      category_name text,
      price_minor   bigint,
      currency      text,
      created_at    timestamptz,
      attrs         jsonb,      -- attributes with every value as text (filters, facets)
      summary       text,       -- the v1 product summary, JSON, members in the monolith's order
      words         text[] NOT NULL DEFAULT '{}',   -- distinct words counted in lexicon
      tsv           tsvector,   -- name A, sku A, brand/category/attributes B, description C
      name_tsv      tsvector,   -- name and brand unstemmed, for type-ahead prefixes
      category_path text[],     -- category slugs, root first; NULL when deleted
      CONSTRAINT %I PRIMARY KEY (id))$sql$, d, d || '_pkey');
  EXECUTE format('CREATE TABLE %I (word text NOT NULL, ndoc integer NOT NULL, '
                 'CONSTRAINT %I PRIMARY KEY (word))', l, l || '_pkey');
END $$;

CREATE OR REPLACE FUNCTION search_indexes(p_suffix text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d text := 'documents' || p_suffix;
  l text := 'lexicon' || p_suffix;
BEGIN
  EXECUTE format('CREATE INDEX %I ON %I USING gin (tsv)', d || '_tsv', d);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (name_tsv)', d || '_name_tsv', d);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (attrs jsonb_path_ops)', d || '_attrs', d);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (search_category_keys(category_path))',
                 d || '_category', d);
  EXECUTE format('CREATE INDEX %I ON %I (brand)', d || '_brand', d);
  EXECUTE format('CREATE INDEX %I ON %I (price_minor)', d || '_price', d);
  EXECUTE format('CREATE INDEX %I ON %I (seq)', d || '_seq', d);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (word gin_trgm_ops)', l || '_trgm', l);
END $$;

-- The one doc -> row transform, now with the event's category path (p_path, a JSON
-- array of slugs; NULL or empty for an event without one: the product's own slug).
DROP FUNCTION search_project(bigint, jsonb, boolean);
CREATE FUNCTION search_project(p_id bigint, p_doc jsonb, p_deleted boolean, p_path jsonb,
    OUT doc jsonb, OUT name text, OUT brand text, OUT category_id bigint,
    OUT category_slug text, OUT category_name text, OUT price_minor bigint, OUT currency text,
    OUT created_at timestamptz, OUT attrs jsonb, OUT summary text, OUT words text[],
    OUT tsv tsvector, OUT name_tsv tsvector, OUT category_path text[])
LANGUAGE sql STABLE AS $$
  WITH d AS (
    SELECT CASE WHEN p_deleted THEN NULL ELSE p_doc END AS doc
  ), a AS (
    SELECT d.doc,
           coalesce((SELECT jsonb_object_agg(e.key, e.value #>> '{}')
                       FROM jsonb_each(CASE WHEN jsonb_typeof(d.doc->'attributes') = 'object'
                                            THEN d.doc->'attributes' END) e
                      WHERE jsonb_typeof(e.value) IN ('string', 'number', 'boolean')),
                    '{}'::jsonb) AS attrs,
           (SELECT string_agg(e.value #>> '{}', ' ')
              FROM jsonb_each(CASE WHEN jsonb_typeof(d.doc->'attributes') = 'object'
                                   THEN d.doc->'attributes' END) e
             WHERE jsonb_typeof(e.value) IN ('string', 'number')) AS attr_text
    FROM d
  )
  SELECT a.doc,
         a.doc->>'name',
         coalesce(a.doc->>'brand', ''),
         (a.doc #>> '{category,id}')::bigint,
         a.doc #>> '{category,slug}',
         a.doc #>> '{category,name}',
         (a.doc #>> '{price,amount}')::bigint,
         a.doc #>> '{price,currency}',
         (a.doc->>'created_at')::timestamptz,
         CASE WHEN a.doc IS NOT NULL THEN a.attrs END,
         CASE WHEN a.doc IS NOT NULL THEN json_build_object(
           'id', p_id,
           'sku', a.doc->>'sku',
           'name', a.doc->>'name',
           'brand', coalesce(a.doc->>'brand', ''),
           'category', json_build_object('id', (a.doc #>> '{category,id}')::bigint,
                                         'slug', a.doc #>> '{category,slug}',
                                         'name', a.doc #>> '{category,name}'),
           'price', json_build_object('amount', (a.doc #>> '{price,amount}')::bigint,
                                      'currency', a.doc #>> '{price,currency}'),
           -- The monolith lists attributes as text ordered by name in MariaDB's
           -- utf8mb4_general_ci: upper-cased code points, so '_' sorts after letters.
           'attributes', (SELECT coalesce(json_object_agg(e.key, e.value
                                            ORDER BY upper(e.key) COLLATE "C"),
                                          '{}'::json)
                            FROM jsonb_each_text(a.attrs) e))::text END,
         CASE WHEN a.doc IS NULL THEN '{}'::text[]
              ELSE search_words(concat_ws(' ', a.doc->>'name', a.doc->>'brand',
                                          a.doc #>> '{category,name}', a.attr_text)) END,
         CASE WHEN a.doc IS NOT NULL THEN
           setweight(to_tsvector('english', coalesce(a.doc->>'name', '')), 'A') ||
           setweight(to_tsvector('simple', coalesce(a.doc->>'sku', '')), 'A') ||
           setweight(to_tsvector('english', concat_ws(' ', a.doc->>'brand',
                                                      a.doc #>> '{category,name}', a.attr_text)), 'B') ||
           setweight(to_tsvector('english', coalesce(a.doc->>'description', '')), 'C') END,
         CASE WHEN a.doc IS NOT NULL THEN
           to_tsvector('simple', concat_ws(' ', a.doc->>'name', a.doc->>'brand')) END,
         CASE WHEN a.doc IS NULL THEN NULL
              WHEN jsonb_typeof(p_path) = 'array' AND jsonb_array_length(p_path) > 0 THEN
                ARRAY(SELECT e.slug FROM jsonb_array_elements_text(p_path)
                                         WITH ORDINALITY AS e(slug, i) ORDER BY e.i)
              WHEN a.doc #>> '{category,slug}' IS NOT NULL THEN
                ARRAY[a.doc #>> '{category,slug}'] END
  FROM a
$$;

-- Apply one product event (p_path: its "category_path"): only a newer version changes
-- anything, so duplicates and reordering are harmless. True when the row changed.
CREATE FUNCTION search_apply(p_id bigint, p_version bigint, p_doc jsonb, p_deleted boolean,
    p_path jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  old_words text[];
  new_words text[];
BEGIN
  SELECT d.words INTO old_words FROM documents d WHERE d.id = p_id FOR UPDATE;
  INSERT INTO documents AS d (id, version, deleted, seq, doc, name, brand, category_id,
      category_slug, category_name, price_minor, currency, created_at, attrs, summary, words,
      tsv, name_tsv, category_path)
  SELECT p_id, p_version, p_deleted, nextval('search_seq'), f.doc, f.name, f.brand,
         f.category_id, f.category_slug, f.category_name, f.price_minor, f.currency,
         f.created_at, f.attrs, f.summary, f.words, f.tsv, f.name_tsv, f.category_path
    FROM search_project(p_id, p_doc, p_deleted, p_path) f
  ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, deleted = EXCLUDED.deleted,
      seq = EXCLUDED.seq, doc = EXCLUDED.doc, name = EXCLUDED.name, brand = EXCLUDED.brand,
      category_id = EXCLUDED.category_id, category_slug = EXCLUDED.category_slug,
      category_name = EXCLUDED.category_name, price_minor = EXCLUDED.price_minor,
      currency = EXCLUDED.currency, created_at = EXCLUDED.created_at, attrs = EXCLUDED.attrs,
      summary = EXCLUDED.summary, words = EXCLUDED.words, tsv = EXCLUDED.tsv,
      name_tsv = EXCLUDED.name_tsv, category_path = EXCLUDED.category_path
    WHERE d.version < EXCLUDED.version
  RETURNING d.words INTO new_words;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM search_lexicon_move(coalesce(old_words, '{}'), new_words);
  RETURN true;
END $$;

-- The 0001 signature stays for a binary of before this migration (events without a path).
CREATE OR REPLACE FUNCTION search_apply(p_id bigint, p_version bigint, p_doc jsonb,
    p_deleted boolean)
RETURNS boolean LANGUAGE sql AS $$
  SELECT search_apply(p_id, p_version, p_doc, p_deleted, NULL::jsonb)
$$;

-- load: one batch, a JSON array of {"id","version","deleted","doc","category_path"}.
CREATE OR REPLACE FUNCTION search_rebuild_load(p_batch jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  INSERT INTO documents_new AS d (id, version, deleted, doc, name, brand, category_id,
      category_slug, category_name, price_minor, currency, created_at, attrs, summary, words,
      tsv, name_tsv, category_path)
  SELECT b.id, b.version, b.deleted, f.doc, f.name, f.brand, f.category_id, f.category_slug,
         f.category_name, f.price_minor, f.currency, f.created_at, f.attrs, f.summary, f.words,
         f.tsv, f.name_tsv, f.category_path
    FROM jsonb_to_recordset(p_batch)
         AS b(id bigint, version bigint, deleted boolean, doc jsonb, category_path jsonb)
   CROSS JOIN LATERAL search_project(b.id, b.doc, coalesce(b.deleted, false), b.category_path) f
  ON CONFLICT (id) DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- As in 0001 but for the category filter, now over the path (search_category_keys).
CREATE OR REPLACE FUNCTION search_run(p_query text, p_category text, p_brand text, p_min bigint,
    p_max bigint, p_attr_names text[], p_attr_values text[], p_sort text, p_limit integer,
    p_offset bigint, p_facet_top integer, p_buckets bigint[])
RETURNS TABLE (kind text, id bigint, body text, value text, label text, n bigint)
LANGUAGE plpgsql STABLE
-- Every query here is driven by the GIN index on tsv. For a broad word the
-- planner prefers a sequential scan, which evaluates @@ on every row; the
-- bitmap from the index is exact, so it never costs more: keep the index.
SET enable_seqscan = off
SET client_min_messages = warning AS $$
#variable_conflict use_column
DECLARE
  q tsquery := to_tsquery('english', p_query);
  f jsonb;
BEGIN
  IF numnode(q) = 0 THEN  -- only stop words: nothing can match
    RETURN QUERY SELECT 'total'::text, NULL::bigint, NULL::text, NULL::text, NULL::text, 0::bigint;
    RETURN;
  END IF;
  IF cardinality(p_attr_names) > 0 THEN
    f := jsonb_object(p_attr_names, p_attr_values);
  END IF;
  -- m: every match, narrow (id and sort keys), so the pass over all matches
  -- stays cheap; o: the first max(page end, p_facet_top) of them in order,
  -- with what the page and the facets need.
  RETURN QUERY
  WITH m AS MATERIALIZED (
    SELECT d.id,
           CASE p_sort WHEN 'relevance' THEN -ts_rank(d.tsv, q)::float8
                       WHEN 'price_asc' THEN d.price_minor::float8
                       WHEN 'price_desc' THEN -d.price_minor::float8
                       WHEN 'newest' THEN -extract(epoch FROM d.created_at)::float8
                       ELSE 0 END AS kn,
           (CASE p_sort WHEN 'name' THEN upper(d.name) ELSE '' END) COLLATE "C" AS kt,
           CASE p_sort WHEN 'newest' THEN -d.id ELSE d.id END AS ki
      FROM documents d
     WHERE d.tsv @@ q  -- a tombstone's tsv is NULL: it never matches
       AND (p_category IS NULL
            OR search_category_keys(d.category_path) @> ARRAY[p_category])
       AND (p_brand IS NULL OR d.brand = p_brand)
       AND (p_min IS NULL OR d.price_minor >= p_min)
       AND (p_max IS NULL OR d.price_minor <= p_max)
       AND (f IS NULL OR d.attrs @> f)
  ), o AS MATERIALIZED (
    SELECT s.id, s.pos, d.category_slug, d.category_name, d.brand, d.price_minor, d.attrs,
           d.summary
      FROM (SELECT k.id, row_number() OVER (ORDER BY k.kn, k.kt, k.ki) AS pos
              FROM (SELECT * FROM m ORDER BY m.kn, m.kt, m.ki
                     LIMIT greatest(p_offset + p_limit, p_facet_top)) k) s
      JOIN documents d ON d.id = s.id
  ), t AS (
    SELECT * FROM o WHERE o.pos <= p_facet_top
  )
  SELECT 'total', NULL::bigint, NULL::text, NULL::text, NULL::text, count(*) FROM m
  UNION ALL
  (SELECT 'item', o.id, o.summary, NULL, NULL, o.pos
     FROM o WHERE o.pos > p_offset AND o.pos <= p_offset + p_limit ORDER BY o.pos)
  UNION ALL
  (SELECT 'category', NULL, NULL, t.category_slug, min(t.category_name), count(*)
     FROM t WHERE t.category_slug IS NOT NULL GROUP BY t.category_slug
    ORDER BY 6 DESC, 4)
  UNION ALL
  (SELECT 'brand', NULL, NULL, t.brand, NULL, count(*)
     FROM t WHERE t.brand <> '' GROUP BY t.brand ORDER BY 6 DESC, 4)
  UNION ALL
  (SELECT 'price', NULL, NULL, width_bucket(t.price_minor, p_buckets)::text, NULL, count(*)
     FROM t WHERE t.price_minor IS NOT NULL GROUP BY 4 ORDER BY 4::integer)
  UNION ALL
  (SELECT 'attr', NULL, NULL, a.key, a.value, a.cnt
     FROM (SELECT e.key, e.value, count(*) AS cnt,
                  row_number() OVER (PARTITION BY e.key ORDER BY count(*) DESC, e.value) AS r
             FROM t, jsonb_each_text(t.attrs) e GROUP BY e.key, e.value) a
    WHERE a.r <= 10 ORDER BY a.key, a.cnt DESC, a.value);  -- ten values per attribute
END $$;
