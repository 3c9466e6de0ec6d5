-- 0002_v1_json_uncompressed.sql - "my orders" sends v1_json as stored, so keep it as stored.
-- A row is ~1.7 KB (facts, v1 and v2 JSON); about one in five passed PostgreSQL's 2 KB toast
-- threshold and had v1_json pglz-compressed in place, so every read of such a page decompressed
-- it again (pglz_decompress was ~4 % of PostgreSQL's time under the my-orders bench). EXTERNAL:
-- never compressed; the other text columns (v2_json first, the largest) are compressed before
-- v1_json would be moved out of line, which happens only for a row still too large after that.
-- Rows written from now on (applies, the backfill, a rebuild's table, made LIKE this one).
ALTER TABLE order_rows ALTER COLUMN v1_json SET STORAGE EXTERNAL;
