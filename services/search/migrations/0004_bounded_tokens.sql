-- 0004_bounded_tokens.sql - bounded search cost and the tokens shoppers type
-- (services/search/README.md, "Cost" and "Matching").
--
-- 1. Text is normalised before to_tsvector: PostgreSQL's default parser reads
--    "i7/32GB/512GB" or "W34/L32" as one file-path token, so "i7", "32gb" or "w34" were
--    never lexemes. search_text() turns '/' into a space; the indexed text and (in
--    search.c) the query words are split the same way. Existing rows are re-projected here.
-- 2. search_run counts matches only up to a cap and ranks a bounded window of candidates
--    (the first matches in the table's physical order, which is category order), so the
--    first page of a broad query costs no more than the first page of a narrow one. It takes
--    two more arguments; 0003's twelve-argument search_run stays for a binary of before.

-- The text every tsvector is built from: '/' separates words (the default parser would
-- keep "i7/32GB/512GB" as one path token). '.' and '-' stay: "15.6" is one number token
-- and "over-ear" is indexed whole and as its parts.
CREATE FUNCTION search_text(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT translate(p, '/\', '  ')
$$;

-- As in 0002, with every tsvector built from search_text().
CREATE OR REPLACE FUNCTION search_project(p_id bigint, p_doc jsonb, p_deleted boolean,
    p_path jsonb,
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
           setweight(to_tsvector('english', search_text(coalesce(a.doc->>'name', ''))), 'A') ||
           setweight(to_tsvector('simple', coalesce(a.doc->>'sku', '')), 'A') ||
           setweight(to_tsvector('english', search_text(concat_ws(' ', a.doc->>'brand',
                                                      a.doc #>> '{category,name}', a.attr_text))), 'B') ||
           setweight(to_tsvector('english', search_text(coalesce(a.doc->>'description', ''))), 'C') END,
         CASE WHEN a.doc IS NOT NULL THEN
           to_tsvector('simple', search_text(concat_ws(' ', a.doc->>'name', a.doc->>'brand'))) END,
         CASE WHEN a.doc IS NULL THEN NULL
              WHEN jsonb_typeof(p_path) = 'array' AND jsonb_array_length(p_path) > 0 THEN
                ARRAY(SELECT e.slug FROM jsonb_array_elements_text(p_path)
                                         WITH ORDINALITY AS e(slug, i) ORDER BY e.i)
              WHEN a.doc #>> '{category,slug}' IS NOT NULL THEN
                ARRAY[a.doc #>> '{category,slug}'] END
  FROM a
$$;

-- Re-project the live rows (a large projection can instead be rebuilt online with
-- `soukctl search rebuild`, which also restores matches' category order). The lock order.
LOCK TABLE matches, documents IN SHARE ROW EXCLUSIVE MODE;
UPDATE documents d SET tsv = f.tsv, name_tsv = f.name_tsv
  FROM (SELECT x.id, p.tsv, p.name_tsv
          FROM documents x
         CROSS JOIN LATERAL search_project(x.id, x.doc, false, to_jsonb(x.category_path)) p
         WHERE NOT x.deleted) f
 WHERE f.id = d.id AND (d.tsv, d.name_tsv) IS DISTINCT FROM (f.tsv, f.name_tsv);
UPDATE matches m SET tsv = d.tsv FROM documents d WHERE d.id = m.id AND m.tsv IS DISTINCT FROM d.tsv;

-- The live products matching q under the filters, with their physical position (pos):
-- the one definition of "matches" that search_run counts, ranks and sorts. A plain SQL
-- set-returning function, so the planner inlines it into each caller's query.
CREATE FUNCTION search_matching(q tsquery, p_category text, p_brand text, p_min bigint,
    p_max bigint, f jsonb)
RETURNS TABLE (id bigint, pos tid, tsv tsvector, price_minor bigint, created_at timestamptz,
               name text)
LANGUAGE sql STABLE AS $$
  SELECT d.id, d.ctid, d.tsv, d.price_minor, d.created_at, d.name
    FROM matches d  -- live products only
   WHERE d.tsv @@ q
     AND (p_category IS NULL OR search_category_keys(d.category_path) @> ARRAY[p_category])
     AND (p_brand IS NULL OR d.brand = p_brand)
     AND (p_min IS NULL OR d.price_minor >= p_min)
     AND (p_max IS NULL OR d.price_minor <= p_max)
     AND (f IS NULL OR d.attrs @> f)
$$;

-- One search, as in 0003, with bounded cost:
-- - total: the matches counted up to p_count_cap + 1 (the service reports more than
--   p_count_cap as "at least p_count_cap");
-- - relevance: only the first p_rank_window matches in physical order (category order,
--   so a window holds the products one word is about) are ranked; a page reaching past
--   the window continues with the rest in physical order. The window is the same for
--   every page, so pages neither repeat nor skip a product. One scan serves the count,
--   the window and the page;
-- - the other sorts are exact over every match (a price or date order cannot be bounded
--   by a window).
-- Rows: ('total', n) first, then ('item', id, summary, pos), then facets as
-- (kind, value, label, count). matches (CTE m) before documents (CTE o): the lock order.
CREATE FUNCTION search_run(p_query text, p_category text, p_brand text, p_min bigint,
    p_max bigint, p_attr_names text[], p_attr_values text[], p_sort text, p_limit integer,
    p_offset bigint, p_facet_top integer, p_buckets bigint[], p_count_cap integer,
    p_rank_window integer)
RETURNS TABLE (kind text, id bigint, body text, value text, label text, n bigint)
LANGUAGE plpgsql STABLE
-- Driven by the GIN index on tsv (see 0001); no parallel plan, so the "first matches in
-- physical order" of a LIMIT are the same on every call. One generic plan per session:
-- planning this statement for each call's values cost more than a narrow search itself
-- (1.5 of 2 ms for a query that matches nothing), and the plan does not depend on them
-- (the tsv bitmap drives every branch; the filters and the sort are checked per row or
-- gate a branch at run time).
SET enable_seqscan = off
SET max_parallel_workers_per_gather = 0
SET plan_cache_mode = force_generic_plan
SET client_min_messages = warning AS $$
#variable_conflict use_column
DECLARE
  q tsquery := to_tsquery('english', p_query);
  f jsonb;
  top bigint := greatest(p_offset + p_limit, p_facet_top);
BEGIN
  IF numnode(q) = 0 THEN  -- only stop words: nothing can match
    RETURN QUERY SELECT 'total'::text, NULL::bigint, NULL::text, NULL::text, NULL::text, 0::bigint;
    RETURN;
  END IF;
  IF cardinality(p_attr_names) > 0 THEN
    f := jsonb_object(p_attr_names, p_attr_values);
  END IF;
  RETURN QUERY
  WITH c AS MATERIALIZED (
    -- relevance: one scan of the first matches in physical order, as many as the count,
    -- the window and the page need; it is the count too
    SELECT s.id, s.pos, ts_rank(s.tsv, q)::float8 AS score
      FROM search_matching(q, p_category, p_brand, p_min, p_max, f) s
     WHERE p_sort = 'relevance'
     LIMIT greatest(p_count_cap + 1, p_rank_window, top)
  ), m AS MATERIALIZED (
    -- ranked inside the window; past it, in physical order
    SELECT w.id,
           CASE WHEN w.r <= p_rank_window THEN 0 ELSE 1 END AS kw,
           CASE WHEN w.r <= p_rank_window THEN -w.score ELSE w.r END AS kn,
           ''::text COLLATE "C" AS kt, w.id AS ki
      FROM (SELECT c.id, c.score, row_number() OVER (ORDER BY c.pos) AS r FROM c) w
    UNION ALL
    -- the other sorts: every match
    SELECT s.id, 0,
           CASE p_sort WHEN 'price_asc' THEN s.price_minor::float8
                       WHEN 'price_desc' THEN -s.price_minor::float8
                       WHEN 'newest' THEN -extract(epoch FROM s.created_at)::float8
                       ELSE 0 END,
           (CASE p_sort WHEN 'name' THEN upper(s.name) ELSE '' END) COLLATE "C",
           CASE p_sort WHEN 'newest' THEN -s.id ELSE s.id END
      FROM search_matching(q, p_category, p_brand, p_min, p_max, f) s
     WHERE p_sort <> 'relevance'
  ), o AS MATERIALIZED (
    SELECT s.id, s.pos, d.category_slug, d.category_name, d.brand, d.price_minor, d.attrs,
           d.summary
      FROM (SELECT k.id, row_number() OVER (ORDER BY k.kw, k.kn, k.kt, k.ki) AS pos
              FROM (SELECT * FROM m ORDER BY m.kw, m.kn, m.kt, m.ki LIMIT top) k) s
      JOIN documents d ON d.id = s.id
  ), t AS (
    SELECT * FROM o WHERE o.pos <= p_facet_top
  )
  SELECT 'total', NULL::bigint, NULL::text, NULL::text, NULL::text,
         least(count(*), p_count_cap + 1) FROM m
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
