-- The catalogue's pages at the size of a real catalogue: `/assets` reads a page through an index
-- in the order of its sort, and `/assets/facets` counts plain columns instead of taking every
-- matching document apart.

-- A document's license and tags, derived when it is stored (like `encrypted`): the license when it
-- is a string of at most 128 bytes, the strings of at most 64 bytes of the tags list in document
-- order, each once, the first 20 of them (as many as `agora asset publish` takes). The GIN index
-- serves the tag filter.
ALTER TABLE asset_metadata
    ADD COLUMN license TEXT,
    ADD COLUMN tags TEXT[];

-- The documents stored so far, the same way, so that the filters and facets are right from the
-- first request; the metadata loop then derives them again (derived version 3) with the
-- indexer's own code.
UPDATE asset_metadata m SET
    license = CASE WHEN jsonb_typeof(m.document->'license') = 'string'
                    AND octet_length(m.document->>'license') <= 128
                   THEN m.document->>'license' END,
    tags = COALESCE((
        SELECT array_agg(t.tag ORDER BY t.first)
        FROM (SELECT e #>> '{}' AS tag, min(i) AS first
              FROM jsonb_array_elements(CASE jsonb_typeof(m.document->'tags')
                                        WHEN 'array' THEN m.document->'tags' ELSE '[]'::jsonb END)
                   WITH ORDINALITY AS x(e, i)
              WHERE jsonb_typeof(e) = 'string' AND octet_length(e #>> '{}') <= 64
              GROUP BY 1
              ORDER BY first
              LIMIT 20) t
    ), '{}')
WHERE m.status = 'ok' AND m.document IS NOT NULL;

CREATE INDEX asset_metadata_tags ON asset_metadata USING GIN (tags);
-- What the facets read of a document, beside its CID: they join every matching asset's
-- metadata, and read it from this index alone (once vacuumed) instead of from the table's rows,
-- which hold the whole document and its search vector. The bounds above keep an entry within a
-- B-tree's 2704 bytes.
CREATE INDEX asset_metadata_facets ON asset_metadata (cid) INCLUDE (encrypted, license, tags);

-- The price sorts read listings by (price, asset id): the asset id breaks ties, and a page's
-- cursor is both.
DROP INDEX listings_by_price;
CREATE INDEX listings_by_price ON listings (chain_id, price, asset_id);
