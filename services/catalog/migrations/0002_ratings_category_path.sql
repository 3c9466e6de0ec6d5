-- 0002: the rating replica kept exactly, and the category path of product events.
--
-- Ratings: the catalog consumes reviews' review.created events (services/catalog/README.md)
-- and keeps each product's count and sum of ratings, so the document's rating
-- {average, count} is exact, never an average of rounded averages.

ALTER TABLE products
    ADD COLUMN rating_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN rating_sum   bigint NOT NULL DEFAULT 0;

-- Rows written before this migration (a backfill) carry only the rounded average: take
-- count and round(average * count), exact up to 100 reviews (the average has two
-- decimals), the nearest sum beyond. `soukctl backfill catalog` writes the exact sum.
UPDATE products
   SET rating_count = (doc #>> '{rating,count}')::bigint,
       rating_sum = least(greatest(round((doc #>> '{rating,average}')::numeric
                                         * (doc #>> '{rating,count}')::bigint)::bigint,
                                   (doc #>> '{rating,count}')::bigint),
                          5 * (doc #>> '{rating,count}')::bigint)
 WHERE jsonb_typeof(doc #> '{rating,count}') = 'number'
   AND jsonb_typeof(doc #> '{rating,average}') = 'number'
   AND (doc #>> '{rating,count}')::bigint > 0;

ALTER TABLE products ADD CONSTRAINT products_rating
    CHECK (rating_count >= 0 AND rating_sum BETWEEN rating_count AND 5 * rating_count);

-- The document's rating member for a count and sum of ratings 1..5: average =
-- round(100 * sum / count) / 100, half up, in integers (the monolith's exact DECIMAL
-- ROUND(AVG(rating) * 100), and reviews' rating_average_x100: 354 over 101 is 3.50);
-- 0 without reviews. The average is a two-decimal number, read back as the same double
-- the monolith renders (x100 / 100.0).
CREATE FUNCTION rating_doc(p_count bigint, p_sum bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'average', CASE WHEN p_count > 0
                    THEN round(((200 * p_sum + p_count) / (2 * p_count))::numeric / 100, 2)
                    ELSE 0 END,
    'count', p_count)
$$;

-- The slugs from the top-level category down to category p_id, root first: the
-- "category_path" of product events, computed when the event is written (categories
-- are never moved or deleted, so a path never goes stale). '[]' for an unknown id.
CREATE FUNCTION category_path(p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  WITH RECURSIVE up (id, parent_id, slug, depth) AS (
    SELECT c.id, c.parent_id, c.slug, 0 FROM categories c WHERE c.id = p_id
    UNION ALL
    SELECT c.id, c.parent_id, c.slug, up.depth + 1
      FROM categories c JOIN up ON c.id = up.parent_id
     WHERE up.depth < 64)
  SELECT coalesce(jsonb_agg(up.slug ORDER BY up.depth DESC), '[]'::jsonb) FROM up
$$;
