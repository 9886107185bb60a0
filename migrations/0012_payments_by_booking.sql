-- Every read of a booking looks up its payments by booking_id (its latest payment, and whether
-- it is paid), and so do checkout and the webhook; only partial indexes covered the column, so
-- those lookups scanned the whole table and grew slower with every payment taken.
CREATE INDEX payments_booking_idx ON payments (booking_id, id);
