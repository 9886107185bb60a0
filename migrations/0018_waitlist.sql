-- Waiting lists: buyers waiting for a sold-out ticket type, in the order the event's actor took
-- their joins (UUIDv7 ids). When admissions come back the actor offers them to the first entry
-- whose quantity fits, as a hold of its own (`booking_id`) in the same batch.
CREATE TABLE waitlist_entries (
    id                UUID PRIMARY KEY,
    event_id          UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    ticket_type_id    UUID NOT NULL REFERENCES ticket_types (id) ON DELETE CASCADE,
    user_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    qty               INT NOT NULL CHECK (qty > 0),
    -- waiting, offered (a hold of its own), bought (the offer was paid), lapsed (the offer ran
    -- out or was given up, or the entry could not be served), left
    status            TEXT NOT NULL DEFAULT 'waiting'
                      CHECK (status IN ('waiting', 'offered', 'bought', 'lapsed', 'left')),
    booking_id        UUID REFERENCES bookings (id) ON DELETE SET NULL,
    offered_at        TIMESTAMPTZ,
    offer_expires_at  TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- one entry per account and ticket type while it waits or holds its offer
CREATE UNIQUE INDEX waitlist_one_per_account ON waitlist_entries (ticket_type_id, user_id)
    WHERE status IN ('waiting', 'offered');
CREATE INDEX waitlist_event_idx ON waitlist_entries (event_id, status, id);
CREATE INDEX waitlist_booking_idx ON waitlist_entries (booking_id) WHERE booking_id IS NOT NULL;
CREATE INDEX waitlist_user_idx ON waitlist_entries (user_id, id);
