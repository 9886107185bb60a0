-- The login throttle's counters, shared by every process serving the API (src/auth/throttle.rs):
-- failures per account from one address, per address, and per account, each over a fixed window
-- that starts with its first failure. `subject` is the SHA-256 (hex) of what is counted, so the
-- table holds no email addresses and a key has a fixed size whatever a client sends.
CREATE TABLE login_attempts (
    kind               TEXT NOT NULL CHECK (kind IN ('account_address', 'address', 'account')),
    subject            TEXT NOT NULL,
    window_started_at  TIMESTAMPTZ NOT NULL,
    failures           INTEGER NOT NULL CHECK (failures >= 0),
    -- per account, past its free failures: when it may be tried next
    next_attempt_at    TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subject)
);
-- finished windows are swept by age
CREATE INDEX login_attempts_window_idx ON login_attempts (window_started_at);

CREATE TRIGGER login_attempts_updated_at BEFORE UPDATE ON login_attempts FOR EACH ROW EXECUTE FUNCTION set_updated_at();
