-- Commerce after the sale: refunds of sold tickets (an organizer's, a buyer's within the event's
-- policy, or every paid booking of a cancelled event), and tickets that change hands.
--
-- A refund voids the tickets it names and gives their admissions back through the event's
-- actor, which records them as `returned` on the booking's items (the engine reloads
-- `qty - returned`); a booking with nothing left is `refunded`. The money goes back through the
-- provider as its own row, retried, and `failed` once the attempts run out.
ALTER TABLE events ADD COLUMN refund_until TIMESTAMPTZ;

ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
    CHECK (status IN ('held', 'pending_payment', 'confirmed', 'expired', 'cancelled', 'refunded'));

ALTER TABLE booking_items ADD COLUMN returned INT NOT NULL DEFAULT 0;
ALTER TABLE booking_items ADD CONSTRAINT booking_items_returned_check
    CHECK (returned >= 0 AND returned <= qty);

CREATE TABLE refunds (
    id            UUID PRIMARY KEY,
    booking_id    UUID NOT NULL REFERENCES bookings (id) ON DELETE RESTRICT,
    payment_id    UUID NOT NULL REFERENCES payments (id) ON DELETE RESTRICT,
    event_id      UUID NOT NULL REFERENCES events (id) ON DELETE RESTRICT,
    -- the buyer, who gets the money back
    user_id       UUID NOT NULL REFERENCES users (id),
    amount        BIGINT NOT NULL CHECK (amount >= 0),
    currency      TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- who asked: the organizer, the buyer, or the event's cancellation
    requested_by  TEXT NOT NULL CHECK (requested_by IN ('organizer', 'buyer', 'event_cancelled')),
    reason        TEXT NOT NULL,
    tickets       UUID[] NOT NULL,
    attempts      INT NOT NULL DEFAULT 0,
    last_error    TEXT,
    refunded_at   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refunds_event_idx ON refunds (event_id, status, id);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);

-- A transferred ticket stays as it was, `transferred`, its code refused; the new holder's
-- ticket is a new row (a new id, so a new code) for the same admission. The new holder may have
-- no account yet: the ticket waits under `holder_email` and is theirs when they register.
ALTER TABLE tickets DROP CONSTRAINT tickets_status_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_status_check
    CHECK (status IN ('valid', 'checked_in', 'void', 'transferred'));
ALTER TABLE tickets ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE tickets ADD COLUMN holder_email TEXT;
ALTER TABLE tickets ADD COLUMN transferred_from UUID REFERENCES tickets (id);
ALTER TABLE tickets ADD COLUMN refund_id UUID REFERENCES refunds (id);
ALTER TABLE tickets ADD CONSTRAINT tickets_holder_check CHECK (user_id IS NOT NULL OR holder_email IS NOT NULL);
ALTER TABLE tickets DROP CONSTRAINT tickets_admission_key;
CREATE UNIQUE INDEX tickets_admission_key ON tickets (booking_id, admission_no) WHERE status <> 'transferred';
CREATE INDEX tickets_holder_email_idx ON tickets (lower(holder_email)) WHERE user_id IS NULL;
