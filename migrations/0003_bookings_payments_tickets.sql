-- Bookings and what follows them: payments, tickets, the outbox, engine snapshots, notifications,
-- idempotency keys. The engine decides; these constraints make a double sale impossible even if
-- it had a bug.

CREATE TABLE bookings (
    id            UUID PRIMARY KEY,
    event_id      UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id),
    booking_code  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('held', 'pending_payment', 'confirmed', 'expired', 'cancelled')),
    held_at       TIMESTAMPTZ NOT NULL,
    expired_at    TIMESTAMPTZ NOT NULL,
    total_price   BIGINT NOT NULL CHECK (total_price >= 0),
    currency      TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    number_seats  INT NOT NULL CHECK (number_seats > 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT bookings_hold_window CHECK (held_at < expired_at)
);
CREATE UNIQUE INDEX bookings_code_key ON bookings (booking_code);
CREATE INDEX bookings_user_idx ON bookings (user_id, id);
CREATE INDEX bookings_event_status_idx ON bookings (event_id, status);

CREATE TABLE booking_items (
    id              UUID PRIMARY KEY,
    booking_id      UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    ticket_type_id  UUID NOT NULL REFERENCES ticket_types (id),
    qty             INT NOT NULL CHECK (qty > 0),
    -- unit price at the time of the hold
    price           BIGINT NOT NULL CHECK (price >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX booking_items_booking_idx ON booking_items (booking_id);
CREATE INDEX booking_items_ticket_type_idx ON booking_items (ticket_type_id);

CREATE TABLE booking_users (
    id            UUID PRIMARY KEY,
    booking_id    UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id),
    email         TEXT NOT NULL,
    number_phone  TEXT,
    address       TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT booking_users_booking_key UNIQUE (booking_id)
);

CREATE TABLE booking_seats (
    id              UUID PRIMARY KEY,
    booking_id      UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    seat_id         UUID NOT NULL REFERENCES seats (id),
    ticket_type_id  UUID NOT NULL REFERENCES ticket_types (id),
    -- true while the booking is held, pending payment or confirmed
    active          BOOLEAN NOT NULL DEFAULT true,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- invariant 2: a seat belongs to at most one active booking
CREATE UNIQUE INDEX booking_seats_active_key ON booking_seats (seat_id) WHERE active;
CREATE INDEX booking_seats_booking_idx ON booking_seats (booking_id);

CREATE TABLE payments (
    id              UUID PRIMARY KEY,
    payment_code    TEXT NOT NULL,
    user_id         UUID NOT NULL REFERENCES users (id),
    booking_id      UUID NOT NULL REFERENCES bookings (id) ON DELETE RESTRICT,
    transaction_id  TEXT,
    price           BIGINT NOT NULL CHECK (price >= 0),
    currency        TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    method          TEXT NOT NULL CHECK (method IN ('card', 'bank_transfer', 'ewallet')),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded', 'flagged')),
    provider        TEXT NOT NULL,
    checkout_url    TEXT,
    paid_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX payments_code_key ON payments (payment_code);
CREATE UNIQUE INDEX payments_transaction_key ON payments (provider, transaction_id) WHERE transaction_id IS NOT NULL;
-- invariant 4: one succeeded payment per booking
CREATE UNIQUE INDEX payments_one_success_key ON payments (booking_id) WHERE status = 'succeeded';
CREATE INDEX payments_user_idx ON payments (user_id, id);

CREATE TABLE tickets (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id),
    booking_id      UUID NOT NULL REFERENCES bookings (id) ON DELETE RESTRICT,
    payment_id      UUID NOT NULL REFERENCES payments (id),
    event_id        UUID NOT NULL REFERENCES events (id) ON DELETE RESTRICT,
    ticket_type_id  UUID NOT NULL REFERENCES ticket_types (id),
    seat_id         UUID REFERENCES seats (id),
    -- which admission of the booking this is (1..number_seats): one ticket per admission
    admission_no    INT NOT NULL CHECK (admission_no > 0),
    code            TEXT NOT NULL,
    qr_url          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'checked_in', 'void')),
    checked_in_at   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT tickets_admission_key UNIQUE (booking_id, admission_no)
);
CREATE UNIQUE INDEX tickets_code_key ON tickets (code);
CREATE INDEX tickets_user_idx ON tickets (user_id, id);
CREATE INDEX tickets_event_idx ON tickets (event_id);

-- Domain events written in the same transaction as the change that causes them, delivered at
-- least once by the dispatcher.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    subject         TEXT NOT NULL,
    aggregate_id    UUID NOT NULL,
    payload         JSONB NOT NULL,
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL;

-- An event actor's inventory as of a journal position; recovery reads the newest one and
-- replays the bookings changed after it.
CREATE TABLE inventory_snapshots (
    id          UUID PRIMARY KEY,
    event_id    UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    state       JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT inventory_snapshots_version_key UNIQUE (event_id, version)
);

CREATE TABLE notifications (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL DEFAULT '',
    data        JSONB NOT NULL DEFAULT '{}',
    read_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);

-- The first answer to a POST carrying an Idempotency-Key, replayed for 24 hours.
CREATE TABLE idempotency_keys (
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key              TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    endpoint         TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    response_status  INT,
    response_body    JSONB,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TRIGGER bookings_updated_at BEFORE UPDATE ON bookings FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER booking_items_updated_at BEFORE UPDATE ON booking_items FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER booking_users_updated_at BEFORE UPDATE ON booking_users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER booking_seats_updated_at BEFORE UPDATE ON booking_seats FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER payments_updated_at BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER tickets_updated_at BEFORE UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER outbox_updated_at BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER inventory_snapshots_updated_at BEFORE UPDATE ON inventory_snapshots FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER notifications_updated_at BEFORE UPDATE ON notifications FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER idempotency_keys_updated_at BEFORE UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION set_updated_at();
