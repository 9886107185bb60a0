-- Catalog: events, their ticket types and, for seat-mapped types, the seats.

CREATE TABLE events (
    id            UUID PRIMARY KEY,
    organizer_id  UUID NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    title         TEXT NOT NULL DEFAULT '' CHECK (length(title) <= 300),
    description   TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    category      TEXT NOT NULL CHECK (category IN ('music', 'concert', 'sports', 'film', 'other')),
    start_at      TIMESTAMPTZ NOT NULL,
    end_at        TIMESTAMPTZ NOT NULL,
    banner        TEXT CHECK (length(banner) <= 2048),
    location      TEXT NOT NULL DEFAULT '' CHECK (length(location) <= 300),
    status        TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'cancelled')),
    published_at  TIMESTAMPTZ,
    search        TSVECTOR GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', name), 'A')
                   || setweight(to_tsvector('english', title), 'B')
                   || setweight(to_tsvector('english', location), 'B')
                   || setweight(to_tsvector('english', description), 'C')
                  ) STORED,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT events_start_before_end CHECK (start_at < end_at)
);
CREATE INDEX events_search_idx ON events USING GIN (search);
-- the public listing: published events by start time, keyset on (start_at, id)
CREATE INDEX events_published_idx ON events (start_at, id) WHERE status = 'published';
CREATE INDEX events_organizer_idx ON events (organizer_id, start_at, id);

CREATE TABLE ticket_types (
    id            UUID PRIMARY KEY,
    event_id      UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    position      INT NOT NULL DEFAULT 0,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    image_url     TEXT CHECK (length(image_url) <= 2048),
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'hidden')),
    -- capacity (the API's number_seats)
    qty           INT NOT NULL CONSTRAINT ticket_types_capacity_positive CHECK (qty > 0),
    price         BIGINT NOT NULL CONSTRAINT ticket_types_price_not_negative CHECK (price >= 0),
    currency      TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    sale_at       TIMESTAMPTZ,
    sale_end      TIMESTAMPTZ,
    seat_mapped   BOOLEAN NOT NULL DEFAULT false,
    max_per_user  INT CHECK (max_per_user > 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ticket_types_sale_window CHECK (sale_at IS NULL OR sale_end IS NULL OR sale_at < sale_end)
);
CREATE INDEX ticket_types_event_idx ON ticket_types (event_id, position, id);

CREATE TABLE seats (
    id              UUID PRIMARY KEY,
    event_id        UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    ticket_type_id  UUID NOT NULL REFERENCES ticket_types (id) ON DELETE CASCADE,
    section         TEXT NOT NULL CHECK (length(section) BETWEEN 1 AND 50),
    row_label       TEXT NOT NULL CHECK (length(row_label) BETWEEN 1 AND 20),
    seat_label      TEXT NOT NULL CHECK (length(seat_label) BETWEEN 1 AND 20),
    -- order of the row in the map, and of the seat in its row: seats whose positions differ by
    -- one in the same row are adjacent
    row_index       INT NOT NULL,
    position        INT NOT NULL,
    -- lower is better; "best available" picks the lowest ranks first
    rank            INT NOT NULL CHECK (rank >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT seats_place_key UNIQUE (event_id, section, row_label, seat_label)
);
CREATE INDEX seats_ticket_type_idx ON seats (ticket_type_id, row_index, position);

CREATE TRIGGER events_updated_at BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER ticket_types_updated_at BEFORE UPDATE ON ticket_types FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER seats_updated_at BEFORE UPDATE ON seats FOR EACH ROW EXECUTE FUNCTION set_updated_at();
