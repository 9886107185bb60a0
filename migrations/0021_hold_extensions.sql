-- How many times the buyer asked for more time on the hold (POST /v1/bookings/{id}/extend).
ALTER TABLE bookings ADD COLUMN extensions INT NOT NULL DEFAULT 0;
