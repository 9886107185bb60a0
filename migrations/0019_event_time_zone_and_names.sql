-- The event's IANA time zone, in which the site and the mail show its times (events made before
-- it was asked for are in UTC), and whether the organizer asks a name for each ticket.
ALTER TABLE events
    ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC',
    ADD COLUMN attendee_names BOOLEAN NOT NULL DEFAULT false;

-- The names given with the booking's information, one per admission in admission order; each
-- ticket carries its own once issued.
ALTER TABLE booking_users ADD COLUMN attendees TEXT[];
ALTER TABLE tickets ADD COLUMN attendee_name TEXT;
