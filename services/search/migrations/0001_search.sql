-- soukctl: supersedes 9dc958157a19b4d83530fb89533efa2e3f1e3963945e25bf5547490c6b6e0773
-- (the revision that created outbox and inbox here; they are lib/migrations/0001_backbone.sql
-- now, applied IF NOT EXISTS before this file, so a database that ran it is the same.)
-- 0001_search.sql - the search projection of the catalog (services/search/README.md).
-- Everything here is built from catalog events only. The doc -> row transform is
-- search_project(); the consumer (search_apply) and `soukctl search rebuild`
-- (search_rebuild_*) both go through it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Every applied event takes a number; a rebuild remembers the number it started
-- at and merges only rows applied after it (documents.seq is indexed).
CREATE SEQUENCE search_seq;

-- documents<suffix> and lexicon<suffix> with their primary keys; the migration
-- makes the live pair, a rebuild makes the "_new" pair and swaps it in.
CREATE FUNCTION search_tables(p_suffix text) RETURNS void LANGUAGE plpgsql AS $$
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
      CONSTRAINT %I PRIMARY KEY (id))$sql$, d, d || '_pkey');
  EXECUTE format('CREATE TABLE %I (word text NOT NULL, ndoc integer NOT NULL, '
                 'CONSTRAINT %I PRIMARY KEY (word))', l, l || '_pkey');
END $$;

-- Secondary indexes, built after a bulk load for speed.
CREATE FUNCTION search_indexes(p_suffix text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d text := 'documents' || p_suffix;
  l text := 'lexicon' || p_suffix;
BEGIN
  EXECUTE format('CREATE INDEX %I ON %I USING gin (tsv)', d || '_tsv', d);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (name_tsv)', d || '_name_tsv', d);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (attrs jsonb_path_ops)', d || '_attrs', d);
  EXECUTE format('CREATE INDEX %I ON %I (category_slug)', d || '_category', d);
  EXECUTE format('CREATE INDEX %I ON %I (brand)', d || '_brand', d);
  EXECUTE format('CREATE INDEX %I ON %I (price_minor)', d || '_price', d);
  EXECUTE format('CREATE INDEX %I ON %I (seq)', d || '_seq', d);
  EXECUTE format('CREATE INDEX %I ON %I USING gin (word gin_trgm_ops)', l || '_trgm', l);
END $$;

SELECT search_tables('');
SELECT search_indexes('');

-- Lower-case words of 3..32 letters from name, brand, category and string
-- attribute values: the vocabulary a misspelt query word is corrected to.
CREATE FUNCTION search_words(p_text text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(array_agg(DISTINCT w ORDER BY w), '{}')
  FROM regexp_split_to_table(lower(coalesce(p_text, '')), '[^[:alpha:]]+') AS w
  WHERE length(w) BETWEEN 3 AND 32
$$;

-- The one doc -> row transform. A tombstone (p_deleted) keeps only id and version.
CREATE FUNCTION search_project(p_id bigint, p_doc jsonb, p_deleted boolean,
    OUT doc jsonb, OUT name text, OUT brand text, OUT category_id bigint,
    OUT category_slug text, OUT category_name text, OUT price_minor bigint, OUT currency text,
    OUT created_at timestamptz, OUT attrs jsonb, OUT summary text, OUT words text[],
    OUT tsv tsvector, OUT name_tsv tsvector)
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
           to_tsvector('simple', concat_ws(' ', a.doc->>'name', a.doc->>'brand')) END
  FROM a
$$;

-- Keep lexicon's document counts: one document's words went from p_old to p_new.
CREATE FUNCTION search_lexicon_move(p_old text[], p_new text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE lexicon l SET ndoc = l.ndoc - 1
   WHERE l.word = ANY (ARRAY(SELECT unnest(p_old) EXCEPT SELECT unnest(p_new)));
  DELETE FROM lexicon l WHERE l.ndoc <= 0 AND l.word = ANY (p_old);
  INSERT INTO lexicon AS l (word, ndoc)
  SELECT w, 1 FROM (SELECT unnest(p_new) EXCEPT SELECT unnest(p_old)) x(w)
  ON CONFLICT (word) DO UPDATE SET ndoc = l.ndoc + 1;
END $$;

-- Apply one product event: only a newer version changes anything, so
-- duplicates and reordering are harmless. True when the row changed.
CREATE FUNCTION search_apply(p_id bigint, p_version bigint, p_doc jsonb, p_deleted boolean)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  old_words text[];
  new_words text[];
BEGIN
  SELECT d.words INTO old_words FROM documents d WHERE d.id = p_id FOR UPDATE;
  INSERT INTO documents AS d (id, version, deleted, seq, doc, name, brand, category_id,
      category_slug, category_name, price_minor, currency, created_at, attrs, summary, words,
      tsv, name_tsv)
  SELECT p_id, p_version, p_deleted, nextval('search_seq'), f.doc, f.name, f.brand,
         f.category_id, f.category_slug, f.category_name, f.price_minor, f.currency,
         f.created_at, f.attrs, f.summary, f.words, f.tsv, f.name_tsv
    FROM search_project(p_id, p_doc, p_deleted) f
  ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, deleted = EXCLUDED.deleted,
      seq = EXCLUDED.seq, doc = EXCLUDED.doc, name = EXCLUDED.name, brand = EXCLUDED.brand,
      category_id = EXCLUDED.category_id, category_slug = EXCLUDED.category_slug,
      category_name = EXCLUDED.category_name, price_minor = EXCLUDED.price_minor,
      currency = EXCLUDED.currency, created_at = EXCLUDED.created_at, attrs = EXCLUDED.attrs,
      summary = EXCLUDED.summary, words = EXCLUDED.words, tsv = EXCLUDED.tsv,
      name_tsv = EXCLUDED.name_tsv
    WHERE d.version < EXCLUDED.version
  RETURNING d.words INTO new_words;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM search_lexicon_move(coalesce(old_words, '{}'), new_words);
  RETURN true;
END $$;

-- One search: the total, one page of v1 summaries and, when p_facet_top > 0,
-- facet counts over the first p_facet_top matches in result order (a bound,
-- so a broad query costs the same as a narrow one). p_query is tsquery text
-- built by the service from plain words; p_buckets are price bucket bounds.
-- Rows: ('total', n) first, then ('item', id, summary, pos), then facets as
-- (kind, value, label, count).
CREATE FUNCTION search_run(p_query text, p_category text, p_brand text, p_min bigint,
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
       AND (p_category IS NULL OR d.category_slug = p_category)
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

-- For each query word (numbered from 1): does it match any document, and the
-- lexicon words most similar to it, best first (trigrams; the GIN index serves
-- the % filter at this threshold). One row per candidate, or one row with a
-- NULL candidate. The service picks among them (search.c).
CREATE FUNCTION search_correct(p_words text[])
RETURNS TABLE (i bigint, matched boolean, candidate text, similarity real)
LANGUAGE sql STABLE SET pg_trgm.similarity_threshold = 0.2 SET client_min_messages = warning AS $$
  SELECT u.i,
         CASE WHEN numnode(plainto_tsquery('english', u.w)) = 0 THEN true
              ELSE EXISTS (SELECT 1 FROM documents d
                            WHERE d.tsv @@ plainto_tsquery('english', u.w)) END,
         c.word, c.sim
    FROM unnest(p_words) WITH ORDINALITY AS u(w, i)
    LEFT JOIN LATERAL (SELECT l.word, similarity(l.word, u.w) AS sim, l.ndoc
                         FROM lexicon l WHERE l.word % u.w
                        ORDER BY 2 DESC, l.ndoc DESC, l.word LIMIT 5) c ON true
   ORDER BY u.i, c.sim DESC, c.ndoc DESC, c.word
$$;

-- ---- soukctl search rebuild -------------------------------------------------------------
-- begin: fresh documents_new/lexicon_new; returns the search_seq mark (rows
-- applied after it are merged at the swap).
CREATE FUNCTION search_rebuild_begin() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  DROP TABLE IF EXISTS documents_new, lexicon_new;
  PERFORM search_tables('_new');
  RETURN nextval('search_seq');
END $$;

-- load: one batch, a JSON array of {"id","version","deleted","doc"}.
CREATE FUNCTION search_rebuild_load(p_batch jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  INSERT INTO documents_new AS d (id, version, deleted, doc, name, brand, category_id,
      category_slug, category_name, price_minor, currency, created_at, attrs, summary, words,
      tsv, name_tsv)
  SELECT b.id, b.version, b.deleted, f.doc, f.name, f.brand, f.category_id, f.category_slug,
         f.category_name, f.price_minor, f.currency, f.created_at, f.attrs, f.summary, f.words,
         f.tsv, f.name_tsv
    FROM jsonb_to_recordset(p_batch) AS b(id bigint, version bigint, deleted boolean, doc jsonb)
   CROSS JOIN LATERAL search_project(b.id, b.doc, coalesce(b.deleted, false)) f
  ON CONFLICT (id) DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- finish: the lexicon from the loaded words, the secondary indexes, statistics.
CREATE FUNCTION search_rebuild_finish() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lexicon_new (word, ndoc)
  SELECT w, count(*) FROM documents_new, unnest(words) AS w GROUP BY w;
  PERFORM search_indexes('_new');
  ANALYZE documents_new;
  ANALYZE lexicon_new;
END $$;

-- swap, in one transaction: lock the live tables (the consumer waits, readers
-- wait a moment), merge rows applied since the mark when newer, drop the old
-- tables and rename the new ones with their indexes. Returns rows merged.
CREATE FUNCTION search_rebuild_swap(p_mark bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  ix record;
BEGIN
  LOCK TABLE documents, lexicon IN ACCESS EXCLUSIVE MODE;
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

  DROP TABLE documents, lexicon;
  ALTER TABLE documents_new RENAME TO documents;
  ALTER TABLE lexicon_new RENAME TO lexicon;
  FOR ix IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid IN ('documents'::regclass, 'lexicon'::regclass) LOOP
    EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.relname,
                   regexp_replace(ix.relname, '^(documents|lexicon)_new', '\1'));
  END LOOP;
  RETURN n;
END $$;
