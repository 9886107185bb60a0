-- A delivery that cannot succeed becomes a dead letter instead of being retried forever: the
-- row stays in the outbox, out of the dispatcher's way, with who refused it and why, until an
-- admin replays it (GET /v1/admin/dead_letters, POST /v1/admin/dead_letters/{id}/replay).
ALTER TABLE outbox
    ADD COLUMN dead_at       TIMESTAMPTZ,
    ADD COLUMN dead_consumer TEXT,
    ADD COLUMN last_error    TEXT,
    ADD COLUMN replays       INT NOT NULL DEFAULT 0;
DROP INDEX outbox_pending_idx;
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_dead_idx ON outbox (id) WHERE dead_at IS NOT NULL;

-- A mail is claimed (committed) before it is sent and marked sent after, so no transaction
-- stays open while the mail server is talked to; a claim without `sent_at` is sent again.
ALTER TABLE sent_mail ADD COLUMN sent_at TIMESTAMPTZ;
UPDATE sent_mail SET sent_at = created_at;
