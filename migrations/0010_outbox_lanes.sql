-- Each consumed subject is delivered in a lane of its own, which reads its pending rows by
-- subject; rows of subjects nobody consumes are swept by id (outbox_pending_idx).
CREATE INDEX outbox_pending_subject_idx ON outbox (subject, id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
