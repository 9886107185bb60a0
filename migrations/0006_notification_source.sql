-- The outbox row a notification was made from, so a redelivered event does not notify twice.
ALTER TABLE notifications ADD COLUMN outbox_id BIGINT;
CREATE UNIQUE INDEX notifications_outbox_key ON notifications (outbox_id);
