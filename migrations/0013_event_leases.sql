-- Cluster mode: each event is owned by one node at a time through a lease with an increasing
-- epoch (the fencing token). Every journal commit and snapshot of an event calls
-- boxoffice_fence in its own statement or transaction, so a node whose lease was taken over
-- (paused, cut off) can never write for the event again. Rows are never deleted: a released
-- lease only ends (expires_at in the past), so the next owner's epoch is still higher.
CREATE TABLE event_leases (
    event_id    uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    node_id     text NOT NULL,
    -- one per process start, so a node restarted under the same name does not inherit the
    -- leases of the process that died
    incarnation uuid NOT NULL,
    url         text NOT NULL,
    epoch       bigint NOT NULL CHECK (epoch > 0),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER event_leases_updated_at BEFORE UPDATE ON event_leases FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE INDEX event_leases_incarnation_idx ON event_leases (incarnation);

-- Passes when `held_epoch` is still the event's epoch, and keeps the lease row share-locked
-- until the caller's transaction ends, so a takeover (which raises the epoch) waits for a
-- commit in flight and every commit after it is refused. SQLSTATE BXF01 tells the server the
-- commit was fenced.
CREATE FUNCTION boxoffice_fence(event uuid, held_epoch bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM event_leases WHERE event_id = event AND epoch = held_epoch FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % is no longer owned under epoch %', event, held_epoch
            USING ERRCODE = 'BXF01';
    END IF;
    RETURN true;
END
$$;

-- The outbox relay runs on one node at a time: the node holding this lease. (A relay that was
-- paused and comes back may publish a round twice; the stream's duplicate window drops it.)
CREATE TABLE relay_leases (
    name        text PRIMARY KEY,
    node_id     text NOT NULL,
    incarnation uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER relay_leases_updated_at BEFORE UPDATE ON relay_leases FOR EACH ROW EXECUTE FUNCTION set_updated_at();
