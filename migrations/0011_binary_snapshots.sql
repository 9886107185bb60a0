-- Snapshots in a compact binary encoding (postcard): a 100,000-hold event's snapshot was about
-- 20 MB of JSON that PostgreSQL parsed into JSONB while the journal committed beside it. Older
-- rows keep their JSON `state`; recovery reads whichever a row has.
ALTER TABLE inventory_snapshots ADD COLUMN encoded BYTEA;
ALTER TABLE inventory_snapshots ALTER COLUMN state DROP NOT NULL;
ALTER TABLE inventory_snapshots ADD CONSTRAINT inventory_snapshots_has_state
    CHECK (state IS NOT NULL OR encoded IS NOT NULL);
