-- Promo codes: a discount (percent or fixed, per ticket) on some or all of an event's ticket
-- types, valid in a window, with a total and a per-account limit, and hidden ticket types it
-- puts on sale. Its uses are counted by the event's actor (the bookings holding or owning
-- admissions with it); the booking names the code it used.
CREATE TABLE promo_codes (
    id               UUID PRIMARY KEY,
    event_id         UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- as the organizer typed it; matched without regard to case
    code             TEXT NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{1,40}$'),
    percent_off      INT NOT NULL DEFAULT 0 CHECK (percent_off BETWEEN 0 AND 100),
    amount_off       BIGINT NOT NULL DEFAULT 0 CHECK (amount_off >= 0),
    valid_from       TIMESTAMPTZ,
    valid_until      TIMESTAMPTZ,
    -- the types it discounts; empty: all
    ticket_type_ids  UUID[] NOT NULL DEFAULT '{}',
    -- hidden types it puts on sale
    unlocks          UUID[] NOT NULL DEFAULT '{}',
    max_uses         INT CHECK (max_uses > 0),
    max_per_account  INT CHECK (max_per_account > 0),
    active           BOOLEAN NOT NULL DEFAULT true,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT promo_codes_window CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);
CREATE UNIQUE INDEX promo_codes_code_key ON promo_codes (event_id, lower(code));

ALTER TABLE bookings ADD COLUMN promo_code_id UUID REFERENCES promo_codes (id) ON DELETE SET NULL;
CREATE INDEX bookings_promo_idx ON bookings (promo_code_id) WHERE promo_code_id IS NOT NULL;
