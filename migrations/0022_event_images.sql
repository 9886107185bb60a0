-- An event's image as the organizer uploaded it, served by any node at /v1/events/{id}/image.
CREATE TABLE event_images (
    event_id     UUID PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    -- hex SHA-256 of the bytes: the ETag, and the version in the banner's address
    sha256       TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
