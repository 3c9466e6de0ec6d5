-- 0003_matches.sql - a narrow match table beside documents (services/search/README.md).
-- A broad word matches thousands of products, and search_run reads every match to count
-- and rank it. In documents that meant one wide row per match (~4.6 rows a page: the
-- catalog document, the summary, the tsvector, the words), so "laptop" (6 000 matches)
-- visited 5 400 heap pages. matches holds one row per live product with only what
-- matching, filtering, ranking, sorting and the total need, ~10 rows a page, written in
-- category order: the products one word matches mostly share a category, so they share
-- pages too ("laptop" now visits ~600). documents keeps the rest (the page's summaries,
-- facets, suggest, tombstones and versions) and no longer carries the matching indexes.
--
-- matches is derived from documents only: search_apply writes both in one transaction,
-- a rebuild fills matches_new from documents_new and swaps the three tables together.
--
-- Lock order: matches, documents, lexicon. search_rebuild_swap locks them in this order,
-- so every statement or function that touches more than one takes them in the same order
-- (search_run, search_correct, search_apply), or a search could deadlock with the swap.

-- matches<suffix>: fixed-width columns first. fillfactor 90 leaves room on each page for
-- the next version of its rows, so an update stays next to its category.
CREATE FUNCTION search_match_table(p_suffix text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  m text := 'matches' || p_suffix;
BEGIN
  EXECUTE format($sql$CREATE TABLE %I (
      id            bigint NOT NULL,
      price_minor   bigint,
      created_at    timestamptz,
      brand         text,
      name          text,       -- sort=name (v1)
      category_path text[],     -- category=, via search_category_keys
      attrs         jsonb,      -- attribute filters
      tsv           tsvector,   -- matching and ts_rank: documents.tsv, kept inline
      CONSTRAINT %I PRIMARY KEY (id)) WITH (fillfactor = 90)$sql$, m, m || '_pkey');
END $$;

-- The live rows of documents<suffix> into matches<suffix>, in category order.
CREATE FUNCTION search_match_fill(p_suffix text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('INSERT INTO %I (id, price_minor, created_at, brand, name, category_path, '
                 'attrs, tsv) '
                 'SELECT id, price_minor, created_at, brand, name, category_path, attrs, tsv '
                 'FROM %I WHERE NOT deleted ORDER BY category_path, brand, id',
                 'matches' || p_suffix, 'documents' || p_suffix);
END $$;

-- Secondary indexes, built after a bulk load. documents keeps only what suggest
-- (name_tsv) and the rebuild's merge (seq) read; matching runs on matches.
CREATE OR REPLACE FUNCTION search_indexes(p_suffix text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d text := 'documents' || p_suffix;
  l text := 'lexicon' || p_suffix;
  m text := 'matches' || p_suffix;
BEGIN
  EXECUTE format('CREATE INDEX %I ON %I USING gin (name_tsv)', d || '_name_tsv', d);
  EXECUTE format('CREATE INDEX %I ON %I (seq)', d || '_seq', d);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (word gin_trgm_ops)', l || '_trgm', l);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (tsv)', m || '_tsv', m);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (search_category_keys(category_path))',
                 m || '_category', m);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (attrs jsonb_path_ops)', m || '_attrs', m);
END $$;

SELECT search_match_table('');
SELECT search_match_fill('');
CREATE INDEX matches_tsv ON matches USING gin (tsv);
CREATE INDEX matches_category ON matches USING gin (search_category_keys(category_path));
CREATE INDEX matches_attrs ON matches USING gin (attrs jsonb_path_ops);
DROP INDEX documents_tsv, documents_attrs, documents_category, documents_brand, documents_price;
ANALYZE matches;

-- As in 0002, and matches follows: the row of a live product, none for a tombstone.
CREATE OR REPLACE FUNCTION search_apply(p_id bigint, p_version bigint, p_doc jsonb,
    p_deleted boolean, p_path jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  old_words text[];
  new_words text[];
BEGIN
  PERFORM 1 FROM matches m WHERE m.id = p_id FOR UPDATE;  -- first: the lock order
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
  IF p_deleted THEN
    DELETE FROM matches m WHERE m.id = p_id;
  ELSE
    INSERT INTO matches AS m (id, price_minor, created_at, brand, name, category_path, attrs,
        tsv)
    SELECT d.id, d.price_minor, d.created_at, d.brand, d.name, d.category_path, d.attrs, d.tsv
      FROM documents d WHERE d.id = p_id
    ON CONFLICT (id) DO UPDATE SET price_minor = EXCLUDED.price_minor,
        created_at = EXCLUDED.created_at, brand = EXCLUDED.brand, name = EXCLUDED.name,
        category_path = EXCLUDED.category_path, attrs = EXCLUDED.attrs, tsv = EXCLUDED.tsv;
  END IF;
  RETURN true;
END $$;

-- As in 0002, but every match is found, filtered, counted and ranked in matches; only
-- the first max(page end, p_facet_top) in order are looked up in documents, for the
-- page's summaries and the facets. matches (CTE m) comes before documents (CTE o): the
-- lock order.
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
      FROM matches d  -- live products only
     WHERE d.tsv @@ q
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

-- pg_trgm's library defines pg_trgm.similarity_threshold when it loads; until then a
-- SET of it (search_correct's below) is refused to a role that is not a superuser.
SELECT similarity('', '');

-- As in 0001, matching on matches. The query words' subquery (matches) comes before
-- the lexicon in FROM, so its lock is taken first: the lock order.
CREATE OR REPLACE FUNCTION search_correct(p_words text[])
RETURNS TABLE (i bigint, matched boolean, candidate text, similarity real)
LANGUAGE sql STABLE SET pg_trgm.similarity_threshold = 0.2 SET client_min_messages = warning AS $$
  SELECT u.i, u.matched, c.word, c.sim
    FROM (SELECT w.i, w.w,
                 CASE WHEN numnode(plainto_tsquery('english', w.w)) = 0 THEN true
                      ELSE EXISTS (SELECT 1 FROM matches m
                                    WHERE m.tsv @@ plainto_tsquery('english', w.w)) END
                   AS matched
            FROM unnest(p_words) WITH ORDINALITY AS w(w, i)) u
    LEFT JOIN LATERAL (SELECT l.word, similarity(l.word, u.w) AS sim, l.ndoc
                         FROM lexicon l WHERE l.word % u.w
                        ORDER BY 2 DESC, l.ndoc DESC, l.word LIMIT 5) c ON true
   ORDER BY u.i, c.sim DESC, c.ndoc DESC, c.word
$$;

-- ---- soukctl search rebuild: matches_new beside documents_new and lexicon_new ------------
CREATE OR REPLACE FUNCTION search_rebuild_begin() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  DROP TABLE IF EXISTS documents_new, lexicon_new, matches_new;
  PERFORM search_tables('_new');
  PERFORM search_match_table('_new');
  RETURN nextval('search_seq');
END $$;

-- finish: the lexicon and matches from the loaded documents, the indexes, statistics.
CREATE OR REPLACE FUNCTION search_rebuild_finish() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lexicon_new (word, ndoc)
  SELECT w, count(*) FROM documents_new, unnest(words) AS w GROUP BY w;
  PERFORM search_match_fill('_new');
  PERFORM search_indexes('_new');
  ANALYZE documents_new;
  ANALYZE lexicon_new;
  ANALYZE matches_new;
END $$;

-- swap, as in 0001 with matches: rows applied since the mark replace theirs in
-- documents_new and matches_new (a tombstone has no matches row), then the three
-- tables are swapped together.
CREATE OR REPLACE FUNCTION search_rebuild_swap(p_mark bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  ix record;
BEGIN
  LOCK TABLE matches, documents, lexicon IN ACCESS EXCLUSIVE MODE;  -- the lock order
  CREATE TEMP TABLE search_merge ON COMMIT DROP AS
  SELECT c.id, c.words AS new_words, coalesce(o.words, '{}') AS old_words
    FROM documents c LEFT JOIN documents_new o ON o.id = c.id
   WHERE c.seq > p_mark AND (o.id IS NULL OR o.version < c.version);
  GET DIAGNOSTICS n = ROW_COUNT;

  INSERT INTO lexicon_new AS l (word, ndoc)
  SELECT x.w, sum(x.k) FROM (SELECT unnest(m.new_words) AS w, 1 AS k FROM search_merge m
                             UNION ALL
                             SELECT unnest(m.old_words), -1 FROM search_merge m) x
   GROUP BY x.w
  ON CONFLICT (word) DO UPDATE SET ndoc = l.ndoc + EXCLUDED.ndoc;
  DELETE FROM lexicon_new WHERE ndoc <= 0;

  DELETE FROM documents_new o USING search_merge m WHERE o.id = m.id;
  INSERT INTO documents_new SELECT c.* FROM documents c JOIN search_merge m ON m.id = c.id;
  DELETE FROM matches_new o USING search_merge m WHERE o.id = m.id;
  INSERT INTO matches_new SELECT c.* FROM matches c JOIN search_merge m ON m.id = c.id;

  DROP TABLE documents, lexicon, matches;
  ALTER TABLE documents_new RENAME TO documents;
  ALTER TABLE lexicon_new RENAME TO lexicon;
  ALTER TABLE matches_new RENAME TO matches;
  FOR ix IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid IN ('documents'::regclass, 'lexicon'::regclass,
                                  'matches'::regclass) LOOP
    EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.relname,
                   regexp_replace(ix.relname, '^(documents|lexicon|matches)_new', '\1'));
  END LOOP;
  RETURN n;
END $$;
