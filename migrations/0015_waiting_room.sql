-- The waiting room: an event's queue settings with the seed its pre-queue is shuffled by, and
-- one entry per account that joined. The seed is written when the queue is first configured
-- (its SHA-256 is public from then on) and shown once `shuffled_at` is set; an entry's place in
-- the served order is a function of the seed and the entries (docs/ARCHITECTURE.md), so it is
-- not stored: `seq` (arrival order) and the admission times are.
CREATE TABLE event_queues (
    event_id        uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    enabled         boolean NOT NULL,
    opens_at        timestamptz NOT NULL,
    starts_at       timestamptz NOT NULL,
    admit_minutes   integer NOT NULL CHECK (admit_minutes BETWEEN 1 AND 240),
    admit_at_once   integer NOT NULL CHECK (admit_at_once BETWEEN 1 AND 100000),
    challenge_bits  integer NOT NULL CHECK (challenge_bits BETWEEN 0 AND 24),
    seed            bytea NOT NULL CHECK (length(seed) = 32),
    shuffled_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_queues_opens_before_start CHECK (opens_at <= starts_at)
);

CREATE TRIGGER event_queues_updated_at BEFORE UPDATE ON event_queues FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE queue_entries (
    event_id        uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq             bigint NOT NULL CHECK (seq >= 0),
    joined_at       timestamptz NOT NULL,
    admitted_at     timestamptz,
    admitted_until  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, user_id),
    UNIQUE (event_id, seq),
    CONSTRAINT queue_entries_admission CHECK ((admitted_at IS NULL) = (admitted_until IS NULL))
);

CREATE TRIGGER queue_entries_updated_at BEFORE UPDATE ON queue_entries FOR EACH ROW EXECUTE FUNCTION set_updated_at();
