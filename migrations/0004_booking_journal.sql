-- The bookings table is the engine's journal: every batch an event actor commits stamps the
-- bookings it changed with the batch's version, so recovery reads the newest snapshot and then
-- only the bookings changed after it.
ALTER TABLE bookings ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX bookings_event_version_idx ON bookings (event_id, version);

-- The payment method the buyer chose at checkout (the payment row comes after it).
ALTER TABLE bookings ADD COLUMN payment_method TEXT
    CHECK (payment_method IN ('card', 'bank_transfer', 'ewallet'));
