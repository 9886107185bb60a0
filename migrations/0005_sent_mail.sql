-- Mail already sent for a domain event, so a redelivered event does not mail twice.
CREATE TABLE sent_mail (
    id            UUID PRIMARY KEY,
    kind          TEXT NOT NULL,
    aggregate_id  UUID NOT NULL,
    recipient     TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT sent_mail_once_key UNIQUE (kind, aggregate_id)
);
CREATE TRIGGER sent_mail_updated_at BEFORE UPDATE ON sent_mail FOR EACH ROW EXECUTE FUNCTION set_updated_at();
